"""Change sets: every change to clinical data, recorded, crash-safe, undoable.

A change set is planned first: the rows it touches as they are (*before*)
and as they will be (*after*), and its file operations. Then it is applied:

1. the plan is committed with state ``pending``;
2. new file versions are written to temporary names (nothing referenced is
   touched);
3. one transaction moves the rows from *before* to *after*, renames the
   files into place, writes the audit entry and sets state ``applied``.

A crash before 3 commits leaves the rows as they were; :func:`recover`
(run when the home is opened) removes what step 2 and 3 left on disk and
marks the change ``failed``. Old file versions stay where they are, so an
undo only points the rows back at them: the inverse change set goes from
*after* to *before*.

File operations:
- ``rewrite``: a new file at ``new`` (headers changed, pixel data as is);
  the file at ``old`` is kept for undo.
- ``move``: the file at ``old`` is renamed to ``new`` (trash); undo renames it back.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from app import store
from app.accounts import audit
from app.db import catalog
from app.parallel import process_alive
from app.clock import now_iso
from app.db import transaction
from app.errors import NotFound, RuleRefused
from app.home import Home
from app.jobs import CancelToken, Progress, no_progress

# table -> primary key column (rows are snapshotted whole)
TABLES = {
    "patients": "id",
    "studies": "study_instance_uid",
    "series": "series_instance_uid",
    "instances": "sop_instance_uid",
    "outbox": "id",   # IOCM's corrected objects, queued to be sent (app/net/outbox/queue.py)
}
# parents first when writing, children first when deleting. A plan journaled before schema
# V7 may hold "measurements" rows (the old table, dropped): not here, so an undo passes them by.
WRITE_ORDER = ("patients", "studies", "series", "instances", "outbox")

# A test-only hook: called with a step name; raising (or killing the
# process) there simulates a crash at that point.
fault_hook: Optional[Callable[[str], None]] = None


def _fault(step: str) -> None:
    if fault_hook is not None:
        fault_hook(step)
    if os.environ.get("STUDYDESK_FAULT") == step:
        os._exit(137)


@dataclass
class FileOp:
    kind: str            # "rewrite" | "move"
    sop: str
    old: str             # path as stored in instances.path
    new: str
    attrs: dict = field(default_factory=dict)   # keyword -> new value (rewrite)

    def to_json(self) -> dict:
        return {"kind": self.kind, "sop": self.sop, "old": self.old, "new": self.new,
                "attrs": self.attrs}


@dataclass
class Plan:
    action: str
    user: str
    reason: str
    objects: list[tuple[str, str]]            # (kind, uid) the change touches
    before: dict[str, list[dict]]
    after: dict[str, list[dict]]
    files: list[FileOp]
    audit_code: str = audit.INSTANCES_ACCESSED
    summary: str = ""

    def to_json(self) -> dict:
        return {"before": self.before, "after": self.after,
                "files": [f.to_json() for f in self.files], "summary": self.summary,
                "audit_code": self.audit_code}


# -- snapshots ---------------------------------------------------------------------------


def snapshot(db, table: str, where: str, params: list) -> list[dict]:
    cur = db.execute(f"SELECT * FROM {table} WHERE {where}", params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def _transition(db, source: dict[str, list[dict]], target: dict[str, list[dict]]) -> None:
    """Make the rows named in *source* and *target* look like *target*:
    write the target rows (parents first), then delete the source rows the
    target no longer has (children first), so references always hold."""
    for table in WRITE_ORDER:
        rows = target.get(table, [])
        if not rows:
            continue
        key = TABLES[table]
        cols = list(rows[0])
        sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c != key)
        db.conn.executemany(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            f" ON CONFLICT ({key}) DO UPDATE SET {sets}",
            [[row[c] for c in cols] for row in rows])
        if table == "patients":
            from app.db.catalog import set_name_parts

            for row in rows:
                set_name_parts(db, row["id"], row["patient_name"])
    for table in reversed(WRITE_ORDER):
        key = TABLES[table]
        keep = {row[key] for row in target.get(table, [])}
        gone = [row[key] for row in source.get(table, []) if row[key] not in keep]
        if table == "series":  # one filled since by an import (a report measured there) stays
            gone = [uid for uid in gone if not db.execute(
                "SELECT 1 FROM instances WHERE series_instance_uid = ? LIMIT 1", [uid]).fetchone()]
        for start in range(0, len(gone), 500):
            chunk = gone[start:start + 500]
            marks = ",".join("?" * len(chunk))
            if table == "studies":  # a study that disappears takes its lock with it
                db.execute(f"DELETE FROM locks WHERE study_instance_uid IN ({marks})", chunk)
            if table == "patients":
                db.execute(f"DELETE FROM patient_name_parts WHERE patient_pk IN ({marks})", chunk)
            db.execute(f"DELETE FROM {table} WHERE {key} IN ({marks})", chunk)


# -- applying -------------------------------------------------------------------------------

PARALLEL_MIN = 64   # rewrites below this many files run in this process
CHUNK = 16


def _rewrite_files(home: Home, plan: Plan, change_id: int, staged: list[tuple[Path, Path]],
                   progress: Progress, cancel: CancelToken) -> dict[str, tuple[int, str]]:
    """Write the new versions to temporary names (worker processes for many
    files); *staged* collects (temporary, final) as they are written."""
    from app import parallel
    from app.changes.rewrite import rewrite_chunk

    ops = [op for op in plan.files if op.kind == "rewrite"]
    scratch = store.scratch(home)
    tasks = []
    for n, op in enumerate(ops, start=1):
        final = store.absolute(home, op.new)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = scratch / f"c{change_id}-{n}.tmp"
        staged.append((tmp, final))
        tasks.append((str(store.absolute(home, op.old)), str(tmp), op.attrs))
    workers = parallel.worker_count() if len(tasks) >= PARALLEL_MIN else 1
    chunks = [tasks[i:i + CHUNK] for i in range(0, len(tasks), CHUNK)]
    written: dict[str, tuple[int, str]] = {}
    total = max(1, len(plan.files))
    for results in parallel.map_chunks(rewrite_chunk, chunks, cancel, workers):
        for result in results:
            written[ops[len(written)].sop] = result
        progress(0.9 * len(written) / total, f"Writing {len(written)} of {total}")
        if len(written) == len(results):
            _fault("first-file")
    if not ops:
        _fault("first-file")
    return written


def apply(home: Home, db, plan: Plan, progress: Optional[Progress] = None,
          cancel: Optional[CancelToken] = None, undoes: Optional[int] = None, check=lambda db: None) -> int:
    """Apply *plan* (see the module docstring); returns the change id. *check(db)*: see _commit."""
    progress = progress or no_progress
    cancel = cancel or CancelToken()
    with transaction(db):
        change_id = db.execute(
            "INSERT INTO changes (time, user, action, reason, objects, state, undoes, owner_pid,"
            " summary, plan) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
            [now_iso(), plan.user, plan.action, plan.reason,
             json.dumps([uid for _, uid in plan.objects]), undoes, os.getpid(), plan.summary,
             json.dumps(plan.to_json())]).lastrowid
        db.conn.executemany("INSERT INTO change_objects (change_id, uid, kind) VALUES (?, ?, ?)",
                            [(change_id, uid, kind) for kind, uid in plan.objects])
    _fault("planned")
    staged: list[tuple[Path, Path]] = []       # (temporary, final) for rewrites
    try:
        written = _rewrite_files(home, plan, change_id, staged, progress, cancel)
        store.make_durable([tmp for tmp, _ in staged])
        _fault("files-written")
        for row in plan.after.get("instances", []):
            if row["sop_instance_uid"] in written:
                row["size"], row["sha256"] = written[row["sop_instance_uid"]]
        _commit(home, db, plan, change_id, staged, undoes, check)
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        if db.execute("SELECT state FROM changes WHERE change_id = ?", [change_id]).fetchone()[0] \
                == "pending":
            _roll_back(home, db, change_id)
        raise
    _fault("committed")
    progress(1.0, "Done")
    return change_id


def _commit(home: Home, db, plan: Plan, change_id: int, staged: list[tuple[Path, Path]],
            undoes: Optional[int], check: Callable) -> None:
    done: list[tuple[Path, Path]] = []         # (from, to) renames made so far
    try:
        with transaction(db):
            check(db)  # the plan's own condition (app.changes.reallocate): raising rolls back
            _transition(db, plan.before, plan.after)
            for tmp, final in staged:
                os.replace(tmp, final)
                done.append((tmp, final))
            for op in plan.files:
                if op.kind == "move":
                    source, target = store.absolute(home, op.old), store.absolute(home, op.new)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(source, target)
                    done.append((source, target))
                    if len(done) == 1:
                        _fault("first-move")
            store.make_durable([target for _, target in done])  # the renames too
            _fault("renamed")
            catalog.refresh_counts(db, [row["study_instance_uid"] for row in plan.after.get("studies", [])])
            db.execute("UPDATE changes SET state = 'applied', plan = ? WHERE change_id = ?",
                       [json.dumps(plan.to_json()), change_id])
            if undoes is not None:
                db.execute("UPDATE changes SET state = 'undone', undone_by = ? WHERE change_id = ?",
                           [change_id, undoes])
            audit.record(db, plan.user, plan.action, plan.audit_code, change_id=change_id,
                         objects=[uid for _, uid in plan.objects],
                         detail=f"change {change_id}: {plan.summary}"
                                + (f"; reason: {plan.reason}" if plan.reason else ""))
    except BaseException:
        for source, target in reversed(done):
            if target.exists() and not source.exists():
                os.replace(target, source)
        raise


def _roll_back(home: Home, db, change_id: int) -> None:
    """Undo on disk what a pending change did; its rows never changed."""
    plan = json.loads(db.execute("SELECT plan FROM changes WHERE change_id = ?",
                                 [change_id]).fetchone()[0])
    for op in plan["files"]:
        old, new = store.absolute(home, op["old"]), store.absolute(home, op["new"])
        if op["kind"] == "move":
            if new.exists() and not old.exists():
                new.parent.mkdir(parents=True, exist_ok=True)
                os.replace(new, old)
        elif new.exists() and new != old:
            new.unlink()
    with transaction(db):
        db.execute("UPDATE changes SET state = 'failed' WHERE change_id = ?", [change_id])


def recover(home: Home, db) -> list[int]:
    """Run when the home is opened: roll back the changes that a process
    which is gone left pending (its rows never changed; its files go)."""
    pending = [cid for cid, pid in db.execute(
        "SELECT change_id, owner_pid FROM changes WHERE state = 'pending' ORDER BY change_id")
        if pid is None or not process_alive(pid)]
    for change_id in pending:
        _roll_back(home, db, change_id)
    return pending


# -- history and undo ----------------------------------------------------------------------


def history(db, study: Optional[str] = None) -> list[dict]:
    """Applied and undone changes, newest first: who, when, what (a one-line
    summary), why, and the studies, series and patients they touched."""
    sql = ("SELECT change_id, time, user, action, reason, objects, state, undone_by, undoes, summary"
           " FROM changes WHERE state IN ('applied', 'undone', 'purged')")
    params: list = []
    if study:
        sql += " AND change_id IN (SELECT change_id FROM change_objects WHERE uid = ?)"
        params.append(study)
    sql += " ORDER BY change_id DESC"
    rows = db.execute(sql, params).fetchall()
    kinds: dict[int, dict[str, list[str]]] = {}
    if rows:
        ids = [r[0] for r in rows]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for change_id, uid, kind in db.execute(
                    "SELECT change_id, uid, kind FROM change_objects WHERE kind != 'instance' AND"
                    f" change_id IN ({','.join('?' * len(chunk))})", chunk):
                kinds.setdefault(change_id, {}).setdefault(kind, []).append(uid)
    return [{"change_id": r[0], "time": r[1], "user": r[2], "action": r[3], "reason": r[4],
             "objects": json.loads(r[5]), "undone": r[6] == "undone", "undone_by": r[7],
             "undoes": r[8], "summary": r[9], "state": r[6],
             "studies": kinds.get(r[0], {}).get("study", []),
             "series": kinds.get(r[0], {}).get("series", []),
             "patients": kinds.get(r[0], {}).get("patient", [])} for r in rows]


def load(db, change_id: int) -> tuple[dict, dict]:
    row = db.execute("SELECT change_id, action, state, user, plan FROM changes WHERE change_id = ?",
                     [change_id]).fetchone()
    if row is None:
        raise NotFound(f"change {change_id}: no such change")
    return {"change_id": row[0], "action": row[1], "state": row[2], "user": row[3]}, json.loads(row[4])


def blocking_change(db, change_id: int) -> Optional[int]:
    """A later applied change touching the same objects, if any."""
    row = db.execute(
        "SELECT min(c.change_id) FROM changes c JOIN change_objects o ON o.change_id = c.change_id"
        " WHERE c.change_id > ? AND c.state IN ('applied', 'purged') AND c.undoes IS NULL AND o.uid IN"
        " (SELECT uid FROM change_objects WHERE change_id = ?)", [change_id, change_id]).fetchone()
    return row[0]


def _sent_entries(db, rows: list[dict]) -> dict[str, str]:
    """Of a change's outbox rows, those already sent: {id: node}."""
    ids = [row["id"] for row in rows]
    if not ids:
        return {}
    found = db.execute("SELECT id, node FROM outbox WHERE state = 'sent' AND id IN (%s)"
                       % ",".join("?" * len(ids)), ids).fetchall()
    return dict(found)


def inverse(db, change_id: int, user: str, reason: str) -> Plan:
    info, plan = load(db, change_id)
    if info["state"] != "applied":
        raise RuleRefused(f"change {change_id}: cannot be undone, it is {info['state']}")
    if info["action"] == "undo":
        raise RuleRefused(f"change {change_id}: is itself an undo")
    later = blocking_change(db, change_id)
    if later is not None:
        raise RuleRefused(f"change {change_id}: a later change ({later}) touches the same "
                          f"objects; undo change {later} first")
    sent = _sent_entries(db, plan["after"].get("outbox", []))
    if sent:
        nodes = ", ".join(sorted({str(node) for node in sent.values()}))
        raise RuleRefused(
            f"change {change_id}: its corrections were already sent to {nodes} ({len(sent)} "
            "objects); an undo here would not change what the archive holds. Reallocate the "
            "series back instead: that sends new corrections")
    files = []
    for op in plan["files"]:
        if op["kind"] == "move":
            files.append(FileOp("move", op["sop"], op["new"], op["old"]))
    objects = [(kind, uid) for uid, kind in db.execute(
        "SELECT uid, kind FROM change_objects WHERE change_id = ?", [change_id])]
    return Plan("undo", user, reason or f"undo of change {change_id}", objects,
                before=plan["after"], after=plan["before"], files=files,
                audit_code=plan.get("audit_code", audit.INSTANCES_ACCESSED),
                summary=f"undo of change {change_id} ({info['action']})")


def undo(home: Home, db, change_id: int, user, reason: str = "",
         progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None,
         action: str = "undo") -> int:
    """Apply the inverse of a change. *user*: the acting User; it must hold
    the content-management privilege, and the studies the change touched
    must be neither locked by another user nor migrated. A refusal is
    written to the audit trail (see :func:`app.changes.rules.audited_refusal`).
    *action*: how a refusal is named there (``restore`` for the trash)."""
    from app.changes import rules

    studies = [uid for (uid,) in db.execute(
        "SELECT uid FROM change_objects WHERE change_id = ? AND kind = 'study'", [change_id])]
    with rules.audited_refusal(db, user, action, studies or [f"change {change_id}"]):
        rules.require(user, "content-management", "undo changes")
        present = [uid for uid in studies if db.execute(
            "SELECT 1 FROM studies WHERE study_instance_uid = ?", [uid]).fetchone()]
        rules.check_locks(db, user, present)
        rules.check_not_migrated(db, present)
        plan = inverse(db, change_id, user.name, reason)
    new_id = apply(home, db, plan, progress, cancel, undoes=change_id)
    _discard_rewritten(home, db, change_id)
    return new_id


def _discard_rewritten(home: Home, db, change_id: int) -> None:
    """After an undo the rewritten versions are referenced by nothing."""
    _, plan = load(db, change_id)
    referenced = {p for (p,) in db.execute(
        "SELECT path FROM instances WHERE sop_instance_uid IN (%s)"
        % ",".join("?" * len(plan["files"])), [op["sop"] for op in plan["files"]])} \
        if plan["files"] else set()
    for op in plan["files"]:
        if op["kind"] == "rewrite" and op["new"] not in referenced:
            store.absolute(home, op["new"]).unlink(missing_ok=True)
