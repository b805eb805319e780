"""The byte-level path (app/deid/raw.py) against the pydicom walk: over
pydicom's test files and the demo set, with three option sets, both give the
same data set, the same File Meta Information and the same report counts;
files outside the byte-level path are refused by it before anything is
counted, and the export takes the pydicom path for them."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from app.deid import Deidentifier, Profile
from app.deid.raw import RawDeidentifier
from app.deid.raw_parse import Refused, Unsupported
from tests.deid.conftest import readable_test_files

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
OPTIONS = {
    "basic": [],
    "modified-dates": ["retain-long-modified-dates", "clean-descriptors"],
    "retain-all": ["retain-uids", "retain-device-id", "retain-patient-chars",
                   "retain-long-full-dates", "clean-struct-content", "clean-graphics"],
}
SECRET = b"same secret for both paths"


def by_pydicom(data: bytes, options: list[str]) -> tuple[Dataset, dict]:
    d = Deidentifier(Profile(options), SECRET)
    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    d.apply(ds, d.needles(ds), label="f")
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return pydicom.dcmread(io.BytesIO(buffer.getvalue()), force=True), d.report.to_state()


def by_bytes(data: bytes, options: list[str]) -> tuple[Dataset, dict]:
    d = Deidentifier(Profile(options), SECRET)
    out = RawDeidentifier(d).run(data, [], "f")
    return pydicom.dcmread(io.BytesIO(out.data), force=True), d.report.to_state()


def differences(a: Dataset, b: Dataset, where: str = "") -> list[str]:
    out = []
    for tag in sorted(set(a.keys()) | set(b.keys())):
        here = f"{where}({tag >> 16:04X},{tag & 0xFFFF:04X})"
        if tag not in a or tag not in b:
            out.append(f"{here} only in the {'pydicom' if tag in a else 'byte-level'} output")
        elif a[tag].VR == "SQ" and b[tag].VR == "SQ":
            if len(a[tag].value) != len(b[tag].value):
                out.append(f"{here}: {len(a[tag].value)} items against {len(b[tag].value)}")
                continue
            for n, (x, y) in enumerate(zip(a[tag].value, b[tag].value)):
                out.extend(differences(x, y, f"{here}[{n}]"))
        elif a[tag] != b[tag]:
            out.append(f"{here}: {a[tag].value!r:.60} against {b[tag].value!r:.60}")
    return out


def compare(data: bytes, options: list[str]) -> list[str]:
    (a, report_a), (b, report_b) = by_pydicom(data, options), by_bytes(data, options)
    problems = differences(a, b) + differences(a.file_meta, b.file_meta, "meta ")
    problems += [f"report {k}: {report_a[k]!r:.80} against {report_b[k]!r:.80}"
                 for k in report_a if report_a[k] != report_b[k]]
    if a.preamble != b.preamble:
        problems.append("preamble differs")
    return problems


def _readable(path: Path) -> bytes | None:
    data = path.read_bytes()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            by_pydicom(data, [])
    except Exception:  # noqa: BLE001 - a file the pydicom path refuses too
        return None
    return data


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
def test_both_paths_agree_on_pydicom_test_files(options):
    compared, refused, problems = 0, 0, []
    for path in readable_test_files():
        data = _readable(path)
        if data is None:
            continue
        try:
            found = compare(data, options)
        except (Unsupported, Refused):  # left to pydicom, or refused by both paths
            refused += 1
            continue
        compared += 1
        problems.extend(f"{path.name}: {p}" for p in found)
    assert problems == []
    assert compared > 3 * refused, (compared, refused)  # the byte-level path is the usual one


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
def test_both_paths_agree_on_the_demo_set(demo_files, options):
    paths = sorted(p for p in demo_files.rglob("*") if p.is_file())
    problems = []
    for path in paths:
        problems.extend(f"{path.name}: {p}" for p in compare(path.read_bytes(), options))
    assert paths and problems == []


def test_nested_private_implicit_and_trailing_elements_agree(tmp_path):
    from tests.factories import ct_dataset

    ds = ct_dataset("PID9", "QUILL^ADA", birth_date="19600229")
    ds.private_block(0x0029, "SIEMENS CSA HEADER", create=True).add_new(0x10, "OB", b"QUILL data")
    inner = Dataset()
    inner.PatientName = "QUILL^ADA"
    inner.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    inner.StudyDate = "20200101"
    inner.ContentDescription = "for Ada QUILL"
    ds.ReferencedImageSequence = [inner, Dataset()]
    ds.ImageComments = "patient QUILL, PID9"
    ds.DataSetTrailingPadding = b"\x00" * 6
    for implicit in (False, True):
        buffer = io.BytesIO()
        ds.file_meta.TransferSyntaxUID = ("1.2.840.10008.1.2" if implicit
                                          else "1.2.840.10008.1.2.1")
        pydicom.dcmwrite(buffer, ds, implicit_vr=implicit, little_endian=True,
                         enforce_file_format=True)
        for options in OPTIONS.values():
            assert compare(buffer.getvalue(), options) == []
        out = RawDeidentifier(Deidentifier(Profile(["retain-long-modified-dates"]))).run(
            buffer.getvalue(), [], "f")
        assert b"QUILL" not in out.data.upper() and b"PID9" not in out.data
        assert out.needles.scan(out.data, out.pixel_start) == []


def test_refused_files_leave_the_report_untouched():
    d = Deidentifier(Profile([]), SECRET)
    raw = RawDeidentifier(d)
    before = d.report.to_state()
    for data in (b"\x00" * 200, b"\x00" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\x14\x001.2.840.10008.1.2.2"
                 + b"\x00" * 40):
        with pytest.raises(Unsupported):
            raw.run(data, [], "f")
    assert d.report.to_state() == before


def test_retain_safe_private_takes_the_pydicom_path():
    with pytest.raises(Unsupported):
        RawDeidentifier(Deidentifier(Profile(["retain-safe-private"])))
