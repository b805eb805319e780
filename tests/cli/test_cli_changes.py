"""The change commands of the contract: merges, delete/trash, locks, history, undo."""

from __future__ import annotations

import pydicom
import pytest

from tests.cli.test_cli import as_json, studydesk
from tests.factories import write_series


@pytest.fixture
def loaded(tmp_path):
    src = tmp_path / "src"
    write_series(src, 2, patient_id="P1", patient_name="DOE^JOHN", study="a", accession="A1")
    write_series(src, 2, patient_id="P1", patient_name="DOE^JOHN", study="b", series="x",
                 accession="A2")
    write_series(src, 1, patient_id="P2", patient_name="ROE^RICHARD", study="c", series="y",
                 accession="A3", birth_date="19600101")
    home = tmp_path / "h"
    assert studydesk(home, "import", str(src)).returncode == 0
    studydesk(home, "user", "add", "carla", "--role", "content-manager")
    studydesk(home, "user", "add", "chris", "--role", "content-manager")
    studydesk(home, "user", "add", "rob", "--role", "radiologist")
    uids = {r["accession"]: r["study_uid"] for r in as_json(studydesk(home, "studies", "--json"))}
    return home, uids


def test_merge_refusals_and_success(loaded):
    home, uid = loaded
    assert studydesk(home, "merge-studies", uid["A2"], uid["A1"], user="rob").returncode == 3
    refused = studydesk(home, "merge-studies", uid["A3"], uid["A1"], user="carla")
    assert refused.returncode == 5 and "different patients" in refused.stderr
    assert studydesk(home, "lock", uid["A1"], user="chris").returncode == 0
    locked = studydesk(home, "merge-studies", uid["A2"], uid["A1"], user="carla")
    assert locked.returncode == 5 and "locked by chris" in locked.stderr
    assert studydesk(home, "unlock", uid["A1"], user="carla").returncode == 3
    assert studydesk(home, "unlock", uid["A1"], user="chris").returncode == 0
    done = studydesk(home, "merge-studies", uid["A2"][:-6], uid["A1"], "--reason", "split", "--json",
                     user="carla")
    assert done.returncode == 0, done.stderr
    change = as_json(done)["change_id"]
    history = as_json(studydesk(home, "history", "--json"))
    assert set(history[0]) >= {"change_id", "time", "user", "action", "reason", "objects", "undone"}
    assert (history[0]["action"], history[0]["reason"], history[0]["user"]) == \
        ("merge-studies", "split", "carla")
    series = as_json(studydesk(home, "series", uid["A1"], "--json"))
    assert sum(s["instance_count"] for s in series) == 4
    assert studydesk(home, "undo", str(change), user="carla").returncode == 0
    assert len(as_json(studydesk(home, "studies", "--json"))) == 3
    assert as_json(studydesk(home, "history", "--study", uid["A2"], "--json"))[-1]["undone"] is True
    assert studydesk(home, "undo", "999", user="carla").returncode == 4


def test_merge_patients_and_force(loaded):
    home, uid = loaded
    assert studydesk(home, "merge-patients", "P2", "P1", user="carla").returncode == 5
    forced = studydesk(home, "merge-patients", "P2", "P1", "--force", "--reason", "same person",
                       user="carla")
    assert forced.returncode == 0
    card = as_json(studydesk(home, "patient", "P1", "--json"))
    assert card["study_count"] == 3
    assert studydesk(home, "patient", "P2").returncode == 4


def test_delete_trash_restore_empty(loaded, tmp_path):
    home, uid = loaded
    mixed = studydesk(home, "delete", uid["A1"], "9.9.9.9.9.9.9.9.9", user="carla", )
    assert mixed.returncode == 6 and "not in the cache" in mixed.stderr
    assert [r["accession"] for r in as_json(studydesk(home, "studies", "--json"))] \
        .count("A1") == 0
    listed = as_json(studydesk(home, "trash", "list", "--json"))
    assert [t["study_uid"] for t in listed] == [uid["A1"]] and listed[0]["trashed_by"] == "carla"
    assert studydesk(home, "trash", "restore", uid["A1"], user="carla").returncode == 0
    assert as_json(studydesk(home, "trash", "list", "--json")) == []
    assert studydesk(home, "delete", uid["A3"], user="carla").returncode == 0
    assert studydesk(home, "trash", "empty", user="carla").returncode == 3
    emptied = studydesk(home, "trash", "empty", "--json")
    assert as_json(emptied)["erased"] == [uid["A3"]]
    audit_codes = {e["action"]: e["event_code"] for e in as_json(studydesk(home, "audit", "--json"))}
    assert audit_codes["delete"] == "110105" and audit_codes["trash-empty"] == "110105"


def test_files_carry_the_destination_after_a_merge(loaded):
    home, uid = loaded
    studydesk(home, "merge-studies", uid["A2"], uid["A1"], user="carla")
    import sqlite3

    conn = sqlite3.connect(home / "cache.sqlite")
    paths = [p for (p,) in conn.execute("SELECT path FROM instances")]
    conn.close()
    headers = {(ds.StudyInstanceUID, ds.AccessionNumber)
               for ds in (pydicom.dcmread(home / p) for p in paths)
               if ds.PatientID == "P1"}
    assert headers == {(uid["A1"], "A1")}


def test_assignment_and_my_studies(loaded):
    home, uid = loaded
    done = studydesk(home, "assign", uid["A1"], uid["A2"], "--to", "rob", "--json")
    assert done.returncode == 0
    assert {d["assigned_to"] for d in as_json(done)["done"]} == {"rob"}
    mine = as_json(studydesk(home, "studies", "--assigned-to", "rob", "--json"))
    assert sorted(r["accession"] for r in mine) == ["A1", "A2"]
    assert all(r["assigned_to"] == "rob" for r in mine)
    assert studydesk(home, "assign", uid["A3"], "--to", "nobody").returncode == 4
    refused = studydesk(home, "assign", uid["A3"], "--to", "carla")
    assert refused.returncode == 5 and "radiologist" in refused.stderr
    assert studydesk(home, "unassign", uid["A1"]).returncode == 0
    assert [r["accession"] for r in as_json(studydesk(home, "studies", "--assigned-to", "rob",
                                                      "--json"))] == ["A2"]
    assert any(e["action"] == "assign" for e in as_json(studydesk(home, "audit", "--json")))
