"""The outbox's administration without a network: the V4 migration keeps
every entry, ids by their tail, counts per state, assignment, discard and
restore (each audited, refusals with their reasons), the AI rescan flag
following a discarded request, and the listing naming the patient even when
a rejection note's study has left the cache."""

from __future__ import annotations

import sqlite3

import pytest

from app.accounts import accounts
from app.changes import ai
from app.net.outbox import queue as outbox
from app.net.outbox import admin as outbox_admin
from app.db import migrate, schema_version, transaction
from app.db.schema import MIGRATIONS
from app.errors import BadInput, NotAllowed, NotFound, RuleRefused
from app.importing.importer import import_paths
from app.net.nodes import add_node
from tests.factories import uid, write_series


@pytest.fixture
def setup(home, tmp_path, admin):
    write_series(tmp_path / "src", 2, patient_id="OBP", patient_name="QUEUE^QUINN", study="s",
                 accession="OB1", description="CT CHEST")
    import_paths(home, [tmp_path / "src"], admin)
    db = home.connect()
    boss = accounts.get_user(db, admin)
    users = {"admin": boss, "carla": accounts.add_user(db, boss, "carla", ["content-manager"]),
             "cleo": accounts.add_user(db, boss, "cleo", ["clerk"]),
             "rita": accounts.add_user(db, boss, "rita", ["researcher"])}
    add_node(db, boss, "pacs", "PACS", "127.0.0.1", 11112, purposes=["query-retrieve", "store"])
    add_node(db, boss, "aibox", "AIBOX", "127.0.0.1", 11113, purposes=["ai"])
    yield home, db, users, uid("OBP", "s")
    db.close()


def test_the_v4_migration_keeps_the_entries_and_allows_discarded(tmp_path):
    conn = sqlite3.connect(tmp_path / "old.sqlite", isolation_level=None)
    for version, statements in enumerate(MIGRATIONS[:3], start=1):
        for statement in statements:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("INSERT INTO outbox (id, time, kind, node, study_instance_uid, sop_instance_uid, state,"
                 " attempts, last_error) VALUES ('e1', 't', 'store', 'pacs', '1.2', '1.2.3', 'failed', 2,"
                 " 'refused')")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE outbox SET state = 'discarded'")
    conn.close()
    from app.db import connect

    db = connect(tmp_path / "old.sqlite")
    assert migrate(db) == len(MIGRATIONS) >= 4 and schema_version(db) == len(MIGRATIONS)
    (row,) = outbox.entries(db)
    assert (row["id"], row["state"], row["attempts"], row["last_error"], row["discard_reason"]) == \
        ("e1", "failed", 2, "refused", "")
    db.execute("UPDATE outbox SET state = 'discarded'")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE outbox SET state = 'lost'")
    indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                                        " AND tbl_name = 'outbox'")}
    assert {"outbox_state", "outbox_study"} <= indexes
    db.close()


def test_ids_by_their_tail_and_counts(setup):
    home, db, users, study = setup
    rows = [outbox.entry(outbox.STORE, None, study, sop=f"1.2.{n}") for n in range(3)]
    outbox.add(db, rows)
    assert outbox.resolve_ids(db, [outbox.short_id(rows[1]["id"]), rows[2]["id"]]) == \
        [rows[1]["id"], rows[2]["id"]]
    with pytest.raises(NotFound):
        outbox.resolve_ids(db, ["abc"])
    with pytest.raises(NotFound):
        outbox.resolve_ids(db, ["ffffffffffff"])
    assert outbox.counts(db) == {"queued": 0, "held": 3, "sent": 0, "failed": 0, "discarded": 0}
    assert outbox.waiting_by_node(db) == [(None, "held", 3)]


def test_assign_discard_restore_with_privileges_and_refusals(setup):
    home, db, users, study = setup
    held = [outbox.entry(outbox.STORE, None, study, sop=f"1.2.{n}", reason="IOCM: corrected instance")
            for n in range(3)]
    outbox.add(db, held)
    ids = [e["id"] for e in held]
    with pytest.raises(NotAllowed):
        outbox_admin.assign_node(db, users["rita"], ids, "pacs")
    with pytest.raises(RuleRefused, match="not a store destination"):
        outbox_admin.assign_node(db, users["cleo"], ids, "aibox")
    with pytest.raises(NotFound):
        outbox_admin.assign_node(db, users["cleo"], ids, "nowhere")
    assert outbox.counts(db)["held"] == 3                     # nothing changed by a refusal
    done = outbox_admin.assign_node(db, users["cleo"], ids[:2], "pacs")
    assert done.done == ids[:2] and done.refused == []
    again = outbox_admin.assign_node(db, users["cleo"], ids, "pacs")
    assert again.done == [ids[2]]
    assert [r["id"] for r in again.refused] == ids[:2] and "it is queued for pacs" in again.refused[0]["reason"]
    assert {e["node"] for e in outbox.entries(db)} == {"pacs"}

    with pytest.raises(NotAllowed):
        outbox_admin.discard(db, users["cleo"], ids[:1], "wrong")
    with pytest.raises(BadInput):
        outbox_admin.discard(db, users["carla"], ids[:1], "  ")
    outbox.mark_sent(db, ids[1])
    dropped = outbox_admin.discard(db, users["carla"], ids[:2], "corrected at the archive by hand")
    assert dropped.done == [ids[0]] and "it is sent" in dropped.refused[0]["reason"]
    (gone,) = outbox.entries(db, state="discarded")
    assert (gone["discarded_by"], gone["discard_reason"]) == ("carla", "corrected at the archive by hand")
    back = outbox_admin.restore(db, users["carla"], [ids[0], ids[2]])
    assert back.done == [ids[0]] and "it is queued" in back.refused[0]["reason"]
    assert [e["state"] for e in outbox.entries(db)] == ["queued", "sent", "queued"]
    trail = [(a, d) for a, d in db.execute("SELECT action, detail FROM audit WHERE action LIKE 'outbox-%'"
                                          " ORDER BY id")]
    assert [a for a, _ in trail] == ["outbox-assign", "outbox-assign", "outbox-discard", "outbox-restore"]
    assert "corrected at the archive by hand" in trail[2][1]


def test_a_discarded_rescan_request_clears_the_flag_and_a_restore_sets_it(setup):
    home, db, users, study = setup
    ai.request_rescan(home, db, users["carla"], study)

    def pending() -> int:
        return db.execute("SELECT ai_rescan_pending FROM studies WHERE study_instance_uid = ?",
                          [study]).fetchone()[0]

    (entry,) = outbox.entries(db)
    assert entry["kind"] == outbox.AI_RESCAN and pending() == 1
    outbox_admin.discard(db, users["carla"], [entry["id"]], "results were fine")
    assert pending() == 0
    outbox_admin.restore(db, users["carla"], [entry["id"]])
    assert pending() == 1 and outbox.entries(db)[0]["state"] == "queued"


def test_the_listing_names_the_patient_also_from_a_note_whose_study_left(setup, tmp_path):
    home, db, users, study = setup
    (note,) = write_series(tmp_path / "note", 1, patient_id="GONE", patient_name="LEFT^LEO", study="old",
                           accession="OLD1")
    (home.root / outbox.FOLDER).mkdir(exist_ok=True)
    note.rename(home.root / outbox.FOLDER / "note.dcm")
    with transaction(db):
        outbox.add(db, [outbox.entry(outbox.STORE, "pacs", study, sop=uid("OBP", "s", "se1", 1)),
                        outbox.entry(outbox.STORE, "pacs", uid("GONE", "old"), sop=uid("GONE", "old", "se1", 1),
                                     path=f"{outbox.FOLDER}/note.dcm", reason="IOCM: rejection note")])
    rows = outbox_admin.listing(home, db)
    assert [(r["patient_name"], r["patient_id"], r["accession_number"]) for r in rows] == \
        [("QUEUE^QUINN", "OBP", "OB1"), ("LEFT^LEO", "GONE", "OLD1")]
    assert outbox_admin.listing(home, db, state=outbox.WAITING, node="pacs") == rows
    assert outbox_admin.listing(home, db, state="held") == []
