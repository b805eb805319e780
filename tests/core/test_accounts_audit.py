"""Accounts, privileges from roles, scrypt passwords, the audit hash chain."""

from __future__ import annotations

import pytest

from app.accounts import accounts
from app.accounts import audit
from app.accounts import audit_anchor
from app.db import transaction
from app.errors import BadInput, NotAllowed
from app.startup import open_home


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


# -- the anchored chain (keyed hashes, head row, head file, journal link) -------------


def _fill(db, admin, n=5):
    with transaction(db):
        for i in range(n):
            audit.record(db, admin, "import", audit.IMPORT, objects=[f"1.2.{i}"], detail=str(i))
    return [e["id"] for e in audit.entries(db)]


def test_the_key_is_made_with_the_home_and_only_its_owner_reads_it(home):
    key = home.root / audit_anchor.KEY_FILE
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
    assert (home.root / audit_anchor.HEAD_FILE).exists()


def test_removing_the_newest_entries_is_caught(db, admin):
    ids = _fill(db, admin)
    assert audit.verify(db) is None
    db.execute("DELETE FROM audit_objects WHERE audit_id >= ?", [ids[-2]])
    db.execute("DELETE FROM audit WHERE id >= ?", [ids[-2]])
    broken = audit.verify(db)
    assert broken["id"] == ids[-2] and "newest 2 entries were removed" in broken["reason"]


def test_removing_the_newest_entries_and_putting_back_an_old_head_is_caught(db, admin):
    ids = _fill(db, admin, 3)
    old_head = db.execute("SELECT * FROM audit_head").fetchone()
    more = _fill(db, admin, 2)[len(ids):]
    db.execute("DELETE FROM audit_objects WHERE audit_id >= ?", [more[0]])
    db.execute("DELETE FROM audit WHERE id >= ?", [more[0]])
    db.execute("DELETE FROM audit_head")
    db.execute("INSERT INTO audit_head VALUES (?, ?, ?, ?, ?, ?)", list(old_head))
    broken = audit.verify(db)   # the head row agrees again; the head file does not
    assert broken["id"] == more[0] and "head file" in broken["reason"]


def test_an_altered_head_file_is_caught(home, db, admin):
    _fill(db, admin, 3)
    path = home.root / audit_anchor.HEAD_FILE
    path.write_bytes(path.read_bytes().replace(b'"count": ', b'"count": 1'))
    assert "head file" in audit.verify(db)["reason"]


def test_a_forged_head_row_is_caught(db, admin):
    ids = _fill(db, admin)
    db.execute("DELETE FROM audit_objects WHERE audit_id = ?", [ids[-1]])
    db.execute("DELETE FROM audit WHERE id = ?", [ids[-1]])
    last = db.execute("SELECT hash FROM audit WHERE id = ?", [ids[-2]]).fetchone()[0]
    db.execute("UPDATE audit_head SET count = count - 1, last_id = ?, last_hash = ?", [ids[-2], last])
    assert "head was altered" in audit.verify(db)["reason"]


def test_rehashing_the_whole_chain_without_the_key_is_caught(db, admin):
    import hashlib
    import json

    ids = _fill(db, admin)
    db.execute("UPDATE audit SET detail = 'nothing happened' WHERE id = ?", [ids[2]])
    prev = audit_anchor.GENESIS   # what a forger can do: re-chain with plain SHA-256
    for row in db.execute(f"SELECT {audit_anchor._ROW} FROM audit ORDER BY id").fetchall():
        fields = dict(zip(audit_anchor._ROW.split(", "), row))
        body = json.dumps({k: fields[k] for k in audit_anchor._HASHED}, sort_keys=True,
                          separators=(",", ":"), ensure_ascii=False)
        new = hashlib.sha256((prev + body).encode()).hexdigest()
        db.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", [prev, new, fields["id"]])
        prev = new
    broken = audit.verify(db)
    assert broken["id"] == audit.entries(db)[0]["id"] and "keyed hash" in broken["reason"]


def test_a_crash_before_the_head_file_is_written_is_not_tampering(home, db, admin):
    _fill(db, admin, 2)
    behind = (home.root / audit_anchor.HEAD_FILE).read_bytes()
    _fill(db, admin, 3)
    assert (home.root / audit_anchor.HEAD_FILE).read_bytes() != behind
    (home.root / audit_anchor.HEAD_FILE).write_bytes(behind)   # as a crash after the commit leaves it
    assert audit.verify(db) is None
    open_home(home.root)                                 # the next open catches up
    count = db.execute("SELECT count(*) FROM audit").fetchone()[0]
    key = (home.root / audit_anchor.KEY_FILE).read_bytes()
    assert audit_anchor._read_file(home.root, key)["count"] == count


def test_an_old_home_is_anchored_at_open(home, db, admin):
    """A home made before the key: unkeyed chain, no head, no key file."""

    _fill(db, admin, 3)
    db.execute("DELETE FROM audit_head")
    db.execute("UPDATE audit SET change_id = NULL, change_digest = NULL")
    prev = audit_anchor.GENESIS
    for row in db.execute(f"SELECT {audit_anchor._ROW} FROM audit ORDER BY id").fetchall():
        fields = dict(zip(audit_anchor._ROW.split(", "), row))
        new = audit_anchor._legacy_hash(prev, fields)
        db.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", [prev, new, fields["id"]])
        prev = new
    (home.root / audit_anchor.KEY_FILE).unlink()
    (home.root / audit_anchor.HEAD_FILE).unlink()
    open_home(home.root)
    assert (home.root / audit_anchor.KEY_FILE).exists() and audit.verify(db) is None
    last = audit.entries(db)[-1]
    assert last["action"] == "audit-anchor" and "4 earlier entries re-anchored" in last["detail"] \
        and "was intact" in last["detail"]
    db.execute("DELETE FROM audit WHERE id = ?", [last["id"]])
    assert audit.verify(db)["id"] == last["id"]



def test_removing_the_newest_entries_with_the_head_row_is_caught(home, db, admin):
    ids = _fill(db, admin, 4)
    db.execute("DELETE FROM audit_objects WHERE audit_id = ?", [ids[-1]])
    db.execute("DELETE FROM audit WHERE id = ?", [ids[-1]])
    db.execute("DELETE FROM audit_head")
    open_home(home.root)          # opening does not launder it
    broken = audit.verify(db)
    assert broken is not None and broken["id"] == ids[-1]
    alert = audit.entries(db)[-1]
    assert alert["action"] == "audit-head-missing" and alert["outcome_code"] == 12


def test_a_removed_head_file_is_not_made_again(home, db, admin):
    _fill(db, admin, 2)
    (home.root / audit_anchor.HEAD_FILE).unlink()
    open_home(home.root)
    _fill(db, admin, 1)
    assert "head file (audit.head) is missing" in audit.verify(db)["reason"]


def test_the_rebuilt_head_stays_on_record(home, db, admin):
    _fill(db, admin, 2)
    db.execute("DELETE FROM audit_head")
    open_home(home.root)
    alert = audit.entries(db)[-1]
    broken = audit.verify(db)
    assert broken["id"] == alert["id"] and "head was removed" in broken["reason"]
