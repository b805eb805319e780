"""Refused attempts on the command line are audited; `audit --verify` catches
truncation and does not cry wolf after a crash."""

from __future__ import annotations

import sqlite3

import pytest

from tests.cli.test_cli import as_json, studydesk
from tests.factories import write_series


@pytest.fixture
def loaded(tmp_path):
    src = tmp_path / "src"
    write_series(src, 2, patient_id="P1", patient_name="DOE^JOHN", study="a", accession="A1")
    write_series(src, 1, patient_id="P1", patient_name="DOE^JOHN", study="b", series="x",
                 accession="A2")
    home = tmp_path / "h"
    assert studydesk(home, "import", str(src)).returncode == 0
    studydesk(home, "user", "add", "carla", "--role", "content-manager")
    studydesk(home, "user", "add", "chris", "--role", "content-manager")
    studydesk(home, "user", "add", "cleo", "--role", "clerk")
    uids = {r["accession"]: r["study_uid"] for r in as_json(studydesk(home, "studies", "--json"))}
    return home, uids


def _trail(home):
    return as_json(studydesk(home, "audit", "--json"))


def test_refused_undo_and_locked_change_are_audited(loaded):
    home, uid = loaded
    change = as_json(studydesk(home, "merge-studies", uid["A2"], uid["A1"], "--json",
                               user="carla"))["change_id"]
    clerk = studydesk(home, "undo", str(change), user="cleo")
    assert clerk.returncode == 3 and "content-management" in clerk.stderr
    assert studydesk(home, "lock", uid["A1"], user="chris").returncode == 0
    locked = studydesk(home, "undo", str(change), user="carla")
    assert locked.returncode == 5 and "locked by chris" in locked.stderr
    refused = [(e["user"], e["action"], e["outcome"], e["outcome_code"]) for e in _trail(home)
               if e["outcome"] != "success"]
    assert refused == [("cleo", "undo", "serious failure", 8), ("carla", "undo", "minor failure", 4)]
    assert studydesk(home, "audit", "--verify").returncode == 0


def test_verify_names_the_first_removed_entry(loaded):
    home, uid = loaded
    studydesk(home, "lock", uid["A1"], user="chris")
    studydesk(home, "unlock", uid["A1"], user="chris")
    ids = [e["id"] for e in _trail(home)]
    conn = sqlite3.connect(home / "cache.sqlite")
    conn.execute("DELETE FROM audit_objects WHERE audit_id >= ?", [ids[-2]])
    conn.execute("DELETE FROM audit WHERE id >= ?", [ids[-2]])
    conn.commit()
    conn.close()
    broken = studydesk(home, "audit", "--verify", "--json")
    assert broken.returncode == 5
    assert as_json(broken)["first_broken"] == ids[-2] and f"audit entry {ids[-2]}" in broken.stderr
    assert "removed" in broken.stderr


def test_a_crash_between_the_commit_and_the_head_file_is_not_tampering(loaded):
    home, uid = loaded
    crashed = studydesk(home, "lock", uid["A1"], user="chris", env={"STUDYDESK_FAULT": "audit-head"})
    assert crashed.returncode == 137
    assert as_json(studydesk(home, "studies", "--json"))  # the next open recovers
    verified = studydesk(home, "audit", "--verify", "--json")
    assert verified.returncode == 0, verified.stderr
    assert any(s["locked_by"] == "chris" for s in as_json(studydesk(home, "studies", "--json")))
    assert "lock" in [e["action"] for e in _trail(home)]
