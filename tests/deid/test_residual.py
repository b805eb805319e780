"""The residual-identifier scan against what a hostile or broken file hides:
a length stretched over the next element (the swallowed value rides along
inside a kept one), an original UID hidden that way, original UIDs anywhere
in the input; and an export that fails the scan is not delivered."""

from __future__ import annotations

import io
import json
import struct
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from app.cli import main
from app.deid import Deidentifier, Needle, Needles, Profile, pipeline, worker
from app.export import ResidualIdentifiers, export_zip
from app.importing.importer import import_paths
from tests.factories import ct_dataset, uid, write

INSTITUTION = "Saint Ignatius Oncology Center"


def stretch(path: Path, tag: bytes, over: bytes) -> None:
    """Stretch the explicit-VR short-length element *tag* (4 bytes, little
    endian) over the element *over* that follows it: at the byte level a
    valid file whose *tag* value now holds *over* whole."""
    data = bytearray(path.read_bytes())
    at = data.find(tag)
    assert at > 0 and data[at + 4:at + 6].isalpha()
    (length,) = struct.unpack_from("<H", data, at + 6)
    following = at + 8 + length
    assert data[following:following + 4] == over, "the element to swallow must come next"
    (swallowed,) = struct.unpack_from("<H", data, following + 6)
    struct.pack_into("<H", data, at + 6, length + 8 + swallowed)
    path.write_bytes(bytes(data))


def stretched_institution(folder: Path, patient_id: str = "PXS1") -> Path:
    """Manufacturer's length stretched over InstitutionName."""
    ds = ct_dataset(patient_id, "DOE^JANE")
    ds.Manufacturer = "ACME"
    ds.InstitutionName = INSTITUTION
    path = write(ds, folder / f"{patient_id}.dcm")
    stretch(path, b"\x08\x00\x70\x00", b"\x08\x00\x80\x00")
    return path


def hidden_uid(folder: Path) -> tuple[Path, str]:
    """ImageOrientationPatient's length stretched over FrameOfReferenceUID:
    the original frame of reference UID inside a kept numeric value."""
    ds = ct_dataset("PXU1", "ROE^RICHARD")
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.FrameOfReferenceUID = uid("PXU1", "frame")
    path = write(ds, folder / "uid.dcm")
    stretch(path, b"\x20\x00\x37\x00", b"\x20\x00\x52\x00")
    return path, str(ds.FrameOfReferenceUID)


def _import(home, user, folder: Path) -> list[str]:
    result = import_paths(home, [folder], user, workers=1)
    assert not result.rejected, result.rejected
    return result.studies


def test_a_stretched_length_does_not_carry_a_name_out(home, user, tmp_path):
    path = stretched_institution(tmp_path / "src")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
    assert "InstitutionName" not in ds and INSTITUTION in str(ds.Manufacturer)  # what was done
    studies = _import(home, user, tmp_path / "src")
    target = tmp_path / "out.zip"
    with pytest.raises(ResidualIdentifiers) as caught:
        export_zip(home, user, studies, target, anonymize=True)
    hits = caught.value.report["residual_scan"]["hits"]
    assert any(h["attribute"] == "Manufacturer" and h["where"] == "header" for h in hits), hits
    assert "Saint" not in json.dumps(caught.value.report)  # the report names no value
    assert str(ds.SOPInstanceUID) in caught.value.detail  # the terminal names the input
    assert not target.exists() and not list(tmp_path.glob(".out.zip*"))


def test_an_original_uid_hidden_in_a_stretched_value_is_found(home, user, tmp_path):
    path, frame = hidden_uid(tmp_path / "src")
    assert "FrameOfReferenceUID" not in pydicom.dcmread(path)
    studies = _import(home, user, tmp_path / "src")
    with pytest.raises(ResidualIdentifiers) as caught:
        export_zip(home, user, studies, tmp_path / "uid.zip", anonymize=True)
    hits = caught.value.report["residual_scan"]["hits"]
    assert {"UID", "hidden value"} <= {h["kind"] for h in hits}, hits
    assert all(h["attribute"] == "ImageOrientationPatient" for h in hits)
    assert frame not in json.dumps(caught.value.report)
    assert not (tmp_path / "uid.zip").exists()


def test_the_cli_refuses_with_exit_5_naming_the_file_and_what_was_found(tmp_path, capsys):
    home = tmp_path / "home"
    stretched_institution(tmp_path / "src")
    assert main(["--home", str(home), "import", str(tmp_path / "src")]) == 0
    capsys.readouterr()
    assert main(["--home", str(home), "studies", "--json"]) == 0
    study = json.loads(capsys.readouterr().out)[0]["study_uid"]
    target = tmp_path / "x.zip"
    assert main(["--home", str(home), "export", study, "--zip", str(target), "--anonymize",
                 "--json"]) == 5
    captured = capsys.readouterr()
    assert "refused" in captured.err and "Manufacturer" in captured.err
    assert "hidden value" in captured.err and "IM00001.dcm" in captured.err
    assert json.loads(captured.out)["zip"] is None
    assert not target.exists() and not list(tmp_path.glob(".x.zip*"))


def test_every_original_uid_of_the_input_is_searched(tmp_path):
    """UIDs at any depth and in the File Meta Information are needles;
    class, transfer syntax and the standard's UIDs are not."""
    ds = ct_dataset("PXN1", "NEST^ED")
    ref = Dataset()
    ref.ReferencedSOPClassUID = ds.SOPClassUID
    ref.ReferencedSOPInstanceUID = uid("PXN1", "deep")
    inner = Dataset()
    inner.ReferencedImageSequence = Sequence([ref])
    ds.SourceImageSequence = Sequence([inner])
    path = write(ds, tmp_path / "nested.dcm")
    meta_only = str(ds.SOPInstanceUID)[:-3] + "999"  # in the File Meta Information alone
    path.write_bytes(path.read_bytes().replace(str(ds.SOPInstanceUID).encode(), meta_only.encode(), 1))
    deid = Deidentifier(Profile([]))
    worker.init(deid.state())
    done = worker.process_chunk([pipeline.Source(0, str(path), "x")])
    assert "error" not in done["files"][0]
    found = set(done["uids"])
    assert {str(ds.SOPInstanceUID), str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID),
            uid("PXN1", "deep"), meta_only} <= found
    assert str(ds.SOPClassUID) not in found
    assert not done["report"]["hits"]  # and none of them left in the output


def test_the_scan_finds_an_original_uid_anywhere_in_the_output():
    original = "1.2.826.0.1.3680043.10.1125.42.7"
    needles = Needles([Needle("ZEBULONIX", "name", "PatientName")]).for_file(
        {original: "SOPInstanceUID"})
    header = b"\x00" * 132 + b"\x08\x00\x18\x00UI\x20\x00" + original.encode() + b"\x00"
    pixels = b"\xe0\x7f\x10\x00OW\x00\x00\x10\x00\x00\x00" + b"\x01" * 8
    assert [(h["kind"], h["where"]) for h in needles.scan(header + pixels, len(header))] \
        == [("UID", "header")]
    buried = b"\xe0\x7f\x10\x00OW\x00\x00\x40\x00\x00\x00" + b"\x01" * 20 + original.encode() + b"\x01" * 12
    assert [(h["kind"], h["where"]) for h in needles.scan(b"\x00" * 140 + buried, 140)] \
        == [("UID", "pixel data")]
    assert not needles.scan(b"\x00" * 140 + b"2.25.123456789.1" + pixels, 156)
    assert needles.clean(f"see {original} today") == "see today"


def test_an_element_written_inside_a_binary_value_is_found(home, user, tmp_path):
    """A binary value the profile keeps (a palette here) holding a whole
    element's bytes (a stretched length over it, or made so): the element's
    identifying value is searched, and the export refused."""
    ds = ct_dataset("PXB1", "BIN^ARY")
    ds.RedPaletteColorLookupTableData = (b"\x00\x01" * 4 + b"\x08\x00\x80\x00LO\x1e\x00"
                                         + INSTITUTION.encode() + b"\x00\x01")
    write(ds, tmp_path / "src" / "bin.dcm")
    studies = _import(home, user, tmp_path / "src")
    with pytest.raises(ResidualIdentifiers) as caught:
        export_zip(home, user, studies, tmp_path / "bin.zip", anonymize=True)
    hits = caught.value.report["residual_scan"]["hits"]
    assert [(h["kind"], h["attribute"]) for h in hits] == [
        ("hidden value", "RedPaletteColorLookupTableData")]
    assert not (tmp_path / "bin.zip").exists()


def test_a_uid_written_with_another_vr_is_still_an_original_uid(tmp_path):
    """FrameOfReferenceUID written as LO (a wrong VR in an explicit file):
    its value is an original UID all the same."""
    ds = ct_dataset("PXV1", "WRONG^VR")
    ds.FrameOfReferenceUID = uid("PXV1", "frame")
    path = write(ds, tmp_path / "vr.dcm")
    data = path.read_bytes()
    at = data.find(b"\x20\x00\x52\x00UI")
    path.write_bytes(data[:at + 4] + b"LO" + data[at + 6:])
    worker.init(Deidentifier(Profile([])).state())
    done = worker.process_chunk([pipeline.Source(0, str(path), "x")])
    assert "error" not in done["files"][0]
    assert uid("PXV1", "frame") in done["uids"]


def test_runs_in_one_process_at_once_keep_their_own_keys(tmp_path):
    """Two runs going on in this process at once (few files run here, not in
    workers; the window starts jobs from threads): each maps UIDs with its
    own key, whichever started last."""
    from tests.factories import write_series

    paths = write_series(tmp_path / "a", 20, patient_id="PXK1")
    others = write_series(tmp_path / "b", 3, patient_id="PXK2")
    sources = [pipeline.Source(i, str(p), str(i)) for i, p in enumerate(paths)]

    def uids_of(secret: bytes, nested: bool) -> list[str]:
        out: list[str] = []

        def write(source, data: bytes, outcome: dict) -> str:
            if nested and source.index == 0:  # another run starts and ends meanwhile
                pipeline.run([pipeline.Source(i, str(p)) for i, p in enumerate(others)],
                             Deidentifier(Profile([]), b"another key"), lambda *a: "x")
            out.append(str(pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID))
            return str(source.index)

        pipeline.run(sources, Deidentifier(Profile([]), secret), write, workers=1)
        return out

    assert uids_of(b"one key", nested=True) == uids_of(b"one key", nested=False)
