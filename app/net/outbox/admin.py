"""What an administrator does with the outbox (app/net/outbox/queue.py), besides sending.

- :func:`listing`: the entries with the patient and study they belong to,
  as far as the cache (or, for a rejection note whose study has left the
  cache, the note itself) knows them.
- :func:`assign_node`: a held entry (its study came from files, not from a
  node) gets a destination and is queued.
- :func:`discard`: an entry that should never be sent is set aside, with who,
  when and why; :func:`restore` brings it back. Nothing is deleted.

Each change is one transaction with its audit entry (DICOM Instances
Accessed, the entries' studies as objects). Several ids at once: each is done
or refused with its reason (:class:`Outcome`), like the command line's
per-input commands.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Iterable, Optional

from app import store
from app.accounts import audit
from app.net.outbox import queue as outbox
from app.accounts.accounts import User
from app.clock import now_iso
from app.db import transaction
from app.errors import BadInput, RuleRefused

# which node purpose an entry's kind needs (app/net/nodes.py PURPOSES)
PURPOSE = {outbox.STORE: "store", outbox.AI_RESCAN: "ai"}


@dataclass
class Outcome:
    done: list[str] = field(default_factory=list)                 # entry ids
    refused: list[dict] = field(default_factory=list)             # {"id", "reason"}
    node: Optional[str] = None

    def to_json(self) -> dict:
        out = {"done": self.done, "refused": self.refused}
        if self.node is not None:
            out["node"] = self.node
        return out


def listing(home, db, state=None, node: Optional[str] = None) -> list[dict]:
    """Entries (``outbox.entries`` filters) as the command line's JSON and the
    window show them."""
    rows = outbox.entries(db, state=state, node=node)
    studies = _studies(db, {r["study_instance_uid"] for r in rows})
    for row in rows:  # a rejection note's study may have left the cache with its last series
        uid = row["study_instance_uid"]
        if uid not in studies and row["path"]:
            studies[uid] = _from_file(home, row["path"])
    return [_shown(row, studies.get(row["study_instance_uid"], {})) for row in rows]


def listing_of(home, state=None, node: Optional[str] = None) -> list[dict]:
    """:func:`listing` on a connection of its own (for a job's thread)."""
    db = home.connect()
    try:
        return listing(home, db, state, node)
    finally:
        db.close()


def _shown(row: dict, study: dict) -> dict:
    return {"id": row["id"], "time": row["time"], "kind": row["kind"], "node": row["node"],
            "study_instance_uid": row["study_instance_uid"], "sop_instance_uid": row["sop_instance_uid"],
            "state": row["state"], "attempts": row["attempts"], "last_error": row["last_error"],
            "reason": row["reason"], "sent_at": row["sent_at"],
            "discarded_by": row["discarded_by"], "discarded_at": row["discarded_at"],
            "discard_reason": row["discard_reason"],
            "patient_id": study.get("patient_id", ""), "patient_name": study.get("patient_name", ""),
            "accession_number": study.get("accession_number", ""), "study_description": study.get("description", ""),
            "study_date": study.get("study_date", "")}


def _studies(db, uids: set[str]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    listed = sorted(uids)
    for start in range(0, len(listed), 500):
        chunk = listed[start:start + 500]
        for uid, pid, name, accession, description, date in db.execute(
                "SELECT s.study_instance_uid, p.patient_id, p.patient_name, s.accession_number,"
                " s.study_description, s.study_date FROM studies s JOIN patients p ON p.id = s.patient_pk"
                f" WHERE s.study_instance_uid IN ({', '.join('?' * len(chunk))})", chunk):
            found[uid] = {"patient_id": pid, "patient_name": name, "accession_number": accession,
                          "description": description, "study_date": date}
    return found


def _from_file(home, path: str) -> dict:
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(store.absolute(home, path), stop_before_pixels=True, force=True,
                                 specific_tags=["PatientID", "PatientName", "AccessionNumber",
                                                "StudyDescription", "StudyDate"])
    except (OSError, ValueError, AttributeError):
        return {}
    return {"patient_id": str(ds.get("PatientID", "")), "patient_name": str(ds.get("PatientName", "")),
            "accession_number": str(ds.get("AccessionNumber", "")),
            "description": str(ds.get("StudyDescription", "")), "study_date": str(ds.get("StudyDate", ""))}


# -- changes ---------------------------------------------------------------------------------


def _rows(db, ids: Iterable[str]) -> list[dict]:
    wanted = outbox.resolve_ids(db, ids)
    if not wanted:
        raise BadInput("outbox: name at least one entry")
    by_id = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        cur = db.execute(f"SELECT * FROM outbox WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
        cols = [d[0] for d in cur.description]
        by_id.update({row[0]: dict(zip(cols, row)) for row in cur.fetchall()})
    return [by_id[i] for i in wanted]


def held_ids(db) -> list[str]:
    return [e["id"] for e in outbox.entries(db, state=outbox.HELD)]


def _why_not(entry: dict, allowed: tuple[str, ...], doing: str) -> str:
    state = entry["state"]
    if state in allowed:
        return ""
    where = f" for {entry['node']}" if entry["node"] and state in (outbox.QUEUED, outbox.FAILED) else ""
    when = f" at {entry['sent_at'][:19]}" if state == outbox.SENT and entry["sent_at"] else ""
    states = ", ".join(allowed[:-1]) + " or " + allowed[-1] if len(allowed) > 1 else allowed[0]
    return f"outbox entry {outbox.short_id(entry['id'])}: it is {state}{where}{when}; only " \
           f"{states} entries can be {doing}"


def _allowed(rows: list[dict], allowed: tuple[str, ...], doing: str, result: "Outcome") -> list[dict]:
    """The entries in one of the *allowed* states; each other one is refused
    in *result*, saying why."""
    done = []
    for entry in rows:
        why = _why_not(entry, allowed, doing)
        if why:
            result.refused.append({"id": entry["id"], "reason": why})
        else:
            done.append(entry)
    return done


def _entries(n: int) -> str:
    return f"{n} outbox entr{'y' if n == 1 else 'ies'}"


def _record(db, user: User, action: str, rows: list[dict], detail: str) -> None:
    studies = sorted({r["study_instance_uid"] for r in rows})
    audit.record(db, user.name, action, audit.INSTANCES_ACCESSED, objects=studies, detail=detail)


def assign_node(db, user: User, ids: Iterable[str], node_name: str) -> Outcome:
    """Held entries get *node_name* as their destination and are queued."""
    from app.net.nodes import get_node

    user.require("network", "choose where held outbox entries are sent")
    node = get_node(db, node_name)
    rows = _rows(db, ids)
    result = Outcome(node=node.name)
    done = _allowed(rows, (outbox.HELD,), "given a node", result)
    for entry in done:
        needed = PURPOSE[entry["kind"]]
        if needed not in node.purposes:
            raise RuleRefused(f"node {node.name}: not a {needed} destination (its purposes: "
                              f"{', '.join(node.purposes) or 'none'}); choose a node for {needed}, or "
                              f"an admin adds the purpose with `node add {node.name} ... --purpose "
                              f"{' '.join(node.purposes + (needed,))} --replace`")
    with transaction(db):
        for entry in done:
            db.execute("UPDATE outbox SET node = ?, state = 'queued', last_error = '' WHERE id = ?"
                       " AND state = 'held'", [node.name, entry["id"]])
        if done:
            _record(db, user, "outbox-assign", done,
                    f"{_entries(len(done))} queued for {node} (they were held)")
    result.done = [e["id"] for e in done]
    return result


def discard(db, user: User, ids: Iterable[str], reason: str) -> Outcome:
    """Set entries aside for good (never sent), keeping them: :func:`restore`."""
    user.require("content-management", "discard outbox entries")
    reason = (reason or "").strip()
    if not reason:
        raise BadInput("outbox discard: give the reason (--reason TEXT): why this must never be sent")
    rows = _rows(db, ids)
    result = Outcome()
    done = _allowed(rows, outbox.WAITING, "discarded", result)
    with transaction(db):
        when = now_iso()
        for entry in done:
            db.execute("UPDATE outbox SET state = 'discarded', discarded_by = ?, discarded_at = ?,"
                       " discard_reason = ? WHERE id = ?", [user.name, when, reason, entry["id"]])
            outbox.settle_rescan_flag(db, entry["id"])
        if done:
            _record(db, user, "outbox-discard", done,
                    f"{_entries(len(done))} discarded (never to be sent): {reason}")
    result.done = [e["id"] for e in done]
    return result


def restore(db, user: User, ids: Iterable[str]) -> Outcome:
    """Discarded entries wait again: queued for their node, or held without one."""
    user.require("content-management", "restore discarded outbox entries")
    rows = _rows(db, ids)
    result = Outcome()
    done = _allowed(rows, (outbox.DISCARDED,), "restored", result)
    with transaction(db):
        for entry in done:
            db.execute("UPDATE outbox SET state = CASE WHEN node IS NULL THEN 'held' ELSE 'queued' END,"
                       " discarded_by = NULL, discarded_at = NULL, discard_reason = '' WHERE id = ?",
                       [entry["id"]])
            outbox.settle_rescan_flag(db, entry["id"])
        if done:
            _record(db, user, "outbox-restore", done, f"{_entries(len(done))} restored (they were discarded)")
    result.done = [e["id"] for e in done]
    return result
