"""Every function that changes clinical data takes the acting ``User`` and
checks the privilege itself: a bare name ("admin") is refused at the door,
with an error that says a User is needed, and nothing is written — no row,
no audit entry, no journal entry, no file (issue #13 item 13, #14).

A name is not a proof of privileges: a caller that passes one (a history
dock that had only ``user.name`` at hand) must fail loudly, not act as that
account.
"""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest

from app.accounts import accounts
from app.changes import ai, journal, locks, merge, migrated, reallocate, trash
from app.importing.importer import import_paths
from app.worklist import assignments, sharing
from tests.factories import write_series

NAME = "admin"  # what a careless caller passes instead of the User


@pytest.fixture
def cache(home, tmp_path, admin):
    """Two patients, three studies (one in the trash), one change to undo."""
    src = tmp_path / "src"
    write_series(src, 2, patient_id="P1", patient_name="DOE^JOHN", study="a", series="s1",
                 accession="A1", study_date="20240101")
    write_series(src, 1, patient_id="P1", patient_name="DOE^JOHN", study="b", series="s2",
                 accession="A2", study_date="20240102")
    write_series(src, 1, patient_id="P2", patient_name="ROE^RICHARD", study="c", series="s3",
                 accession="A3", study_date="20240103")
    write_series(src, 1, patient_id="P2", patient_name="ROE^RICHARD", study="d", series="s4",
                 accession="A4", study_date="20240104")
    import_paths(home, [src], admin)
    db = home.connect()
    user = accounts.get_user(db, admin)
    accounts.add_user(db, user, "rob", ["radiologist"])
    study = {acc: uid for acc, uid in db.execute(
        "SELECT accession_number, study_instance_uid FROM studies")}
    series = {uid: s for s, uid in db.execute(
        "SELECT series_instance_uid, study_instance_uid FROM series")}
    trash.delete(home, db, user, study["A4"], "test")
    change = merge.merge_studies(home, db, user, study["A2"], study["A1"])
    yield SimpleNamespace(home=home, db=db, user=user, study=study, series=series, change=change)
    db.close()


def state(home, db) -> dict:
    """Every row of every table and every file of the home (with its bytes'
    digest): what "nothing written" is checked against."""
    tables = [name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    rows = {t: db.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables}
    skip = {home.db_path.name, home.db_path.name + "-wal", home.db_path.name + "-shm"}
    files = {str(p.relative_to(home.root)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(home.root.rglob("*")) if p.is_file() and p.name not in skip}
    return {"rows": rows, "files": files}


# name -> the call on the cache *c* (home, db, study, series, change) by *u*; force: past the
# preflight warnings (other patient), so only the user decides
CALLS = {
    "journal.undo": lambda c, u: journal.undo(c.home, c.db, c.change, u),
    "merge.merge_studies": lambda c, u: merge.merge_studies(
        c.home, c.db, u, c.study["A3"], c.study["A1"], force=True),
    "merge.plan_merge_studies": lambda c, u: merge.plan_merge_studies(
        c.db, u, c.study["A3"], c.study["A1"], force=True),
    "merge.merge_patients": lambda c, u: merge.merge_patients(c.home, c.db, u, "P2", "P1", force=True),
    "merge.plan_merge_patients": lambda c, u: merge.plan_merge_patients(c.db, u, "P2", "P1", force=True),
    "reallocate.reallocate": lambda c, u: reallocate.reallocate(
        c.home, c.db, u, c.series[c.study["A3"]], c.study["A1"], force=True),
    "reallocate.plan_reallocation": lambda c, u: reallocate.plan_reallocation(
        c.home, c.db, u, c.series[c.study["A3"]], c.study["A1"]),
    "reallocate.apply_reallocation": lambda c, u: reallocate.apply_reallocation(
        c.home, c.db, u, reallocate.plan_reallocation(c.home, c.db, c.user, c.series[c.study["A3"]],
                                                      c.study["A1"]), force=True),
    "reallocate.reallocate_series": lambda c, u: reallocate.reallocate_series(
        c.home, c.db, u, [c.series[c.study["A3"]]], c.study["A1"], force=True, with_dependents=True),
    "trash.delete": lambda c, u: trash.delete(c.home, c.db, u, c.study["A3"], "why"),
    "trash.plan_delete": lambda c, u: trash.plan_delete(c.db, u, c.study["A3"], "why"),
    "trash.restore": lambda c, u: trash.restore(c.home, c.db, u, c.study["A4"]),
    "trash.empty": lambda c, u: trash.empty(c.home, c.db, u),
    "locks.lock": lambda c, u: locks.lock(c.db, u, c.study["A3"]),
    "locks.unlock": lambda c, u: locks.unlock(c.db, u, c.study["A3"]),
    "migrated.mark": lambda c, u: migrated.mark(c.db, u, c.study["A3"]),
    "migrated.unmark": lambda c, u: migrated.mark(c.db, u, c.study["A3"], migrated=False),
    "assignments.assign": lambda c, u: assignments.assign(c.db, u, c.study["A3"], "rob"),
    "assignments.unassign": lambda c, u: assignments.assign(c.db, u, c.study["A3"], None),
    "ai.request_rescan": lambda c, u: ai.request_rescan(c.home, c.db, u, c.study["A3"]),
    "ai.send_rescans": lambda c, u: ai.send_rescans(c.home, u, c.study["A3"]),
    "sharing.share": lambda c, u: sharing.share(c.db, u, [c.study["A3"]], "rob"),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_change_refuses_a_name_for_a_user_and_writes_nothing(cache, name):
    home, db = cache.home, cache.db
    before = state(home, db)
    with pytest.raises(TypeError, match="needs the acting User, not str 'admin'"):
        CALLS[name](cache, NAME)
    assert not db.conn.in_transaction, f"{name} left a transaction open"
    after = state(home, db)
    changed = [t for t in before["rows"] if before["rows"][t] != after["rows"].get(t)]
    assert not changed, f"{name} with a bare name wrote to {changed}"
    assert after["files"] == before["files"], f"{name} with a bare name touched files"


# calls that only plan, or find nothing to undo here (no lock, mark, assignment or waiting
# request): with the User they write nothing either
READ_ONLY = {"merge.plan_merge_studies", "merge.plan_merge_patients", "trash.plan_delete",
             "reallocate.plan_reallocation",
             "ai.send_rescans", "locks.unlock", "migrated.unmark", "assignments.unassign"}


@pytest.mark.parametrize("name", sorted(set(CALLS) - READ_ONLY))
def test_with_the_user_the_same_call_writes(cache, admin, name):
    """The refusal above is about the name, not the call: with the User the
    same call on the same data goes through and writes (so "nothing
    written" above is a real check)."""
    before = state(cache.home, cache.db)
    CALLS[name](cache, accounts.get_user(cache.db, admin))
    assert state(cache.home, cache.db)["rows"] != before["rows"]


def test_a_name_is_refused_before_the_rules_and_never_audited(cache):
    """Without --force a reallocation to another patient's study is refused
    by a rule, and that refusal is audited under the user; for a bare name
    the name is refused first, so no audit entry carries a name that was
    never checked."""
    planned = reallocate.plan_reallocation(cache.home, cache.db, cache.user,
                                           cache.series[cache.study["A3"]], cache.study["A1"])
    before = state(cache.home, cache.db)
    with pytest.raises(TypeError, match="needs the acting User, not str 'admin'"):
        reallocate.apply_reallocation(cache.home, cache.db, NAME, planned)
    assert state(cache.home, cache.db) == before
