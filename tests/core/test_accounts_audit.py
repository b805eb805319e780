"""Accounts, privileges from roles, scrypt passwords, the audit hash chain."""

from __future__ import annotations

import pytest

from app import accounts, audit
from app.db import transaction
from app.errors import BadInput, NotAllowed


@pytest.fixture
def db(home):
    conn = home.connect()
    yield conn
    conn.close()


def test_a_new_home_has_the_os_login_as_admin(db, admin):
    users = accounts.list_users(db)
    assert [(u.name, sorted(u.roles)) for u in users] == [(admin, ["admin"])]


def test_privileges_follow_roles(db, admin):
    boss = accounts.get_user(db, admin)
    cm = accounts.add_user(db, boss, "carla", ["content-manager"])
    rad = accounts.add_user(db, boss, "rob", ["radiologist"])
    assert cm.can("content-management") and not rad.can("content-management")
    assert rad.can("read") and not rad.can("manage-users")
    with pytest.raises(NotAllowed, match="content-management privilege"):
        rad.require("content-management", "merge studies")
    with pytest.raises(NotAllowed, match="manage-users"):
        accounts.add_user(db, rad, "eve", ["admin"])


def test_bad_accounts_are_refused(db, admin):
    boss = accounts.get_user(db, admin)
    with pytest.raises(BadInput, match="unknown role wizard"):
        accounts.add_user(db, boss, "x", ["wizard"])
    with pytest.raises(BadInput, match="one word"):
        accounts.add_user(db, boss, "two words", ["clerk"])
    accounts.add_user(db, boss, "dup", ["clerk"])
    with pytest.raises(BadInput, match="already exists"):
        accounts.add_user(db, boss, "dup", ["clerk"])


def test_passwords_are_scrypt_hashes(db, admin):
    boss = accounts.get_user(db, admin)
    accounts.add_user(db, boss, "pia", ["radiologist"], password="s3cret!")
    stored = db.execute("SELECT password_hash FROM users WHERE name = 'pia'").fetchone()[0]
    assert stored.startswith("scrypt$") and "s3cret" not in stored
    assert accounts.authenticate(db, "pia", lambda: "s3cret!").name == "pia"
    with pytest.raises(NotAllowed, match="wrong or missing password"):
        accounts.authenticate(db, "pia", lambda: "guess")
    with pytest.raises(NotAllowed, match="not an account"):
        accounts.authenticate(db, "mallory", lambda: None)
    failures = [e for e in audit.entries(db) if e["action"] == "login"]
    assert failures and failures[-1]["outcome"] == audit.MINOR_FAILURE


def test_audit_chain_verifies_and_names_tampering(db, admin):
    with transaction(db):
        for n in range(5):
            audit.record(db, admin, "import", audit.IMPORT, objects=[f"1.2.{n}"], detail=str(n))
    assert audit.verify(db) is None
    entries = audit.entries(db)
    target = entries[3]["id"]
    db.execute("UPDATE audit SET detail = 'nothing happened' WHERE id = ?", [target])
    broken = audit.verify(db)
    assert broken["id"] == target and "altered" in broken["reason"]


def test_audit_chain_notices_a_removed_entry(db, admin):
    with transaction(db):
        for n in range(4):
            audit.record(db, admin, "query", audit.QUERY, detail=str(n))
    ids = [e["id"] for e in audit.entries(db)]
    db.execute("DELETE FROM audit WHERE id = ?", [ids[2]])
    assert audit.verify(db)["id"] == ids[3]


def test_audit_filters_by_study_and_time(db, admin):
    with transaction(db):
        audit.record(db, admin, "import", audit.IMPORT, objects=["1.2.3"])
        audit.record(db, admin, "import", audit.IMPORT, objects=["4.5.6"])
    assert [e["objects"] for e in audit.entries(db, study="4.5.6")] == [["4.5.6"]]
    assert audit.entries(db, since="2999-01-01") == []
