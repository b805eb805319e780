"""The Synapse rule (issue #15 item 6): a reallocated series' measurements
move into an Advanced Reporting destination and leave the source's reports;
into any other destination they are removed; undo brings back the files and
rows exactly. After every scenario each report of the touched studies is
read back: no measurement refers to an image outside its study."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pydicom
import pytest

from app import store
from app.accounts import accounts, audit
from app.changes import journal, view
from app.changes.reallocate import plan_reallocation, reallocate_series
from app.importing.importer import import_paths
from app.measurements import follow, index, record
from app.measurements.image import image_of
from app.measurements.sr import ImageRef, Measurement, Value
from app.startup import open_home
from tests.factories import ct_dataset, uid, write

needs_dciodvfy = pytest.mark.skipif(shutil.which("dciodvfy") is None,
                                    reason="dicom3tools dciodvfy not installed")


def _image(folder, study, series, number, accession, description):
    ds = ct_dataset("P1", study=study, series=series, number=number, accession=accession,
                    description=description)
    ds.PixelSpacing = [0.5, 0.5]
    write(ds, folder / f"{study}-{series}-{number}.dcm")


@pytest.fixture
def measured(home, tmp_path, admin):
    """Study A1 (ct1: 3 images, ct2: 2) with two reports: R1 on ct1 and ct2,
    R2 on ct1 only; B1 a plain study; C1 an Advanced Reporting study."""
    src = tmp_path / "src"
    for n in (1, 2, 3):
        _image(src, "a", "ct1", n, "A1", "CT CHEST")
    for n in (1, 2):
        _image(src, "a", "ct2", n, "A1", "CT CHEST")
    _image(src, "b", "x", 1, "B1", "CT ABDOMEN")
    _image(src, "c", "z", 1, "C1", "CT PELVIS")
    import_paths(home, [src], admin)
    db = home.connect()
    user = accounts.add_user(db, accounts.get_user(db, admin), "carla", ["content-manager"])
    ct1, ct2 = uid("P1", "a", "ct1"), uid("P1", "a", "ct2")
    record.measure_length(home, _importer(db, admin), uid("P1", "c", "z"), 1, (1, 1), (9, 1), "own")
    r1 = _report(home, db, admin, [(ct1, 1, "on ct1"), (ct2, 1, "on ct2")])
    r2 = _report(home, db, admin, [(ct1, 2, "second on ct1")])
    studies = {a: u for a, u in db.execute("SELECT accession_number, study_instance_uid FROM studies")}
    yield home, db, user, studies, ct1, ct2, r1, r2
    db.close()


def _importer(db, admin):
    return accounts.get_user(db, admin)


def _report(home, db, admin, where) -> str:
    """One report holding a length on image N of each series named."""
    images = [image_of(db, home, series, n, None) for series, n, _ in where]
    found = [Measurement(ImageRef(i.sop_class_uid, i.sop_instance_uid, i.series_uid), "POLYLINE",
                         [(2.0, 3.0), (12.0, 3.0)], [Value("length", 5.0, "mm")], label)
             for i, (_, _, label) in zip(images, where)]
    return record.save_report(home, _importer(db, admin), images[0], found)


def state(home, db) -> dict:
    """Every report instance row with its file's bytes, and each study's measurements."""
    rows = {}
    for sop, series, path in db.execute(
            "SELECT sop_instance_uid, series_instance_uid, path FROM instances WHERE sop_class_uid = ?",
            ["1.2.840.10008.5.1.4.1.1.88.33"]):
        rows[sop] = (series, path, store.absolute(home, path).read_bytes())
    studies = [u for (u,) in db.execute("SELECT study_instance_uid FROM studies")]
    return {"rows": rows, "measurements": {s: sorted((m.report_uid, m.image_uid, m.label, m.value)
                                                     for m in index.measurements_of(db, s))
                                           for s in studies}}


def assert_inside_their_studies(home, db) -> int:
    """No measurement, image library entry or evidence item of any report
    refers to an image outside the report's study; the number of reports."""
    reports = 0
    for (study,) in db.execute("SELECT study_instance_uid FROM studies").fetchall():
        own = {s for (s,) in db.execute(
            "SELECT i.sop_instance_uid FROM instances i JOIN series s ON s.series_instance_uid ="
            " i.series_instance_uid WHERE s.study_instance_uid = ?", [study])}
        for report in index.reports_of(db, study):
            reports += 1
            ds = pydicom.dcmread(store.absolute(home, report["path"]))
            assert str(ds.StudyInstanceUID) == study
            assert set(follow.image_refs(ds)) <= own, report
            for item in ds.get("PertinentOtherEvidenceSequence") or []:
                assert item.StudyInstanceUID == study
                assert {r.ReferencedSOPInstanceUID for s in item.ReferencedSeriesSequence
                        for r in s.ReferencedSOPSequence} <= own
        assert {m.image_uid for m in index.measurements_of(db, study)} <= own
    return reports


def _dciodvfy(path) -> list[str]:
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


def _path(db, sop):
    row = db.execute("SELECT path FROM instances WHERE sop_instance_uid = ?", [sop]).fetchone()
    return row and row[0]


def test_into_an_advanced_reporting_study_they_move_and_undo_restores(measured):
    home, db, user, studies, ct1, ct2, r1, r2 = measured
    before = state(home, db)
    assert index.is_advanced_reporting(db, studies["C1"])
    preview = view.preview(home, db, user, [ct1], studies["C1"])
    assert preview.measurements() == 2 and preview.advanced_reporting
    assert preview.measurements_text() == \
        "2 measurements move with the series into this Advanced Reporting study"
    assert preview.dependents == []          # the reports are no dependents
    r1_path = _path(db, r1)
    outcome = reallocate_series(home, db, user, ct1, studies["C1"])
    assert outcome.to_json()["measurements"] == {"moved": 2, "removed": 0}
    assert "2 measurements moved with the series into this Advanced Reporting study" \
        in outcome.messages()[-1]
    ct1_sops = {s for (s,) in db.execute("SELECT sop_instance_uid FROM instances"
                                         " WHERE series_instance_uid = ?", [ct1])}
    source = index.measurements_of(db, studies["A1"])
    assert [(m.report_uid, m.label) for m in source] == [(r1, "on ct2")]   # R1 rewritten, R2 gone
    assert _path(db, r1) != r1_path and _path(db, r2) is None
    dest = index.measurements_of(db, studies["C1"])
    moved = [m for m in dest if m.image_uid in ct1_sops]
    assert sorted(m.label for m in moved) == ["on ct1", "second on ct1"]
    assert {m.report_uid for m in moved} == set(outcome.measurements.report_uids) and len(outcome.measurements.report_uids) == 1
    assert all(m.value == 5.0 and m.points == [(2.0, 3.0), (12.0, 3.0)] for m in moved)
    assert [m.label for m in dest if m.image_uid not in ct1_sops] == ["own"]
    assert assert_inside_their_studies(home, db) == 3
    # the journal and the audit say so
    change = journal.history(db)[0]
    assert "2 measurements moved into report" in change["summary"]
    assert any("2 measurements moved" in e["detail"] for e in audit.entries(db)
               if e["action"] == "reallocate")
    if shutil.which("dciodvfy"):
        for sop in (r1, outcome.measurements.report_uids[0]):
            assert _dciodvfy(store.absolute(home, _path(db, sop))) == [], sop
    journal.undo(home, db, outcome.change_id, user)
    assert state(home, db) == before
    assert assert_inside_their_studies(home, db) == 3


def test_into_a_plain_study_they_are_removed_and_undo_brings_them_back(measured):
    home, db, user, studies, ct1, ct2, r1, r2 = measured
    before = state(home, db)
    preview = view.preview(home, db, user, [ct1], studies["B1"])
    assert not preview.advanced_reporting
    assert preview.measurements_text() == ("2 measurements on these images will be removed: the "
                                           "destination is not an Advanced Reporting study")
    outcome = reallocate_series(home, db, user, ct1, studies["B1"])
    assert outcome.to_json()["measurements"] == {"moved": 0, "removed": 2}
    assert not index.is_advanced_reporting(db, studies["B1"])     # nothing went there
    assert [m.label for m in index.measurements_of(db, studies["A1"])] == ["on ct2"]
    assert _path(db, r2) is None
    assert "2 measurements removed from the source's reports" in journal.history(db)[0]["summary"]
    assert assert_inside_their_studies(home, db) == 2
    journal.undo(home, db, outcome.change_id, user)
    assert state(home, db) == before
    assert assert_inside_their_studies(home, db) == 3


def test_the_other_series_moving_splits_the_report_the_other_way(measured):
    home, db, user, studies, ct1, ct2, r1, r2 = measured
    before = state(home, db)
    outcome = reallocate_series(home, db, user, ct2, studies["C1"])
    assert outcome.to_json()["measurements"] == {"moved": 1, "removed": 0}
    assert sorted(m.label for m in index.measurements_of(db, studies["A1"])) == \
        ["on ct1", "second on ct1"]
    assert sorted(m.label for m in index.measurements_of(db, studies["C1"])) == ["on ct2", "own"]
    # the rewritten report lists only the images its measurements stay on
    ds = pydicom.dcmread(store.absolute(home, _path(db, r1)))
    listed = {r.ReferencedSOPInstanceUID for s in ds.PertinentOtherEvidenceSequence[0]
              .ReferencedSeriesSequence for r in s.ReferencedSOPSequence}
    assert listed == {uid("P1", "a", "ct1", 1)}
    assert set(follow.image_refs(ds)) == {uid("P1", "a", "ct1", 1)}
    assert assert_inside_their_studies(home, db) == 4
    journal.undo(home, db, outcome.change_id, user)
    assert state(home, db) == before


def test_with_iocm_the_moved_measurements_refer_to_the_renewed_images(measured):
    home, db, user, studies, ct1, ct2, r1, r2 = measured
    before = state(home, db)
    outcome = reallocate_series(home, db, user, ct1, studies["C1"], use_iocm=True)
    uid_map = outcome.renewal.uid_map
    moved = [m for m in index.measurements_of(db, studies["C1"]) if m.label != "own"]
    assert sorted(m.image_uid for m in moved) == sorted(uid_map[uid("P1", "a", "ct1", n)] for n in (1, 2))
    ds = pydicom.dcmread(store.absolute(home, _path(db, outcome.measurements.report_uids[0])))
    (series_item,) = ds.PertinentOtherEvidenceSequence[0].ReferencedSeriesSequence
    assert series_item.SeriesInstanceUID == uid_map[ct1]
    from app.net.outbox import queue as outbox
    queued = {e["sop_instance_uid"] for e in outbox.entries(db)}
    assert outcome.measurements.report_uids[0] in queued           # sent beside the corrected images
    # R1 keeps "on ct2" under a new UID, sent too; R2 (on ct1 only) is gone;
    # the source's rejection note lists both old reports beside the old images
    (kept,) = index.measurements_of(db, studies["A1"])
    assert kept.label == "on ct2" and kept.report_uid not in (r1, r2)
    assert _path(db, r1) is None and _path(db, r2) is None and kept.report_uid in queued
    notes = [e for e in outbox.entries(db) if e["reason"] == "IOCM: rejection note"]
    (note,) = [e for e in notes if e["study_instance_uid"] == studies["A1"]]
    listed = {item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for item in
              pydicom.dcmread(home.root / note["path"]).ContentSequence if "ReferencedSOPSequence" in item}
    assert {r1, r2, uid("P1", "a", "ct1", 1), uid("P1", "a", "ct1", 2)} <= listed
    assert kept.report_uid not in listed
    assert assert_inside_their_studies(home, db) == 3
    journal.undo(home, db, outcome.change_id, user)
    assert state(home, db) == before


def test_each_observer_keeps_a_report_of_their_own_in_the_destination(measured, admin):
    home, db, user, studies, ct1, ct2, r1, r2 = measured
    accounts.add_user(db, accounts.get_user(db, admin), "drsmith", ["radiologist"])
    _report(home, db, "drsmith", [(ct1, 3, "by drsmith")])
    before = state(home, db)
    outcome = reallocate_series(home, db, user, ct1, studies["C1"])
    assert len(outcome.measurements.report_uids) == 2
    observers = {}
    for sop in outcome.measurements.report_uids:
        ds = pydicom.dcmread(store.absolute(home, _path(db, sop)))
        labels = {m.label for m in index.measurements_of(db, studies["C1"]) if m.report_uid == sop}
        observers[follow.observer_of(ds).rstrip("^")] = labels
    assert observers == {"drsmith": {"by drsmith"},
                         accounts.get_user(db, admin).name: {"on ct1", "second on ct1"}}
    assert assert_inside_their_studies(home, db) >= 4
    journal.undo(home, db, outcome.change_id, user)
    assert state(home, db) == before


def test_a_source_left_with_only_its_reports_disappears_and_returns(home, tmp_path, admin):
    src = tmp_path / "src"
    _image(src, "a", "ct1", 1, "A1", "CT CHEST")
    _image(src, "b", "x", 1, "B1", "CT ABDOMEN")
    import_paths(home, [src], admin)
    db = home.connect()
    user = accounts.add_user(db, accounts.get_user(db, admin), "carla", ["content-manager"])
    _report(home, db, admin, [(uid("P1", "a", "ct1"), 1, "only")])
    before = state(home, db)
    outcome = reallocate_series(home, db, user, uid("P1", "a", "ct1"), uid("P1", "b"))
    assert outcome.to_json()["measurements"] == {"moved": 0, "removed": 1}
    assert not db.execute("SELECT 1 FROM studies WHERE study_instance_uid = ?",
                          [uid("P1", "a")]).fetchone()
    assert db.execute("SELECT count(*) FROM series WHERE modality = 'SR'").fetchone() == (0,)
    journal.undo(home, db, outcome.change_id, user)
    assert state(home, db) == before
    assert assert_inside_their_studies(home, db) == 1
    db.close()


def test_a_report_added_after_the_preview_refuses_the_plan(measured, admin):
    home, db, user, studies, ct1, ct2, r1, r2 = measured
    from app.changes.reallocate import apply_reallocation
    from app.errors import RuleRefused

    planned = plan_reallocation(home, db, user, ct1, studies["B1"])
    _report(home, db, admin, [(ct1, 3, "late")])
    with pytest.raises(RuleRefused, match="measurement reports"):
        apply_reallocation(home, db, user, planned)


def test_an_old_change_journaled_with_measurement_rows_still_undoes(measured):
    """Before V7 IOCM journaled the old table's rows; the table is gone, the
    journal passes them by."""
    import json

    home, db, user, studies, ct1, ct2, r1, r2 = measured
    assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'measurements'").fetchone()
    outcome = reallocate_series(home, db, user, ct2, studies["B1"])
    (plan,) = db.execute("SELECT plan FROM changes WHERE change_id = ?", [outcome.change_id]).fetchone()
    plan = json.loads(plan)
    old = {"id": 1, "sop_instance_uid": uid("P1", "a", "ct2", 1), "kind": "length", "value": "1 mm",
           "user": "rad", "time": "then"}
    plan["before"]["measurements"], plan["after"]["measurements"] = [old], [dict(old, id=1)]
    db.execute("UPDATE changes SET plan = ? WHERE change_id = ?", [json.dumps(plan), outcome.change_id])
    journal.undo(home, db, outcome.change_id, user)
    assert [m.label for m in index.measurements_of(db, studies["A1"])].count("on ct2") == 1


def test_v7_drops_the_old_table_of_an_existing_home(home):
    db = home.connect()
    db.execute("CREATE TABLE measurements (id INTEGER PRIMARY KEY, sop_instance_uid TEXT NOT NULL,"
               " kind TEXT NOT NULL, value TEXT NOT NULL, user TEXT NOT NULL, time TEXT NOT NULL)")
    db.execute("INSERT INTO measurements VALUES (1, '1.2.3', 'length', '3 mm', 'rad', 'then')")
    for column in ("url", "token_env"):  # back to a home of V6, before V8's DICOMweb nodes
        db.execute(f"ALTER TABLE nodes DROP COLUMN {column}")
    db.execute("PRAGMA user_version = 6")
    db.close()
    open_home(home.root)
    db = home.connect()
    assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'measurements'").fetchone()
    db.close()


CRASH = """
import sys
from app.accounts import accounts
from app.changes.reallocate import reallocate_series
from app.startup import open_home
home = open_home(sys.argv[1])
db = home.connect()
reallocate_series(home, db, accounts.get_user(db, "carla"), sys.argv[2], sys.argv[3])
"""


@pytest.mark.parametrize("step", ["planned", "files-written", "first-move", "renamed", "committed"])
def test_a_killed_reallocation_leaves_the_old_reports_or_the_new(measured, step):
    home, db, user, studies, ct1, ct2, r1, r2 = measured
    before = state(home, db)
    proc = subprocess.run([sys.executable, "-c", CRASH, str(home.root), ct1, studies["C1"]],
                          env=dict(os.environ, STUDYDESK_FAULT=step), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode in (0, 137), proc.stderr
    open_home(home.root)                   # recovery runs here
    after = state(home, db)
    labels = sorted(m[2] for m in after["measurements"][studies["C1"]])
    if step == "committed" or proc.returncode == 0:   # (no move comes first: the rewrites do)
        assert labels == ["on ct1", "own", "second on ct1"]
    else:
        assert after == before
    assert db.execute("SELECT count(*) FROM changes WHERE state = 'pending'").fetchone()[0] == 0
    assert assert_inside_their_studies(home, db) == 3


def test_a_report_series_moved_alone_is_refused(measured):
    home, db, user, studies, ct1, ct2, r1, r2 = measured
    from app.errors import RuleRefused

    (reports_series,) = db.execute("SELECT series_instance_uid FROM instances WHERE sop_instance_uid = ?",
                                   [r1]).fetchone()
    with pytest.raises(RuleRefused, match="a measurement follows its image"):
        reallocate_series(home, db, user, reports_series, studies["B1"])
    assert db.execute("SELECT outcome FROM audit WHERE action = 'reallocate'").fetchall() == \
        [("minor failure",)]


def test_undo_leaves_a_report_series_measured_in_since(measured, admin):
    """The moved measurements land in a new StudyDesk series (the
    destination's report is another program's); a radiologist measures
    there afterwards; the undo takes back only what the change brought."""
    home, db, user, studies, ct1, ct2, r1, r2 = measured
    db.execute("UPDATE series SET series_description = 'Other software' WHERE modality = 'SR'"
               " AND study_instance_uid = ?", [studies["C1"]])
    outcome = reallocate_series(home, db, user, ct1, studies["C1"])
    new = outcome.measurements.report_uids[0]
    (series,) = db.execute("SELECT series_instance_uid FROM instances WHERE sop_instance_uid = ?",
                           [new]).fetchone()
    later = record.measure_length(home, _importer(db, admin), uid("P1", "c", "z"), 1, (1, 1), (5, 1),
                                  "later")["report_uid"]
    assert db.execute("SELECT series_instance_uid FROM instances WHERE sop_instance_uid = ?",
                      [later]).fetchone() == (series,)
    journal.undo(home, db, outcome.change_id, user)
    assert _path(db, new) is None and _path(db, later)
    assert sorted(m.label for m in index.measurements_of(db, studies["C1"])) == ["later", "own"]
    assert sorted(m.label for m in index.measurements_of(db, studies["A1"])) == \
        ["on ct1", "on ct2", "second on ct1"]
    assert assert_inside_their_studies(home, db) == 4
