"""The cache: SQLite (WAL) through sqlite-utils, schema by numbered migrations.

Column names follow DICOM keywords in snake case (``study_instance_uid``); the
one keyword-to-column map is :mod:`app.dicom.columns`.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlite_utils

from app.db.schema import MIGRATIONS


def connect(path: Path | str) -> sqlite_utils.Database:
    # isolation_level=None: we open transactions ourselves (BEGIN IMMEDIATE),
    # so a change and its audit entry commit together or not at all.
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return sqlite_utils.Database(conn)


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """An exclusive-for-writers transaction; nested use joins the outer one."""
    conn = db.conn
    if conn.in_transaction:
        yield db
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        _AFTER_COMMIT.pop(id(conn), None)
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
        for callback in _AFTER_COMMIT.pop(id(conn), []):
            callback()


# connection id -> what to run once its open transaction commits
_AFTER_COMMIT: dict[int, list] = {}


def after_commit(db: sqlite_utils.Database, callback) -> None:
    """Run *callback* once the open transaction commits (dropped when it
    rolls back); at once when no transaction is open (the audit head file)."""
    if not db.conn.in_transaction:
        callback()
        return
    _AFTER_COMMIT.setdefault(id(db.conn), []).append(callback)


def schema_version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database) -> int:
    """Walk ``user_version`` up to the newest schema, each step atomic."""
    for version, statements in enumerate(MIGRATIONS, start=1):
        if schema_version(db) >= version:
            continue
        with transaction(db):
            # Re-read inside the lock: another process may have migrated.
            if schema_version(db) >= version:
                continue
            for statement in statements:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {version}")
    return schema_version(db)
