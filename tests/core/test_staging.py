"""Staging pseudonymised copies into a research project."""

from __future__ import annotations

import zipfile

import pydicom
import pytest

from app.accounts import accounts
from app.errors import RuleRefused
from app.importing.importer import import_paths
from app.research import projects, staging
from app.worklist.query import Query, studies


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    from app.demo import generate_demo

    folder = tmp_path_factory.mktemp("demo")
    generate_demo(folder, patients=1)
    return folder


@pytest.fixture
def rt(home, admin, demo_files):
    import_paths(home, [demo_files], admin)
    db = home.connect()
    user = accounts.get_user(db, admin)
    projects.create(db, user, "RT-TRIAL")
    projects.enrol(db, user, "RT-TRIAL", "PID1001", "xId01", "yId01")
    series = {(m, d): u for u, m, d in db.execute(
        "SELECT series_instance_uid, modality, series_description FROM series")}
    yield home, db, user, series
    db.close()


def by_modality(series, modality, text=""):
    return [u for (m, d), u in series.items() if m == modality and text in d]


def test_staging_a_dose_with_references_stages_its_chain(rt, tmp_path):
    home, db, user, series = rt
    (dose,) = by_modality(series, "RTDOSE", "Plan A")
    result = staging.stage(home, db, user, "RT-TRIAL", [dose], references=True)
    (ct,), (struct,), (plan,) = (by_modality(series, "CT"), by_modality(series, "RTSTRUCT"),
                                 by_modality(series, "RTPLAN", "Plan A"))
    assert result.staged == [ct, struct, plan, dose] and not result.failed
    state = {r["series_instance_uid"]: r for r in staging.staging_state(db, user, "RT-TRIAL")}
    assert all(state[u]["staged"] and state[u]["state"] == "done" and
               state[u]["instances"] == state[u]["staged_instances"] for u in (ct, struct, plan, dose))
    assert not state[by_modality(series, "RTPLAN", "Plan B")[0]]["staged"]
    assert studies(db, Query())[0]["staged"] is True

    before = sorted(db.execute("SELECT staged_sop_instance_uid, sha256 FROM staged_instances"))
    again = staging.stage(home, db, user, "RT-TRIAL", [dose], references=True)
    assert again.staged == [] and len(again.skipped) == 4
    assert sorted(db.execute("SELECT staged_sop_instance_uid, sha256 FROM staged_instances")) == before

    out = tmp_path / "trial.zip"
    assert staging.export_project(home, db, user, "RT-TRIAL", out)["instances"] == 33
    with zipfile.ZipFile(out) as z:
        blobs = [z.read(n) for n in z.namelist()]
    for blob in blobs:
        for secret in (b"Lindqvist", b"LINDQVIST", b"Maja", b"PID1001", b"ACC10011"):
            assert secret not in blob
    import io
    datasets = [pydicom.dcmread(io.BytesIO(b)) for b in blobs]
    assert {(ds.PatientID, str(ds.PatientName)) for ds in datasets} == {("xId01", "yId01")}
    sops = {ds.Modality: set() for ds in datasets}
    for ds in datasets:
        sops[ds.Modality].add(ds.SOPInstanceUID)
    (dose_ds,) = [ds for ds in datasets if ds.Modality == "RTDOSE"]
    (plan_ds,) = [ds for ds in datasets if ds.Modality == "RTPLAN"]
    (struct_ds,) = [ds for ds in datasets if ds.Modality == "RTSTRUCT"]
    assert dose_ds.ReferencedRTPlanSequence[0].ReferencedSOPInstanceUID in sops["RTPLAN"]
    assert plan_ds.ReferencedStructureSetSequence[0].ReferencedSOPInstanceUID in sops["RTSTRUCT"]
    contour_refs = {item.ReferencedSOPInstanceUID
                    for roi in struct_ds.ROIContourSequence for c in roi.ContourSequence
                    for item in c.ContourImageSequence}
    assert contour_refs and contour_refs <= sops["CT"]


def test_staging_uids_are_the_projects_own_and_stable(rt, tmp_path):
    home, db, user, series = rt
    (plan,) = by_modality(series, "RTPLAN", "Plan B")
    staging.stage(home, db, user, "RT-TRIAL", [plan])
    first = db.execute("SELECT staged_sop_instance_uid FROM staged_instances").fetchone()[0]
    db.execute("DELETE FROM staged_instances")
    staging.stage(home, db, user, "RT-TRIAL", [plan])
    assert db.execute("SELECT staged_sop_instance_uid FROM staged_instances").fetchone()[0] == first
    clinical = db.execute("SELECT sop_instance_uid FROM instances WHERE series_instance_uid = ?",
                          [plan]).fetchone()[0]
    assert first != clinical


def test_a_patient_not_enrolled_is_refused(home, admin, demo_files, tmp_path):
    import_paths(home, [demo_files], admin)
    db = home.connect()
    user = accounts.get_user(db, admin)
    projects.create(db, user, "EMPTY")
    (ct,) = [u for (u,) in db.execute("SELECT series_instance_uid FROM series WHERE modality = 'CT'")]
    with pytest.raises(RuleRefused, match="not enrolled"):
        staging.stage(home, db, user, "EMPTY", [ct])
    db.close()


def test_cancelled_staging_leaves_no_series_queued(rt):
    from app.errors import Cancelled
    from app.jobs import CancelToken

    home, db, user, series = rt
    (dose,) = by_modality(series, "RTDOSE", "Plan A")
    token = CancelToken()

    def progress(fraction, message=""):
        if fraction and fraction > 0.5:
            token.cancel()

    with pytest.raises(Cancelled):
        staging.stage(home, db, user, "RT-TRIAL", [dose], references=True, progress=progress,
                      cancel=token)
    states = {r["series_instance_uid"]: (r["state"], r["reason"]) for r in
              staging.staging_state(db, user, "RT-TRIAL") if r["state"] != "not staged"}
    assert "queued" not in {s for s, _ in states.values()}
    assert any(reason.startswith("cancelled") for _, reason in states.values())
    assert staging.staging_state(db, user, "RT-TRIAL", study="9.9.9") == []


def test_staging_goes_through_the_one_pipeline_and_its_scan(home, admin, tmp_path):
    """A name swallowed by a stretched length rides along inside a kept value:
    the pipeline's residual scan fails that series, nothing of it is kept
    (no row, no file in the project, no temporary copy), the other series
    are staged with the project's PID and subject."""
    from app import store
    from tests.deid.test_residual import stretched_institution
    from tests.factories import ct_dataset, write

    stretched_institution(tmp_path / "src", "PXS9")
    clean = ct_dataset("PXS9", "DOE^JANE", series="se2")
    clean.InstitutionName = "Saint Ignatius Oncology Center"
    write(clean, tmp_path / "src" / "clean.dcm")
    assert not import_paths(home, [tmp_path / "src"], admin, workers=1).rejected
    db = home.connect()
    user = accounts.get_user(db, admin)
    projects.create(db, user, "SCAN")
    projects.enrol(db, user, "SCAN", "PXS9", "xId09", "yId09")
    series = [u for (u,) in db.execute("SELECT series_instance_uid FROM series ORDER BY series_number")]
    leaky = db.execute("SELECT series_instance_uid FROM instances WHERE sop_instance_uid != ?",
                       [str(clean.SOPInstanceUID)]).fetchone()[0]
    result = staging.stage(home, db, user, "SCAN", series)
    assert [f["series_instance_uid"] for f in result.failed] == [leaky]
    assert "residual-identifier scan" in result.failed[0]["reason"]
    assert "Manufacturer" in result.failed[0]["reason"]
    assert result.staged == [u for u in series if u != leaky]
    rows = db.execute("SELECT series_instance_uid, path FROM staged_instances").fetchall()
    assert [r[0] for r in rows] == result.staged
    files = [p for p in (home.root / "projects").rglob("*") if p.is_file()]
    assert len(files) == 1 and b"Saint Ignatius" not in files[0].read_bytes()
    copy = pydicom.dcmread(files[0])
    assert (copy.PatientID, str(copy.PatientName)) == ("xId09", "yId09")
    assert copy.PatientIdentityRemoved == "YES"
    assert not list(store.scratch(home).glob("stage-*"))
    state = {r["series_instance_uid"]: r["state"] for r in staging.staging_state(db, user, "SCAN")}
    assert state[leaky] == "failed"
    db.close()
