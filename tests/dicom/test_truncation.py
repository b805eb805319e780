"""Item 1 of issue 13: a truncated object is never imported as complete.

RT Structure Sets, RT Plans, RT Dose, structured reports and CT images (the
demo set's, pydicom's bundled ones, and SRs built here) are cut at every
offset (small files) or at a stride (large ones). Every cut is refused, from
a path, from bytes and as received over the network (read_header_in_memory),
with the same reason, naming the byte offset. The one kind of cut that reads
as a complete object removes only optional trailing elements (the Approval
module of an unapproved object, trailing padding): a file without them is
valid DICOM, so no reader can tell, and dcmdump does not either.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from app.dicom import files
from app.dicom.reading import Unreadable, read_header, read_header_in_memory
from tests.factories import pydicom_test_files, uid

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# Removing these from the end leaves a valid object (PS3.3: the Approval
# module is U in RT IODs; Data Set Trailing Padding carries nothing).
OPTIONAL_TAIL = frozenset({0x300E0002, 0x300E0004, 0x300E0005, 0x300E0008, 0xFFFCFFFC})
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"


def code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item


def structured_report(syntax: str, undefined: bool) -> bytes:
    """A small Comprehensive SR: a container with text and a measurement."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = COMPREHENSIVE_SR
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = uid("sr", syntax, undefined)
    ds.SOPClassUID = COMPREHENSIVE_SR
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uid("sr-study"), uid("sr-series", syntax)
    ds.PatientName, ds.PatientID, ds.Modality = "REPORT^ROSA", "SR1", "SR"
    ds.ValueType, ds.ContinuityOfContent = "CONTAINER", "SEPARATE"
    ds.ConceptNameCodeSequence = [code("121070", "Findings")]
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "UNVERIFIED"
    text = Dataset()
    text.RelationshipType, text.ValueType, text.TextValue = "CONTAINS", "TEXT", "No change."
    text.ConceptNameCodeSequence = [code("121071", "Finding")]
    number = Dataset()
    number.RelationshipType, number.ValueType = "CONTAINS", "NUM"
    number.ConceptNameCodeSequence = [code("121206", "Distance")]
    measured = Dataset()
    measured.NumericValue = "12.5"
    measured.MeasurementUnitsCodeSequence = [code("mm", "millimeter")]
    number.MeasuredValueSequence = [measured]
    group = Dataset()
    group.RelationshipType, group.ValueType, group.ContinuityOfContent = "CONTAINS", "CONTAINER", "SEPARATE"
    group.ConceptNameCodeSequence = [code("125007", "Measurement Group")]
    group.ContentSequence = Sequence([number])
    ds.ContentSequence = Sequence([text, group])
    if undefined:
        for item in ds.iterall():
            if item.VR == "SQ":
                item.is_undefined_length = True
                for child in item.value:
                    child.is_undefined_length_sequence_item = True
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def objects(tmp_path_factory) -> dict[str, bytes]:
    from app.demo import generate_demo

    folder = tmp_path_factory.mktemp("demo")
    out: dict[str, bytes] = {}
    for path in generate_demo(folder, patients=1):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        out.setdefault(f"demo {ds.Modality}", path.read_bytes())
    for name in ("rtplan.dcm", "rtstruct.dcm", "rtdose.dcm", "CT_small.dcm", "reportsi.dcm"):
        out[name] = (pydicom_test_files() / name).read_bytes()
    out["SR explicit, undefined lengths"] = structured_report(ExplicitVRLittleEndian, True)
    out["SR implicit, defined lengths"] = structured_report(ImplicitVRLittleEndian, False)
    return out


def outcome(read, source) -> str:
    try:
        read(source)
        return "accepted"
    except Unreadable as e:
        return str(e)


def optional_tail(data: bytes, cut: int) -> bool:
    """Whether *cut* removes only whole optional trailing top-level elements."""
    top = files.parse_file(data).elements
    starts = [e[2] for e in top]
    return cut in starts and all(e[0] in OPTIONAL_TAIL for e in top if e[2] >= cut)


def test_every_cut_is_refused_alike_naming_the_offset(objects, tmp_path):
    path = tmp_path / "cut.dcm"
    started = time.monotonic()
    counted = 0
    for name, data in objects.items():
        assert outcome(read_header, data) == "accepted", name
        step = 1 if len(data) <= 8000 else len(data) // 1500
        for n, cut in enumerate(range(1, len(data), step)):
            part = data[:cut]
            reason = outcome(read_header_in_memory, part)
            assert outcome(read_header, part) == reason, (name, cut)
            if n % 97 == 0:  # from a path too (memory-mapped), for a sample
                path.write_bytes(part)
                assert outcome(read_header, path) == reason, (name, cut)
            if reason == "accepted":
                assert optional_tail(data, cut), f"{name} cut at {cut} was accepted"
                continue
            assert reason.startswith(("truncated: ", "malformed: ", "not DICOM: ", "missing ")), \
                (name, cut, reason)
            if reason.startswith(("truncated", "malformed")):
                assert " byte " in reason, (name, cut, reason)
            counted += 1
    assert counted > 12000
    assert time.monotonic() - started < 60


def test_a_cut_names_the_element_and_where(objects):
    data = objects["demo RTSTRUCT"]
    top = files.parse_file(data).elements
    contours = next(e for e in top if e[0] == 0x30060039)
    cut = contours[3] + contours[4] // 2  # halfway through ROIContourSequence
    reason = outcome(read_header, data[:cut])
    assert reason.startswith("truncated: ")
    assert "(3006,0039) ROIContourSequence" in reason and f"the file ends at byte {cut}" in reason


def test_import_of_a_cut_file_exits_non_zero_naming_the_offset(objects, tmp_path):
    data = objects["demo RTSTRUCT"]
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[:len(data) * 3 // 4])
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYDESK_")}
    proc = subprocess.run([sys.executable, "-m", "app", "--home", str(tmp_path / "home"), "import",
                           str(cut), "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 5, proc.stderr
    rejected = json.loads(proc.stdout)["rejected"]
    assert [r["path"] for r in rejected] == [str(cut)]
    reason = rejected[0]["reason"]
    assert reason.startswith("truncated: ") and f"the file ends at byte {len(data) * 3 // 4}" in reason
    assert f"refused: {cut}: {reason}" in proc.stderr
    assert json.loads(proc.stdout)["imported"] == 0
