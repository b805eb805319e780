"""A reallocation is planned once and applied as confirmed: a plan that
something invalidated between the preview and the write (a lock by another
user, a new instance in the moved series, a change while the files were
being written) is refused with the reason, nothing changes, and the refusal
is audited; the dependents search reads each candidate file once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pydicom
import pytest

from app import store
from app.accounts import accounts
from app.changes import journal, locks
from app.changes import view as content
from app.changes.reallocate import apply_reallocation, plan_reallocation
from app.errors import RuleRefused
from app.importing.importer import import_paths
from tests.factories import write_series

SERIES = dict(patient_id="P1", patient_name="DOE^JOHN", study="chest", series="abd", accession="C1",
              description="CT CHEST")


@pytest.fixture
def setup(home, tmp_path, admin):
    src = tmp_path / "src"
    write_series(src, 2, patient_id="P1", patient_name="DOE^JOHN", study="chest", series="ax",
                 accession="C1", description="CT CHEST")
    write_series(src, 2, **SERIES)
    write_series(src, 1, patient_id="P1", patient_name="DOE^JOHN", study="abdomen", series="x",
                 accession="B1", description="CT ABDOMEN")
    import_paths(home, [src], admin)
    db = home.connect()
    admin_user = accounts.get_user(db, admin)
    users = {name: accounts.add_user(db, admin_user, name, ["content-manager"]) for name in ("carla", "chris")}
    study = dict(db.execute("SELECT accession_number, study_instance_uid FROM studies"))
    series = dict(db.execute("SELECT series_description, series_instance_uid FROM series"))
    yield home, db, users, study, series["CT CHEST abd"]
    db.close()


def _state(home, db) -> dict:
    """What a user could look at: where each series is, its instances and their bytes, the journal."""
    return {"series": db.execute("SELECT series_instance_uid, study_instance_uid, instance_count FROM series"
                                 " ORDER BY 1").fetchall(),
            "files": {sop: store.absolute(home, path).read_bytes() for sop, path in db.execute(
                "SELECT sop_instance_uid, path FROM instances")},
            "applied": db.execute("SELECT count(*) FROM changes WHERE state = 'applied'").fetchone()[0]}


def _refusals(db) -> list[tuple[str, str, str]]:
    return db.execute("SELECT user, outcome, detail FROM audit WHERE action = 'reallocate'"
                      " ORDER BY id").fetchall()


def test_destination_locked_after_the_preview_is_refused_and_audited(setup):
    home, db, users, study, moved = setup
    planned = plan_reallocation(home, db, users["carla"], moved, study["B1"])
    locks.lock(db, users["chris"], study["B1"])            # another user, while the dialog is open
    before = _state(home, db)
    with pytest.raises(RuleRefused) as refused:
        apply_reallocation(home, db, users["carla"], planned, reason="misfiled")
    assert f"B1 ({study['B1']}) was locked by chris since you opened the preview" in str(refused.value)
    assert _state(home, db) == before
    (user, outcome, detail), = _refusals(db)
    assert (user, outcome) == ("carla", "minor failure") and "locked by chris" in detail
    locks.unlock(db, users["chris"], study["B1"])          # the same plan holds again
    apply_reallocation(home, db, users["carla"], planned, reason="misfiled")
    assert db.execute("SELECT study_instance_uid FROM series WHERE series_instance_uid = ?",
                      [moved]).fetchone() == (study["B1"],)


def test_a_new_instance_in_the_moved_series_is_refused_and_audited(setup, tmp_path, admin):
    home, db, users, study, moved = setup
    planned = plan_reallocation(home, db, users["carla"], moved, study["B1"])
    third = write_series(tmp_path / "late", 3, **SERIES)[-1]   # arrives from the modality
    import_paths(home, [third], admin)
    before = _state(home, db)
    with pytest.raises(RuleRefused) as refused:
        apply_reallocation(home, db, users["carla"], planned)
    assert f"CT CHEST abd ({moved}) had 2 instances when you opened the preview and has 3 now" \
        in str(refused.value)
    assert _state(home, db) == before
    (user, outcome, detail), = _refusals(db)
    assert outcome == "minor failure" and "has 3 now" in detail
    again = plan_reallocation(home, db, users["carla"], moved, study["B1"])   # a new preview: 3
    apply_reallocation(home, db, users["carla"], again)
    assert db.execute("SELECT instance_count FROM series WHERE series_instance_uid = ?",
                      [moved]).fetchone() == (3,)


def test_a_lock_taken_while_the_files_are_written_is_caught_in_the_transaction(setup):
    home, db, users, study, moved = setup
    planned = plan_reallocation(home, db, users["carla"], moved, study["B1"])
    before = _state(home, db)

    def meanwhile(step: str) -> None:       # another workstation, between the checks and the commit
        if step == "files-written":
            other = home.connect()
            try:
                locks.lock(other, users["chris"], study["C1"])
            finally:
                other.close()

    journal.fault_hook = meanwhile
    try:
        with pytest.raises(RuleRefused, match="locked by chris since you opened the preview"):
            apply_reallocation(home, db, users["carla"], planned)
    finally:
        journal.fault_hook = None
    assert _state(home, db) == before
    assert db.execute("SELECT state FROM changes").fetchall() == [("failed",)]
    assert not [p for p in store.scratch(home).iterdir() if p.is_file()]
    assert [o for _, o, _ in _refusals(db)] == ["minor failure"]


def test_the_dependents_search_reads_each_file_once(home, tmp_path, admin, monkeypatch):
    from app.demo import generate_demo

    generate_demo(tmp_path / "demo", patients=2)
    import_paths(home, [tmp_path / "demo"], admin)
    home.set_setting("ai.algorithms", "NoduleNet")          # the AI check runs on the same reads
    db = home.connect()
    user = accounts.get_user(db, admin)
    study = dict(db.execute("SELECT accession_number, study_instance_uid FROM studies"))
    files = {m: [] for m in ("CT", "RTSTRUCT", "RTPLAN", "RTDOSE")}
    for modality, path in db.execute(
            "SELECT se.modality, i.path FROM instances i JOIN series se USING (series_instance_uid)"
            " WHERE se.study_instance_uid = ?", [study["ACC10011"]]):
        files[modality].append(store.absolute(home, path))
    ct = db.execute("SELECT series_instance_uid FROM series WHERE modality = 'CT' AND study_instance_uid = ?",
                    [study["ACC10011"]]).fetchone()[0]
    opened: Counter = Counter()
    read = pydicom.dcmread

    def counting(source, *args, **kwargs):
        opened[Path(source)] += 1
        return read(source, *args, **kwargs)

    monkeypatch.setattr(pydicom, "dcmread", counting)
    preview = content.preview(home, db, user, [ct], study["ACC10022"])          # the read job
    assert [s["modality"] for s in preview.dependents] == ["RTSTRUCT", "RTPLAN", "RTDOSE", "RTPLAN", "RTDOSE"]
    rt_files = set(files["RTSTRUCT"] + files["RTPLAN"] + files["RTDOSE"])
    assert set(opened) == rt_files and set(opened.values()) == {1}   # no CT file, no file twice
    opened.clear()
    outcome = apply_reallocation(home, db, user, preview.plan, with_dependents=True, force=True,
                                 reason="the whole chain")            # the write job
    assert len(outcome.series) == 6
    assert set(opened) == rt_files | set(files["CT"]) and set(opened.values()) == {1}   # each rewritten once
    db.close()
