"""`reallocate` and `study` from the command line, as a new user would check
them on an unseen corpus: refusals (3 without privilege, 5 across patients
without --force, 5 while another user holds a lock), success after unlock,
files carrying the destination's patient and study; the migrated mark and
the AI rescan request."""

from __future__ import annotations

import sqlite3

import pydicom
import pytest

from tests.cli.test_cli import as_json, studydesk
from tests.factories import write_series


@pytest.fixture
def loaded(tmp_path):
    src = tmp_path / "src"
    write_series(src, 2, patient_id="P1", patient_name="DOE^JOHN", study="a", accession="A1")
    write_series(src, 3, patient_id="P1", patient_name="DOE^JOHN", study="a", series="mis",
                 accession="A1")
    write_series(src, 1, patient_id="P1", patient_name="DOE^JOHN", study="b", series="x",
                 accession="A2", description="CT ABDOMEN", study_date="20240120")
    write_series(src, 1, patient_id="P2", patient_name="ROE^RICHARD", study="c", series="y",
                 accession="A3", birth_date="19600101")
    home = tmp_path / "h"
    assert studydesk(home, "import", str(src)).returncode == 0
    for name, role in (("carla", "content-manager"), ("chris", "content-manager"), ("rob", "radiologist")):
        studydesk(home, "user", "add", name, "--role", role)
    uids = {r["accession"]: r["study_uid"] for r in as_json(studydesk(home, "studies", "--json"))}
    series = {r["description"]: r["series_uid"]
              for r in as_json(studydesk(home, "series", uids["A1"], "--json"))}
    return home, uids, series["CT HEAD mis"]


def current_files(home, series_uid: str) -> list:
    """The files the cache points at (older versions stay on disk for undo)."""
    db = sqlite3.connect(home / "cache.sqlite")
    try:
        return [pydicom.dcmread(home / p) for (p,) in db.execute(
            "SELECT path FROM instances WHERE series_instance_uid = ?", [series_uid])]
    finally:
        db.close()


def test_refusals_then_success_with_the_destination_in_the_files(loaded):
    home, uid, mis = loaded
    denied = studydesk(home, "reallocate", mis, "--to", uid["A2"], user="rob")
    assert denied.returncode == 3 and "content-management" in denied.stderr
    across = studydesk(home, "reallocate", mis, "--to", uid["A3"], user="carla")
    assert across.returncode == 5 and "different patients" in across.stderr
    assert studydesk(home, "lock", uid["A2"], user="chris").returncode == 0
    locked = studydesk(home, "reallocate", mis, "--to", uid["A2"], user="carla")
    assert locked.returncode == 5 and "locked by chris" in locked.stderr
    assert studydesk(home, "unlock", uid["A2"], user="chris").returncode == 0
    done = studydesk(home, "reallocate", mis, "--to", uid["A2"], "--reason", "misfiled", "--json",
                     user="carla")
    assert done.returncode == 0, done.stderr
    result = as_json(done)
    assert result["series"] == [mis] and result["destination"] == uid["A2"] and result["iocm"] is None
    moved = as_json(studydesk(home, "series", uid["A2"], "--json"))
    assert mis in [s["series_uid"] for s in moved]
    files = current_files(home, mis)
    assert len(files) == 3
    for ds in files:
        assert (ds.StudyInstanceUID, ds.AccessionNumber, ds.StudyDescription, ds.PatientID) == \
            (uid["A2"], "A2", "CT ABDOMEN", "P1")
    across = studydesk(home, "reallocate", mis, "--to", uid["A3"], "--force", "--reason", "x",
                       "--json", user="carla")
    assert across.returncode == 0
    assert {(d.PatientID, str(d.PatientName), d.StudyInstanceUID) for d in current_files(home, mis)} == \
        {("P2", "ROE^RICHARD", uid["A3"])}
    audit = as_json(studydesk(home, "audit", "--json"))
    entry = [e for e in audit if e["action"] == "reallocate"][-1]
    assert entry["outcome"] == "success" and uid["A2"] in entry["objects"] and uid["A3"] in entry["objects"]


def test_study_mark_migrated_and_rescan(loaded):
    home, uid, mis = loaded
    assert studydesk(home, "study", "mark-migrated", uid["A2"], user="carla").returncode == 3
    marked = studydesk(home, "study", "mark-migrated", uid["A2"], "--json")
    assert marked.returncode == 0 and as_json(marked)["migrated"]
    refused = studydesk(home, "reallocate", mis, "--to", uid["A2"], user="carla")
    assert refused.returncode == 5 and "migrated" in refused.stderr
    assert studydesk(home, "study", "unmark-migrated", uid["A2"]).returncode == 0
    rescan = studydesk(home, "study", "request-ai-rescan", uid["A2"], "--json", user="carla")
    assert rescan.returncode == 0 and as_json(rescan)["study_uid"] == uid["A2"]
    assert studydesk(home, "study", "request-ai-rescan", uid["A2"], user="rob").returncode == 3


def test_iocm_from_the_command_line(loaded):
    home, uid, mis = loaded
    assert studydesk(home, "config", "set", "iocm", "true").returncode == 0
    done = studydesk(home, "reallocate", mis, "--to", uid["A2"], "--rejection-title", "113037",
                     "--json", user="carla")
    assert done.returncode == 0, done.stderr
    iocm = as_json(done)["iocm"]
    assert iocm["uid_map"][mis] != mis and len(iocm["rejection_notes"]) == 1 and iocm["queued"] == 4
    assert "held in the outbox" in done.stderr
    undo = studydesk(home, "undo", str(as_json(done)["change_id"]), user="carla")
    assert undo.returncode == 0
    assert mis in [s["series_uid"] for s in as_json(studydesk(home, "series", uid["A1"], "--json"))]


def test_iocm_killed_mid_commit_is_rolled_back_on_the_next_start(loaded):
    home, uid, mis = loaded
    studydesk(home, "config", "set", "iocm", "true")
    before = {ds.SOPInstanceUID: ds.PixelData for ds in current_files(home, mis)}
    killed = studydesk(home, "reallocate", mis, "--to", uid["A2"], user="carla",
                       env={"STUDYDESK_FAULT": "renamed"})
    assert killed.returncode == 137
    history = as_json(studydesk(home, "history", "--json"))      # opening the home recovers
    assert history == []
    assert mis in [s["series_uid"] for s in as_json(studydesk(home, "series", uid["A1"], "--json"))]
    assert {ds.SOPInstanceUID: ds.PixelData for ds in current_files(home, mis)} == before
    db = sqlite3.connect(home / "cache.sqlite")
    try:
        assert db.execute("SELECT count(*) FROM outbox").fetchone() == (0,)
        assert db.execute("SELECT state FROM changes").fetchall() == [("failed",)]
    finally:
        db.close()
    stored = {p.name for p in (home / "store").rglob("*.dcm")}
    assert not any(name.startswith("2.25.") for name in stored)   # no renewed file left in the store
    done = studydesk(home, "reallocate", mis, "--to", uid["A2"], "--json", user="carla")
    assert done.returncode == 0, done.stderr
    assert not [p for p in (home / "staging").rglob("*") if p.is_file()]   # swept


@pytest.fixture
def measured(tmp_path):
    """Study A1 with a measured series 'mis' (two lengths) and one more
    series; A2 plain; A3 holding a measurement of its own (Advanced Reporting)."""
    from tests.factories import ct_dataset, uid, write

    src = tmp_path / "src"
    for study, series, count, accession in (("a", "ok", 1, "A1"), ("a", "mis", 2, "A1"),
                                            ("b", "x", 1, "A2"), ("c", "z", 1, "A3")):
        for n in range(1, count + 1):
            ds = ct_dataset("P1", study=study, series=series, number=n, accession=accession)
            ds.PixelSpacing = [0.5, 0.5]
            write(ds, src / f"{study}{series}{n}.dcm")
    home = tmp_path / "h"
    assert studydesk(home, "import", str(src)).returncode == 0
    studydesk(home, "user", "add", "carla", "--role", "content-manager")
    mis = uid("P1", "a", "mis")
    for image in ("1", "2"):
        assert studydesk(home, "measure", mis, "--image", image, "--line", "1", "1", "11", "1",
                         "--label", f"lesion {image}").returncode == 0
    assert studydesk(home, "measure", uid("P1", "c", "z"), "--image", "1", "--line", "0", "0", "4", "0"
                     ).returncode == 0
    return home, {a: uid("P1", s) for a, s in (("A1", "a"), ("A2", "b"), ("A3", "c"))}, mis


def _measurements(home, study):
    return sorted((m["label"], m["value"]) for m in as_json(studydesk(home, "measurements", study,
                                                                      "--json")))


@pytest.mark.parametrize("to, moved, removed, words", [
    ("A3", 2, 0, "2 measurements moved with the series into this Advanced Reporting study"),
    ("A2", 0, 2, "2 measurements on these images removed from the source's reports: the "
                 "destination is not an Advanced Reporting study")])
def test_reallocate_says_what_happened_to_the_measurements(measured, to, moved, removed, words):
    home, study, mis = measured
    before = {s: _measurements(home, s) for s in study.values()}
    assert before[study["A1"]] == [("lesion 1", 5.0), ("lesion 2", 5.0)]
    done = studydesk(home, "reallocate", mis, "--to", study[to], "--json", user="carla")
    assert done.returncode == 0, done.stderr
    document = as_json(done)
    assert document["measurements"] == {"moved": moved, "removed": removed}
    assert _measurements(home, study["A1"]) == []
    lesions = [m for m in _measurements(home, study[to]) if m[0].startswith("lesion")]
    assert len(lesions) == moved
    text = studydesk(home, "undo", str(document["change_id"]), user="carla")
    assert text.returncode == 0, text.stderr
    assert {s: _measurements(home, s) for s in study.values()} == before
    again = studydesk(home, "reallocate", mis, "--to", study[to], user="carla")
    assert again.returncode == 0 and words in again.stdout, again.stdout + again.stderr
