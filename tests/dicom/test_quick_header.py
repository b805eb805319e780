"""The quick view of a header (app/dicom/quick_header.py) answers what
pydicom's data set answers, or lets the data set answer: on pydicom's test
files, and on a CT whose display elements are given hostile values (mutated,
cut, over-long, padded, non-ASCII, non-finite), in explicit and implicit VR.
What the viewer makes of a frame (the Frame, the corner facts) is the same
read through either."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.datadict import tag_for_keyword
from pydicom.multival import MultiValue
from pydicom.tag import Tag
from pydicom.uid import ImplicitVRLittleEndian

from app.dicom.native import read_native
from app.dicom.quick_header import FIELDS, QuickHeader
from app.viewer.display import prepare
from app.viewer.image_plane import ImagePlane
from tests.dicom.test_native_frames import TEST_FILES
from tests.factories import ct_dataset, write
from ui.viewer.frames import image_info

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on the hostile values

OTHER = ("PatientName", "PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence",
         "VOILUTSequence", "ModalityLUTSequence", "PixelData", "StudyInstanceUID")


def _norm(value):
    if isinstance(value, (list, tuple, MultiValue)):
        return tuple(_norm(v) for v in value)
    if isinstance(value, float):
        return "NaN" if value != value else float(value)
    if isinstance(value, int):
        return int(value)
    return value


def _answer(source, keyword):
    """(get, in) of a keyword, or the exception's type when reading raises."""
    try:
        return _norm(source.get(keyword)), keyword in source
    except Exception as exc:  # noqa: BLE001 - both sides must raise alike
        return type(exc)


def _agree(path: Path) -> bool:
    """Compare the quick view with pydicom's header of the same file; False
    when the native reader does not take the file (the general reader does)."""
    fast = read_native(str(path), 0)
    if fast is None:
        return False
    header, arr, index = fast
    assert isinstance(header, QuickHeader)
    general = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    for keyword in (*FIELDS, *OTHER):
        if keyword == "PixelData":
            continue  # the header stops before it on both sides
        assert _answer(header, keyword) == _answer(general, keyword), (path.name, keyword)
    quick, slow = prepare(header, arr, index, path.name), prepare(general, arr, index, path.name)
    for name in ("frames", "monochrome1", "aspect", "header_window", "function", "_range"):
        assert getattr(quick, name) == getattr(slow, name), (path.name, name)
    for name in ("values", "rgb"):
        a, b = getattr(quick, name), getattr(slow, name)
        assert (a is None and b is None) or np.array_equal(a, b), (path.name, name)
    assert image_info(header, index) == image_info(general, index), path.name
    assert _plane(header, index) == _plane(general, index), path.name
    return True


def _plane(source, index):
    """The image's place in the patient (the RT overlay's), or the refusal's type."""
    try:
        return ImagePlane.of(source, index)
    except Exception as exc:  # noqa: BLE001 - both sides must refuse alike
        return type(exc)


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_pydicom_test_files(path):
    _agree(path)


def test_the_native_reader_takes_most_test_files():
    taken = sum(read_native(str(p), 0) is not None for p in TEST_FILES)
    assert taken >= 20, taken


HOSTILE = [b"", b" ", b"\x00", b"\x00\x00", b"1", b"1 ", b" 1", b"1\x00", b"1\x00\x00", b"+1",
           b"-0", b"1.", b".5", b"1e5", b"1E-3", b"1e400", b"-1e400", b"nan", b"NaN ", b"inf",
           b"Infinity", b"1_000", b"0x10", b"1 2", b"1\\2", b"1\\", b"\\1", b"1\\\\2",
           b"1.5\\-2.5\\3", b"12345678901234567", b"1.0000000000000001", "\u0661".encode(),
           b"\xff\xfe", b"MONOCHROME1", b"MONOCHROME2 ", b" MONOCHROME2", b"LINEAR_EXACT",
           b"SIGMOID\x00", b"RTDOSE", b"mono chrome", b"A\\B", b"\t1", b"1\n", b"1.2.840.10008.5.1.4.1.1.2",
           b"1.2.3\x00", b"1.2.3 ", b"1.2.3\x00\x00", b"\x02\x00", b"\x10\x00\x00\x00", b"\x01",
           b"\x10\x00", b"\x0c\x00", b"\x01\x00", b"\x00\x00"]


def _mutations(rng: random.Random) -> list[bytes]:
    found = list(HOSTILE)
    for _ in range(25):
        size = rng.choice([1, 2, 3, 4, 8, 15, 16, 17, 40])
        alphabet = b"0123456789+-.eE \\\x00" if rng.random() < 0.7 else bytes(range(256))
        found.append(bytes(rng.choice(alphabet) for _ in range(size)))
    return found


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
@pytest.mark.parametrize("keyword", sorted(FIELDS))
def test_hostile_values(tmp_path, keyword, implicit):
    rng = random.Random(f"{keyword}{implicit}")
    taken = 0
    for n, value in enumerate(_mutations(rng)):
        ds = ct_dataset(size=8)
        if implicit:
            ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        tag = Tag(tag_for_keyword(keyword))
        ds._dict[tag] = RawDataElement(tag, FIELDS[keyword], len(value), value, 0, implicit, True)
        path = tmp_path / f"{n}.dcm"
        try:
            write(ds, path)
        except Exception:  # noqa: BLE001 - pydicom will not write it: nothing to compare
            continue
        taken += _agree(path)
    assert taken > 0  # the strict reader took some of them: the comparison ran


def test_the_data_set_is_made_only_when_asked(tmp_path):
    ds = ct_dataset(size=8)
    ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, 5], [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing, ds.FrameOfReferenceUID = [0.5, 0.5], "1.2.3.4"
    path = write(ds, tmp_path / "ct.dcm")
    header, arr, index = read_native(str(path), 0)
    frame = prepare(header, arr, index, path.name)
    image_info(header, index)
    ImagePlane.of(header, index)
    assert header._ds is None  # displayed and placed without making pydicom's data set
    assert frame.ds.PatientName == "DOE^JOHN"
    assert header.ds is frame.ds
