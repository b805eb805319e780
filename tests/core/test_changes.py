"""Change sets: merges, trash, locks, privileges, undo, crash safety."""

from __future__ import annotations

import os
import subprocess
import sys

import pydicom
import pytest

from app import store
from app.accounts import accounts
from app.accounts import audit
from app.changes import journal, locks, merge, trash
from app.errors import NotAllowed, RuleRefused
from app.importing.importer import import_paths
from app.startup import open_home
from tests.factories import write_series

PATIENT_STUDY = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
                 "AccessionNumber", "StudyDate", "StudyTime", "StudyID", "StudyDescription",
                 "ReferringPhysicianName")


@pytest.fixture
def setup(home, tmp_path, admin):
    src = tmp_path / "src"
    write_series(src, 3, patient_id="P1", patient_name="DOE^JOHN", study="a", series="s1",
                 accession="A1", study_date="20240101")
    write_series(src, 2, patient_id="P1", patient_name="DOE^JOHN", study="b", series="s2",
                 accession="A2", study_date="20240102", description="SECOND")
    write_series(src, 2, patient_id="P1-OLD", patient_name="DOE^JOHN", study="c", series="s3",
                 accession="A3", study_date="20190101")
    write_series(src, 1, patient_id="P9", patient_name="ROE^RICHARD", study="d", series="s4",
                 accession="A9", study_date="20240103", birth_date="19500505")
    import_paths(home, [src], admin)
    db = home.connect()
    users = {"admin": accounts.get_user(db, admin)}
    users["cm"] = accounts.add_user(db, users["admin"], "carla", ["content-manager"])
    users["cm2"] = accounts.add_user(db, users["admin"], "chris", ["content-manager"])
    users["rad"] = accounts.add_user(db, users["admin"], "rob", ["radiologist"])
    study = {acc: uid for acc, uid in db.execute(
        "SELECT accession_number, study_instance_uid FROM studies")}
    yield home, db, users, study
    db.close()


def files_of(home, db, study_uid):
    return {sop: store.absolute(home, path) for sop, path in db.execute(
        "SELECT i.sop_instance_uid, i.path FROM instances i JOIN series s"
        " ON s.series_instance_uid = i.series_instance_uid WHERE s.study_instance_uid = ?",
        [study_uid])}


def snapshot_all(home, db):
    """Every instance: (study, patient id, file bytes)."""
    out = {}
    for sop, path, study, pid in db.execute(
            "SELECT i.sop_instance_uid, i.path, s.study_instance_uid, p.patient_id FROM instances i"
            " JOIN series se ON se.series_instance_uid = i.series_instance_uid"
            " JOIN studies s ON s.study_instance_uid = se.study_instance_uid"
            " JOIN patients p ON p.id = s.patient_pk"):
        out[sop] = (study, pid, store.absolute(home, path).read_bytes())
    return out


def test_merge_studies_rewrites_files_and_undo_restores(setup):
    home, db, users, study = setup
    before = snapshot_all(home, db)
    source_files = files_of(home, db, study["A2"])
    change = merge.merge_studies(home, db, users["cm"], study["A2"], study["A1"], reason="split exam")
    assert not db.execute("SELECT 1 FROM studies WHERE study_instance_uid = ?", [study["A2"]]).fetchone()
    assert db.execute("SELECT series_count, instance_count FROM studies WHERE study_instance_uid = ?",
                      [study["A1"]]).fetchone() == (2, 5)
    dest = pydicom.dcmread(next(iter(files_of(home, db, study["A1"]).values())))
    for sop, path in files_of(home, db, study["A1"]).items():
        ds = pydicom.dcmread(path)
        for keyword in PATIENT_STUDY:
            assert str(ds.get(keyword, "")) == str(dest.get(keyword, "")), (keyword, sop)
        if sop in source_files:
            original = pydicom.dcmread(source_files[sop])
            assert ds.PixelData == original.PixelData
            assert ds.SOPInstanceUID == sop and ds.SeriesDescription == original.SeriesDescription
    entry = [e for e in audit.entries(db) if e["action"] == "merge-studies"][0]
    assert entry["event_code"] == "110103" and "split exam" in entry["detail"]
    assert study["A2"] in entry["objects"] and study["A1"] in entry["objects"]

    journal.undo(home, db, change, users["cm"])
    assert snapshot_all(home, db) == before
    assert db.execute("SELECT series_count, instance_count FROM studies WHERE study_instance_uid = ?",
                      [study["A2"]]).fetchone() == (1, 2)
    assert [h["undone"] for h in journal.history(db)] == [False, True]


def test_merge_across_patients_needs_force(setup):
    home, db, users, study = setup
    with pytest.raises(RuleRefused, match="different patients.*--force"):
        merge.merge_studies(home, db, users["cm"], study["A9"], study["A1"])
    merge.merge_studies(home, db, users["cm"], study["A9"], study["A1"], force=True, reason="misfiled")
    ds = pydicom.dcmread(next(iter(files_of(home, db, study["A1"]).values())))
    assert ds.PatientID == "P1"


def test_merge_patients(setup):
    home, db, users, study = setup
    change = merge.merge_patients(home, db, users["cm"], "P1-OLD", "P1")
    assert not db.execute("SELECT 1 FROM patients WHERE patient_id = 'P1-OLD'").fetchone()
    for path in files_of(home, db, study["A3"]).values():
        ds = pydicom.dcmread(path)
        assert (ds.PatientID, ds.AccessionNumber, ds.StudyDate) == ("P1", "A3", "20190101")
    with pytest.raises(RuleRefused, match="name, birth date or sex differ"):
        merge.merge_patients(home, db, users["cm"], "P9", "P1")
    journal.undo(home, db, change, users["cm"])
    for path in files_of(home, db, study["A3"]).values():
        assert pydicom.dcmread(path).PatientID == "P1-OLD"


def test_preflight_flags(setup):
    home, db, users, study = setup
    _, check = merge.plan_merge_studies(db, users["cm"], study["A3"], study["A1"], force=True)
    assert check.level == "red"
    assert {f.field for f in check.flags} == {"patient ID", "study date"}
    _, same = merge.plan_merge_studies(db, users["cm"], study["A2"], study["A1"])
    assert same.level == "ok"


def test_delete_moves_files_to_trash_and_restore_brings_them_back(setup):
    home, db, users, study = setup
    files = files_of(home, db, study["A1"])
    content = {sop: p.read_bytes() for sop, p in files.items()}
    inodes = {sop: p.stat().st_ino for sop, p in files.items()}
    trash.delete(home, db, users["cm"], study["A1"], reason="wrong patient")
    assert all(not p.exists() for p in files.values())
    moved = files_of(home, db, study["A1"])
    assert all(str(p).startswith(str(home.trash)) for p in moved.values())
    assert {sop: p.stat().st_ino for sop, p in moved.items()} == inodes   # renamed, not copied
    from app.worklist.query import Query, studies
    assert study["A1"] not in [r["study_instance_uid"] for r in studies(db, Query())]
    assert [t["study_instance_uid"] for t in trash.trashed(db)] == [study["A1"]]
    trash.restore(home, db, users["cm"], study["A1"])
    restored = files_of(home, db, study["A1"])
    assert restored == files and {s: p.read_bytes() for s, p in restored.items()} == content
    assert trash.trashed(db) == []


def test_empty_trash_is_for_admins_and_erases(setup):
    home, db, users, study = setup
    files = files_of(home, db, study["A9"])
    trash.delete(home, db, users["cm"], study["A9"])
    with pytest.raises(NotAllowed, match="empty-trash"):
        trash.empty(home, db, users["cm"])
    assert trash.empty(home, db, users["admin"], older_than_days=1) == []
    assert trash.empty(home, db, users["admin"]) == [study["A9"]]
    assert not db.execute("SELECT 1 FROM studies WHERE study_instance_uid = ?", [study["A9"]]).fetchone()
    assert not db.execute("SELECT 1 FROM patients WHERE patient_id = 'P9'").fetchone()
    assert not any(home.trash.rglob("*.dcm"))
    assert all(not p.exists() for p in files.values())
    emptied = [(e["event_code"], e["user"], e["outcome"]) for e in audit.entries(db)
               if e["action"] == "trash-empty"]
    assert emptied == [("110105", users["cm"].name, audit.SERIOUS_FAILURE),   # the refused try
                       ("110105", users["admin"].name, audit.SUCCESS)]


def test_locks_refuse_changes_by_others(setup):
    home, db, users, study = setup
    locks.lock(db, users["cm2"], study["A1"])
    with pytest.raises(RuleRefused, match="locked by chris"):
        merge.merge_studies(home, db, users["cm"], study["A2"], study["A1"])
    with pytest.raises(RuleRefused, match="locked by chris"):
        trash.delete(home, db, users["cm"], study["A1"])
    with pytest.raises(NotAllowed, match="only they or an admin"):
        locks.unlock(db, users["cm"], study["A1"])
    locks.unlock(db, users["admin"], study["A1"])
    merge.merge_studies(home, db, users["cm"], study["A2"], study["A1"])
    trail = [(e["action"], e["user"], e["outcome"]) for e in audit.entries(db)
             if e["action"] in ("lock", "unlock", "merge-studies", "delete")]
    cm, chris, admin = users["cm"].name, users["cm2"].name, users["admin"].name
    # every refused attempt is in the trail with a failure outcome (PS3.15 A.5.3):
    # a lock is a rule (4, minor), unlocking another's lock a missing right (8, serious)
    assert trail == [("lock", chris, audit.SUCCESS),
                     ("merge-studies", cm, audit.MINOR_FAILURE),
                     ("delete", cm, audit.MINOR_FAILURE),
                     ("unlock", cm, audit.SERIOUS_FAILURE),
                     ("unlock", admin, audit.SUCCESS),
                     ("merge-studies", cm, audit.SUCCESS)]
    refused = [e for e in audit.entries(db) if e["outcome"] != audit.SUCCESS]
    assert refused[0]["outcome_code"] == 4 and "locked by chris" in refused[0]["detail"]
    assert study["A1"] in refused[0]["objects"]


def test_privilege_is_needed(setup):
    home, db, users, study = setup
    with pytest.raises(NotAllowed, match="content-management"):
        merge.merge_studies(home, db, users["rad"], study["A2"], study["A1"])
    with pytest.raises(NotAllowed, match="content-management"):
        trash.delete(home, db, users["rad"], study["A2"])


def test_undo_is_refused_when_a_later_change_depends_on_it(setup):
    home, db, users, study = setup
    first = merge.merge_studies(home, db, users["cm"], study["A2"], study["A1"])
    second = trash.delete(home, db, users["cm"], study["A1"])
    with pytest.raises(RuleRefused, match=f"later change \\({second}\\)"):
        journal.undo(home, db, first, users["cm"])
    journal.undo(home, db, second, users["cm"])
    journal.undo(home, db, first, users["cm"])


def test_a_failing_change_leaves_the_old_state(setup, monkeypatch):
    home, db, users, study = setup
    before = snapshot_all(home, db)

    def fail(step):
        if step == "renamed":
            raise OSError("disk full")

    monkeypatch.setattr(journal, "fault_hook", fail)
    with pytest.raises(OSError):
        merge.merge_studies(home, db, users["cm"], study["A2"], study["A1"])
    assert snapshot_all(home, db) == before
    assert db.execute("SELECT state FROM changes").fetchall() == [("failed",)]
    assert journal.history(db) == []


CRASH_SCRIPT = """
import sys
from app.home import Home
from app.accounts import accounts
from app.changes import merge, trash
from app.startup import open_home
home = open_home(sys.argv[1])
db = home.connect()
user = accounts.get_user(db, "carla")
if sys.argv[2] == "merge":
    merge.merge_studies(home, db, user, sys.argv[3], sys.argv[4])
else:
    trash.delete(home, db, user, sys.argv[3])
"""


@pytest.mark.parametrize("action", ["merge", "delete"])
@pytest.mark.parametrize("step", ["planned", "first-file", "files-written", "first-move",
                                  "renamed", "committed"])
def test_a_killed_change_leaves_old_or_new_state_after_reopening(setup, step, action):
    home, db, users, study = setup
    before = snapshot_all(home, db)
    args = [study["A2"], study["A1"]] if action == "merge" else [study["A2"]]
    env = dict(os.environ, STUDYDESK_FAULT=step)
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, str(home.root), action, *args],
                          env=env, capture_output=True, text=True, timeout=120)
    killed = proc.returncode == 137
    assert killed or proc.returncode == 0, proc.stderr
    open_home(home.root)                   # recovery runs here
    after = snapshot_all(home, db)         # every instance once, each with its file
    assert set(after) == set(before)
    moved = {sop for sop in after if after[sop][0] != before[sop][0]}
    changed_files = {sop for sop in after if after[sop][2] != before[sop][2]}
    if action == "merge":
        sources = {sop for sop in before if before[sop][0] == study["A2"]}
        assert moved in (set(), sources)             # all or nothing
        assert changed_files == moved
    else:
        state = db.execute("SELECT state FROM studies WHERE study_instance_uid = ?",
                           [study["A2"]]).fetchone()[0]
        assert after == before and state in ("active", "trashed")
    assert db.execute("SELECT count(*) FROM changes WHERE state = 'pending'").fetchone()[0] == 0
    # nothing half-done is left: every file not referenced by a row is an
    # original version kept for undo, never a new version of a rolled-back change
    referenced = {store.absolute(home, p) for (p,) in db.execute("SELECT path FROM instances")}
    for path in (p for folder in (home.store, home.trash) for p in folder.rglob("*") if p.is_file()):
        assert path in referenced or "~" not in path.name, path
    expected_kill = {"merge": {"planned", "first-file", "files-written", "renamed", "committed"},
                     "delete": {"planned", "first-file", "files-written", "first-move", "renamed",
                                "committed"}}
    assert killed == (step in expected_kill[action])
    assert audit.verify(db) is None        # a kill is not tampering


def test_rewrites_in_worker_processes_give_the_same_files(setup, monkeypatch):
    home, db, users, study = setup
    monkeypatch.setattr(journal, "PARALLEL_MIN", 2)
    monkeypatch.setattr(journal, "CHUNK", 1)
    before = snapshot_all(home, db)
    change = merge.merge_studies(home, db, users["cm"], study["A2"], study["A1"])
    for sop, path in files_of(home, db, study["A1"]).items():
        ds = pydicom.dcmread(path)
        assert ds.StudyInstanceUID == study["A1"] and ds.AccessionNumber == "A1"
        sha, size = db.execute("SELECT sha256, size FROM instances WHERE sop_instance_uid = ?",
                               [sop]).fetchone()
        assert (sha, size) == (store.sha256_file(path), path.stat().st_size)
    journal.undo(home, db, change, users["cm"])
    assert snapshot_all(home, db) == before


def test_history_names_what_changed_and_undo_needs_the_privilege(setup):
    home, db, users, study = setup
    assert merge.preflight_studies(db, study["A3"], study["A1"]).level == "red"
    assert merge.preflight_patients(db, "P1-OLD", "P1").level == "ok"
    change = merge.merge_studies(home, db, users["cm"], study["A2"], study["A1"], reason="split")
    (entry,) = journal.history(db)
    assert entry["summary"].startswith(f"study {study['A2']} merged into {study['A1']}")
    assert set(entry["studies"]) == {study["A1"], study["A2"]} and len(entry["series"]) == 1
    with pytest.raises(NotAllowed, match="content-management"):
        journal.undo(home, db, change, users["rad"])
    journal.undo(home, db, change, users["cm"])


def test_undo_takes_a_user_never_a_name(setup):
    home, db, users, study = setup
    change = merge.merge_studies(home, db, users["cm"], study["A2"], study["A1"])
    with pytest.raises(TypeError, match="needs the acting User"):
        journal.undo(home, db, change, users["cm"].name)
    assert journal.history(db)[0]["state"] == "applied"


def test_a_refused_undo_is_audited_with_a_failure_outcome(setup):
    home, db, users, study = setup
    change = merge.merge_studies(home, db, users["cm"], study["A2"], study["A1"])
    with pytest.raises(NotAllowed, match="content-management"):
        journal.undo(home, db, change, users["rad"])
    locks.lock(db, users["cm2"], study["A1"])
    with pytest.raises(RuleRefused, match="locked by chris"):
        journal.undo(home, db, change, users["cm"])
    refused = [(e["action"], e["user"], e["outcome_code"]) for e in audit.entries(db)
               if e["outcome"] != audit.SUCCESS]
    assert refused == [("undo", "rob", 8), ("undo", "carla", 4)]
    assert journal.history(db)[0]["state"] == "applied"


def test_the_audit_trail_covers_the_journal(setup):
    home, db, users, study = setup
    first = merge.merge_studies(home, db, users["cm"], study["A2"], study["A1"], reason="one")
    trash.delete(home, db, users["cm"], study["A9"], reason="two")
    assert audit.verify(db) is None
    entry = [e for e in audit.entries(db) if e["action"] == "merge-studies"][0]
    db.execute("UPDATE changes SET reason = 'nobody asked' WHERE change_id = ?", [first])
    broken = audit.verify(db)
    assert broken["id"] == entry["id"] and f"change {first}" in broken["reason"] \
        and "altered" in broken["reason"]
    db.execute("UPDATE changes SET reason = 'one' WHERE change_id = ?", [first])
    assert audit.verify(db) is None
    db.execute("PRAGMA foreign_keys = OFF")
    db.execute("DELETE FROM change_objects WHERE change_id = ?", [first])
    db.execute("DELETE FROM changes WHERE change_id = ?", [first])
    broken = audit.verify(db)
    assert broken["id"] == entry["id"] and "removed from the journal" in broken["reason"]


def test_a_journal_row_written_behind_the_trail_is_caught(setup):
    home, db, users, study = setup
    merge.merge_studies(home, db, users["cm"], study["A2"], study["A1"])
    db.execute("INSERT INTO changes (time, user, action, state) VALUES ('2024', 'x', 'delete', 'applied')")
    assert "has no audit entry" in audit.verify(db)["reason"]


def test_every_refusal_is_audited_with_its_outcome(setup):
    from app.changes import migrated

    home, db, users, study = setup
    with pytest.raises(NotAllowed):
        merge.merge_studies(home, db, users["rad"], study["A2"], study["A1"])
    with pytest.raises(NotAllowed):
        trash.restore(home, db, users["rad"], study["A2"])
    with pytest.raises(NotAllowed):
        migrated.mark(db, users["cm"], study["A9"])
    migrated.mark(db, users["admin"], study["A9"])
    with pytest.raises(RuleRefused, match="migrated"):
        trash.delete(home, db, users["cm"], study["A9"])
    with pytest.raises(RuleRefused, match="different patients"):
        merge.merge_studies(home, db, users["cm"], study["A3"], study["A1"])
    refused = [(e["user"], e["action"], e["outcome_code"]) for e in audit.entries(db)
               if e["outcome"] != audit.SUCCESS]
    assert refused == [("rob", "merge-studies", 8), ("rob", "restore", 8),
                       ("carla", "mark-migrated", 8), ("carla", "delete", 4),
                       ("carla", "merge-studies", 4)]
    assert all("refused:" in e["detail"] for e in audit.entries(db) if e["outcome"] != audit.SUCCESS)
    assert audit.verify(db) is None
