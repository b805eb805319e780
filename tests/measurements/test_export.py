"""A measurement report leaves with its study like any instance: a plain
export carries it as it is; an anonymised one maps the UIDs inside the
report (its Content Sequence and evidence) to the same new UIDs as the
images it measures, passes the residual scan and still conforms."""

from __future__ import annotations

import io
import subprocess
import zipfile

import pydicom

from app.measurements.sr_read import is_measurement_report, read_measurements
from tests.factories import uid
from tests.measurements.conftest import needs_dciodvfy, run


def _members(path) -> list[pydicom.Dataset]:
    with zipfile.ZipFile(path) as z:
        return [pydicom.dcmread(io.BytesIO(z.read(name))) for name in z.namelist()
                if not name.endswith((".json", ".html"))]


def test_plain_export_carries_the_report(ct_home, capsys, tmp_path):
    home, spaced, _, study = ct_home
    code, done, _ = run(home, capsys, "measure", spaced, "--image", "1", "--line", "1", "1", "9", "9")
    assert code == 0
    code, _, err = run(home, capsys, "export", study, "--zip", str(tmp_path / "plain.zip"))
    assert code == 0, err
    reports = [ds for ds in _members(tmp_path / "plain.zip") if is_measurement_report(ds)]
    assert [str(ds.SOPInstanceUID) for ds in reports] == [done["report_uid"]]


def test_anonymised_export_maps_the_uids_inside_the_report(ct_home, capsys, tmp_path):
    home, spaced, _, study = ct_home
    code, done, _ = run(home, capsys, "measure", spaced, "--image", "2", "--line", "1", "1", "9", "9",
                        "--label", "lesion A")
    assert code == 0
    target = tmp_path / "anon.zip"
    code, exported, err = run(home, capsys, "export", study, "--zip", str(target), "--anonymise")
    assert code == 0, err
    assert exported["residual_scan"]["passed"] is True

    members = _members(target)
    (report,) = [ds for ds in members if is_measurement_report(ds)]
    images = {str(ds.SOPInstanceUID): ds for ds in members if "PixelData" in ds}
    originals = {uid("P1", "s1", "spaced", n) for n in (1, 2, 3)} | {done["report_uid"], study}
    assert not originals & (set(images) | {str(report.SOPInstanceUID), str(report.StudyInstanceUID)})

    (found,) = read_measurements(report)
    measured = images[found.image_uid]  # the reference names an exported image by its new UID
    assert measured.InstanceNumber == 2 and found.kind == "length"
    assert report.StudyInstanceUID == measured.StudyInstanceUID
    assert report.PatientID == measured.PatientID and report.PatientName == measured.PatientName
    (evidence,) = report.PertinentOtherEvidenceSequence
    (series,) = evidence.ReferencedSeriesSequence
    assert evidence.StudyInstanceUID == measured.StudyInstanceUID
    assert series.SeriesInstanceUID == measured.SeriesInstanceUID
    assert series.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == measured.SOPInstanceUID
    library = report.ContentSequence[4].ContentSequence[0].ContentSequence
    assert library[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == measured.SOPInstanceUID


@needs_dciodvfy
def test_the_anonymised_report_still_passes_dciodvfy(ct_home, capsys, tmp_path):
    home, spaced, _, study = ct_home
    assert run(home, capsys, "measure", spaced, "--image", "1", "--line", "1", "1", "9", "9")[0] == 0
    code, _, _ = run(home, capsys, "export", study, "--zip", str(tmp_path / "a.zip"), "--anonymise")
    assert code == 0
    path = tmp_path / "report.dcm"
    with zipfile.ZipFile(tmp_path / "a.zip") as z:
        (data,) = [z.read(n) for n in z.namelist() if not n.endswith((".json", ".html"))
                   and is_measurement_report(pydicom.dcmread(io.BytesIO(z.read(n))))]
    path.write_bytes(data)  # the exported bytes as they are
    checked = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    lines = (checked.stdout + checked.stderr).splitlines()
    assert not [line for line in lines if line.startswith("Error")], lines
