"""The one byte-level DICOM layer: the strict element reader
(app/dicom/elements.py), the header reading built on it (the importer's and
the network intake's), the byte-level de-identification's use of it, and the
one File Meta writer (app/dicom/meta.py)."""

from __future__ import annotations

import io
import struct

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.sequence import Sequence

from app.deid import Deidentifier, Profile
from app.deid.raw import RawDeidentifier
from app.deid.raw_parse import Refused, refuse_unsound
from app.dicom import element_rules, files, meta
from app.dicom.reading import Unreadable, read_header, read_header_in_memory
from app.importing.importer import Preparer
from app.importing.sources import Source
from tests.factories import ct_dataset, pydicom_test_files

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def encoded(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def outcome(read, source) -> object:
    try:
        return read(source)
    except Unreadable as e:
        return f"refused: {e}"


def every_way(tmp_path, data: bytes) -> list:
    """read_header from a path and from bytes, and the intake's in-memory read."""
    path = tmp_path / "f.dcm"
    path.write_bytes(data)
    return [outcome(read_header, path), outcome(read_header, data),
            outcome(read_header_in_memory, data), outcome(read_header_in_memory, memoryview(data))]


def nested(depth: int) -> bytes:
    """A CT whose ContentSequence nests *depth* undefined-length sequences."""
    data = encoded(ct_dataset(patient_id="DEEP"))
    at = data.index(b"\xe0\x7f\x10\x00")
    opening = (struct.pack("<HH2s2xL", 0x0040, 0xA730, b"SQ", 0xFFFFFFFF)
               + struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF))
    closing = struct.pack("<HHL", 0xFFFE, 0xE00D, 0) + struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
    leaf = struct.pack("<HH2sH", 0x0008, 0x0100, b"SH", 2) + b"X "
    return data[:at] + opening * depth + leaf + closing * depth + data[at:]


# -- item 12: disk and network decide alike --------------------------------------------------


def test_a_valid_200_deep_image_is_read_alike_from_disk_and_from_memory(tmp_path):
    data = nested(200)
    # pydicom itself recurses too deep for this valid file
    with pytest.raises(RecursionError):
        pydicom.dcmread(io.BytesIO(data))
    results = every_way(tmp_path, data)
    assert all(r == results[0] for r in results)
    assert not isinstance(results[0], str), results[0]
    assert results[0].patient["patient_id"] == "DEEP"


def test_nesting_past_the_limit_is_refused_alike_naming_where(tmp_path):
    results = every_way(tmp_path, nested(element_rules.MAX_DEPTH + 1))
    assert all(r == results[0] for r in results)
    assert results[0].startswith("refused: malformed: (0040,A730) ContentSequence at byte ")
    assert f"deeper than {element_rules.MAX_DEPTH}" in results[0]


def test_a_character_set_encoded_as_us_is_refused_alike_naming_it(tmp_path):
    data = encoded(ct_dataset(patient_id="CS"))
    at = data.index(b"\x08\x00\x16\x00")  # SOP Class UID: (0008,0005) goes before it
    data = data[:at] + struct.pack("<HH2sH", 8, 5, b"US", 2) + struct.pack("<H", 100) + data[at:]
    results = every_way(tmp_path, data)
    assert all(r == results[0] for r in results)
    assert results[0] == f"refused: malformed: (0008,0005) SpecificCharacterSet at byte {at} has VR US, not CS"


def test_the_importer_and_the_intake_prepare_alike(home, tmp_path):
    """Preparer.prepare (a file) and Preparer.prepare_data (received bytes)."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    preparer = Preparer("copy", scratch, home.db_path)
    for name, data in (("deep", nested(200)), ("cut", nested(3)[:-300])):
        path = tmp_path / f"{name}.dcm"
        path.write_bytes(data)
        from_disk = preparer.prepare(Source(str(path), path))
        received = preparer.prepare_data(name, data)
        if isinstance(from_disk, str):
            assert from_disk == received and from_disk.startswith("truncated: ")
        else:
            assert from_disk.header == received.header
    preparer.close()


def test_every_bundled_file_reads_alike_every_way(tmp_path):
    for path in sorted(p for p in pydicom_test_files().rglob("*") if p.is_file()):
        data = path.read_bytes()
        results = every_way(tmp_path, data)
        assert all(r == results[0] for r in results), path.name


# -- the reader's rules ------------------------------------------------------------------------


def refusal(data: bytes) -> str:
    with pytest.raises(element_rules.Malformed) as caught:
        files.parse_file(data)
    return str(caught.value)


def with_sequence(undefined: bool) -> bytes:
    ds = ct_dataset(patient_id="SQ")
    item = Dataset()
    item.PatientID = "OTHER"
    ds.OtherPatientIDsSequence = Sequence([item])
    if undefined:
        ds["OtherPatientIDsSequence"].is_undefined_length = True
        item.is_undefined_length_sequence_item = True
    return encoded(ds)


def test_a_sequence_without_its_delimiter_is_refused_naming_it():
    data = with_sequence(undefined=True)
    start = data.index(struct.pack("<HH", 0x0010, 0x1002))
    at = data.index(struct.pack("<HHL", 0xFFFE, 0xE0DD, 0))
    assert refusal(data[:at]) == (f"(0010,1002) OtherPatientIDsSequence starting at byte {start} "
                                  f"has no sequence delimiter: the file ends at byte {at}")
    assert refusal(data[:at] + data[at + 8:]) == (
        f"(0010,1002) OtherPatientIDsSequence: expected an item at byte {at}, "
        "found (0020,000D) StudyInstanceUID")


def test_an_item_longer_than_its_sequence_is_refused():
    data = bytearray(with_sequence(undefined=False))
    at = data.index(struct.pack("<HH", 0x0010, 0x1002))
    item = at + 12
    (length,) = struct.unpack_from("<L", data, item + 4)
    struct.pack_into("<L", data, item + 4, length + 2)
    message = refusal(bytes(data))
    assert message == (f"item 1 of (0010,1002) OtherPatientIDsSequence at byte {item} declares "
                       f"{length + 2} bytes, its sequence (0010,1002) OtherPatientIDsSequence "
                       f"ends at byte {item + 8 + length}")


def test_pixel_data_short_of_the_image_is_refused():
    ds = ct_dataset(size=16)
    ds.NumberOfFrames = 2  # the pixel data holds one frame
    message = refusal(encoded(ds))
    assert "(7FE0,0010) PixelData at byte" in message and "needs 1024" in message


def test_encapsulated_pixel_data_needs_its_delimiter():
    data = (pydicom_test_files() / "JPEG2000.dcm").read_bytes()
    assert data.endswith(struct.pack("<HHL", 0xFFFE, 0xE0DD, 0))
    message = refusal(data[:-8])
    assert message.startswith("encapsulated (7FE0,0010) PixelData starting at byte ")
    assert message.endswith(f"has no sequence delimiter: the file ends at byte {len(data) - 8}")


def test_every_encoding_reads_as_pydicom_reads_it():
    """Implicit, explicit little and big endian, deflated: the same elements."""
    for name in ("MR_small_implicit.dcm", "MR_small.dcm", "MR_small_bigendian.dcm",
                 "image_dfl.dcm", "rtstruct.dcm"):
        data = (pydicom_test_files() / name).read_bytes()
        parsed = files.parse_file(data)
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        assert [e[0] for e in parsed.elements] == [int(t) for t in ds.keys()], name


def test_pixel_data_end_for_the_export_worker():
    native = (pydicom_test_files() / "CT_small.dcm").read_bytes()
    ds = pydicom.dcmread(io.BytesIO(native))
    at = native.index(b"\xe0\x7f\x10\x00")
    end = at + 12 + len(ds.PixelData)
    assert files.pixel_data_end(native[:end], at, implicit=False) == end
    assert files.pixel_data_end(native[:end - 1], at, implicit=False) is None
    assert files.pixel_data_end(native, at - 8, implicit=False) is None  # not pixel data
    encapsulated = (pydicom_test_files() / "JPEG2000.dcm").read_bytes()
    at = encapsulated.rindex(b"\xe0\x7f\x10\x00")
    assert files.pixel_data_end(encapsulated, at, implicit=False) == len(encapsulated)
    assert files.pixel_data_end(encapsulated[:-8], at, implicit=False) is None
    implicit = (pydicom_test_files() / "MR_small_implicit.dcm").read_bytes()
    at = implicit.rindex(b"\xe0\x7f\x10\x00")
    assert files.pixel_data_end(implicit, at, implicit=True) == len(implicit)


# -- the byte-level de-identification: never copies what the reader refuses -------------------


def test_the_byte_level_path_refuses_a_truncated_file():
    data = with_sequence(undefined=False)
    cut = data[:data.index(b"OTHER") + 2]
    with pytest.raises(Refused, match=r"^truncated: .* at byte \d+"):
        RawDeidentifier(Deidentifier(Profile([]), b"secret")).run(cut, [], "f")


def test_a_truncated_file_without_file_meta_is_refused_too():
    """Not handed to the tolerant pydicom path (which would read what is there)."""
    data = (pydicom_test_files() / "rtstruct.dcm").read_bytes()  # no File Meta Information
    for cut in (len(data) // 2, len(data) - 3):
        with pytest.raises(Refused, match=r"^truncated: "):
            RawDeidentifier(Deidentifier(Profile([]), b"secret")).run(data[:cut], [], "f")
        with pytest.raises(Refused):
            refuse_unsound(data[:cut])
    assert refuse_unsound(data) is not None


def test_the_byte_level_path_refuses_an_over_long_value():
    """A length stretched past the next element's start (not exactly over it)."""
    ds = ct_dataset("PXS1", "DOE^JANE")
    ds.Manufacturer = "ACME"
    ds.InstitutionName = "Saint Ignatius Oncology Center"
    data = bytearray(encoded(ds))
    at = data.index(b"\x08\x00\x70\x00")
    struct.pack_into("<H", data, at + 6, 4 + 10)
    with pytest.raises(Refused, match=r"^malformed: "):
        RawDeidentifier(Deidentifier(Profile([]), b"secret")).run(bytes(data), [], "f")


# -- one File Meta writer ----------------------------------------------------------------------


def test_the_file_meta_writer_writes_what_pydicom_writes():
    for source_aet in ("", "ORTHANC"):
        group = FileMetaDataset()
        group.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        group.MediaStorageSOPInstanceUID = "1.2.3.4.5"
        group.TransferSyntaxUID = "1.2.840.10008.1.2.1"
        group.ImplementationClassUID = meta.IMPLEMENTATION_CLASS_UID
        group.ImplementationVersionName = meta.IMPLEMENTATION_VERSION_NAME
        if source_aet:
            group.SourceApplicationEntityTitle = source_aet
        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, False
        write_file_meta_info(fp, group, enforce_standard=True)
        ours = meta.file_meta("1.2.840.10008.5.1.4.1.1.2", "1.2.3.4.5", "1.2.840.10008.1.2.1",
                              source_aet)
        assert ours == b"\x00" * 128 + b"DICM" + fp.getvalue()


def test_one_implementation_uid_and_name_everywhere(tmp_path):
    from app.media import dicomdir
    from app.net import association, sinks

    assert association.IMPLEMENTATION_CLASS_UID == meta.IMPLEMENTATION_CLASS_UID
    received = sinks.file_meta("1.2.840.10008.5.1.4.1.1.2", "1.2.3", "1.2.840.10008.1.2.1")
    ds = ct_dataset()
    deid = Deidentifier(Profile([]), b"secret")
    deid.apply(ds, deid.needles(ds), label="f")
    by_pydicom = pydicom.dcmread(io.BytesIO(encoded(ds)))
    by_bytes = RawDeidentifier(Deidentifier(Profile([]), b"secret")).run(
        encoded(ct_dataset()), [], "f").data
    head, _ = dicomdir._head("STUDYDESK")
    for data in (received, by_bytes, encoded(by_pydicom), head):
        group = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True).file_meta
        assert group.ImplementationClassUID == meta.IMPLEMENTATION_CLASS_UID
        assert group.ImplementationVersionName == meta.IMPLEMENTATION_VERSION_NAME
