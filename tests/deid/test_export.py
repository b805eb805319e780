"""ZIP export: lossless plain export, anonymised export with the report, RT
references intact, safe member names, the count check, the residual scan's
verdict, DICOMDIR and the audit entry."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pydicom
import pytest

from app.accounts import audit
from app.dicom.references import references_of
from app.export import ExportIncomplete, ResidualIdentifiers, export_zip
from app.export.names import check_member, safe_component
from app.importing.importer import import_paths
from tests.factories import ct_dataset, write, write_series


def _datasets(path: Path) -> dict[str, pydicom.Dataset]:
    out = {}
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.endswith((".json", ".html")) or name.endswith("DICOMDIR"):
                continue
            out[name] = pydicom.dcmread(io.BytesIO(z.read(name)))
    return out


def _import(home, user, folder: Path) -> list[str]:
    result = import_paths(home, [folder], user, workers=1)
    assert not result.rejected, result.rejected
    return result.studies


def test_plain_export_is_lossless(home, user, tmp_path):
    paths = write_series(tmp_path / "src", 3, patient_id="P9", patient_name="DOE^JANE")
    studies = _import(home, user, tmp_path / "src")
    result = export_zip(home, user, studies, tmp_path / "out.zip")
    assert (result.instances_in, result.instances_out, result.anonymized) == (3, 3, False)
    originals = sorted(p.read_bytes() for p in paths)
    with zipfile.ZipFile(tmp_path / "out.zip") as z:
        assert sorted(z.read(n) for n in z.namelist()) == originals
        assert z.namelist()[0].startswith("P9_DOE_JANE/20240115_ACC1/")


def test_rt_references_resolve_after_anonymisation(demo_home, user, tmp_path):
    home, studies = demo_home
    db = home.connect()
    rt_study = db.execute("SELECT DISTINCT se.study_instance_uid FROM series se"
                          " WHERE se.modality = 'RTPLAN'").fetchone()[0]
    db.close()
    result = export_zip(home, user, [rt_study], tmp_path / "rt.zip", anonymize=True, workers=2)
    outputs = _datasets(tmp_path / "rt.zip")
    assert len(outputs) == result.instances_out == result.instances_in
    sops = {str(ds.SOPInstanceUID) for ds in outputs.values()}
    series = {str(ds.SeriesInstanceUID) for ds in outputs.values()}
    study_uids = {str(ds.StudyInstanceUID) for ds in outputs.values()}
    frames = {str(ds.FrameOfReferenceUID) for ds in outputs.values() if "FrameOfReferenceUID" in ds}
    assert rt_study not in study_uids and len(study_uids) == 1
    modalities = {str(ds.Modality) for ds in outputs.values()}
    assert {"CT", "RTSTRUCT", "RTPLAN", "RTDOSE"} <= modalities
    referenced = 0
    for name, ds in outputs.items():
        refs = references_of(ds)
        assert refs.instances <= sops | study_uids, name
        assert refs.series <= series, name
        assert refs.frames_of_reference <= frames, name
        referenced += len(refs.instances)
    assert referenced > 30  # contours -> CT slices, plans -> structure set, doses -> plans


def test_anonymised_export_carries_report_and_nothing_identifying(demo_home, user, tmp_path):
    home, studies = demo_home
    result = export_zip(home, user, studies, tmp_path / "anon.zip", anonymize=True,
                        options=["retain-long-modified-dates"], workers=2)
    assert result.report["residual_scan"]["passed"]
    with zipfile.ZipFile(tmp_path / "anon.zip") as z:
        names = z.namelist()
        report = json.loads(z.read("DEIDENTIFICATION_REPORT.json"))
        assert "<html" in z.read("DEIDENTIFICATION_REPORT.html").decode()
        blob = b"".join(z.read(n) for n in names).lower()
    assert report["counts"]["instances_in"] == report["counts"]["instances_out"] == len(names) - 2
    assert report["profile"]["standard"].endswith("2024c")
    for needle in (b"lindqvist", b"okafor", b"haddad", b"riverside", b"pid1001", b"acc1001"):
        assert needle not in blob, needle
    db = home.connect()
    try:
        entries = [e for e in audit.entries(db) if e["event_code"] == audit.EXPORT]
    finally:
        db.close()
    assert entries[-1]["outcome"] == audit.SUCCESS
    assert set(entries[-1]["objects"]) == set(studies)


def test_header_paths_never_leave_the_archive(home, user, tmp_path):
    ds = ct_dataset("../../../etc/passwd", "../../evil^..\\..", description="..\\..\\x")
    ds.SeriesDescription = "/abs/olute"
    write(ds, tmp_path / "src" / "evil.dcm")
    studies = _import(home, user, tmp_path / "src")
    for dicomdir in (False, True):
        target = tmp_path / f"evil{dicomdir}.zip"
        export_zip(home, user, studies, target, dicomdir=dicomdir)
        out = tmp_path / f"x{dicomdir}"
        with zipfile.ZipFile(target) as z:
            for name in z.namelist():
                check_member(name)
                assert ".." not in name.split("/") and not name.startswith("/")
            z.extractall(out)
        for path in out.rglob("*"):
            assert out.resolve() in path.resolve().parents
    assert safe_component("../..", "X") == "X"
    with pytest.raises(ValueError):
        check_member("a/../../b")


@pytest.mark.parametrize("anonymize", [False, True])
def test_count_mismatch_fails_and_removes_the_partial_file(home, user, tmp_path, anonymize):
    write_series(tmp_path / "src", 4)
    studies = _import(home, user, tmp_path / "src")
    db = home.connect()
    path = db.execute("SELECT path FROM instances ORDER BY instance_number LIMIT 1").fetchone()[0]
    db.close()
    (home.root / path).unlink()
    target = tmp_path / "out" / "broken.zip"
    target.parent.mkdir()
    with pytest.raises(ExportIncomplete, match="3 of 4"):
        export_zip(home, user, studies, target, anonymize=anonymize)
    assert list(target.parent.iterdir()) == []
    db = home.connect()
    try:
        assert audit.entries(db)[-1]["outcome"] == audit.SERIOUS_FAILURE
    finally:
        db.close()


def _identifier_in_pixels(tmp_path: Path) -> Path:
    ds = ct_dataset("PX1", "ZEBULONIX^QUENTIN")
    pixels = bytearray(ds.PixelData)
    pixels[100:109] = b"ZEBULONIX"  # burned into the pixel bytes: cannot be cleaned
    ds.PixelData = bytes(pixels)
    return write(ds, tmp_path / "src" / "burned.dcm")


def test_residual_hits_fail_unless_overridden_with_a_reason(home, user, tmp_path):
    _identifier_in_pixels(tmp_path)
    studies = _import(home, user, tmp_path / "src")
    target = tmp_path / "hit.zip"
    with pytest.raises(ResidualIdentifiers) as caught:
        export_zip(home, user, studies, target, anonymize=True)
    hits = caught.value.report["residual_scan"]["hits"]
    assert hits and hits[0]["where"] == "pixel data" and hits[0]["kind"] == "name"
    assert "ZEBULONIX" not in json.dumps(caught.value.report)  # the report names no value
    assert not target.exists() and not list(tmp_path.glob(".hit.zip*"))
    result = export_zip(home, user, studies, target, anonymize=True,
                        override_reason="teaching file, pixels reviewed")
    assert target.exists()
    assert result.report["residual_scan"]["override_reason"] == "teaching file, pixels reviewed"


def test_dicomdir_indexes_every_file(demo_home, user, tmp_path):
    from pydicom.fileset import FileSet

    home, studies = demo_home
    for anonymize in (False, True):
        target = tmp_path / f"dir{anonymize}.zip"
        result = export_zip(home, user, studies[:2], target, anonymize=anonymize, dicomdir=True)
        out = tmp_path / f"dir{anonymize}"
        with zipfile.ZipFile(target) as z:
            z.extractall(out)
        fs = FileSet(out / "DICOMDIR")
        assert len(fs) == result.instances_out
        for instance in fs:
            assert Path(instance.path).is_file()
            assert pydicom.dcmread(instance.path).SOPInstanceUID == instance.SOPInstanceUID
        assert {str(i.PatientID) for i in fs} <= ({str(ds.PatientID) for ds in _datasets(target).values()})


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools dciodvfy not installed")
def test_anonymised_objects_still_conform_to_their_iod(demo_home, user, tmp_path):
    """dciodvfy finds no error in an anonymised CT, RT structure set and RT
    plan (Type 2 attributes such as RT Plan Date stay, emptied or dummied)."""
    home, studies = demo_home
    export_zip(home, user, studies, tmp_path / "all.zip", anonymize=True)
    checked = set()
    with zipfile.ZipFile(tmp_path / "all.zip") as z:
        for name in z.namelist():
            if name.endswith((".json", ".html")):
                continue
            ds = pydicom.dcmread(io.BytesIO(z.read(name)), stop_before_pixels=True)
            if ds.Modality not in ("CT", "RTSTRUCT", "RTPLAN") or ds.Modality in checked:
                continue
            checked.add(ds.Modality)
            member = tmp_path / f"{ds.Modality}.dcm"
            member.write_bytes(z.read(name))
            run = subprocess.run(["dciodvfy", str(member)], capture_output=True, text=True,
                                 timeout=60)
            errors = [line for line in (run.stdout + run.stderr).splitlines()
                      if line.startswith("Error")]
            assert not errors, (ds.Modality, errors)
    assert checked == {"CT", "RTSTRUCT", "RTPLAN"}
