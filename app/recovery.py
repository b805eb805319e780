"""What a killed process leaves in a home, found and removed on the next open.

A process that is killed (kill -9, a crash) can leave, besides a pending
change (app.changes.journal.recover) and its private temporaries
(app.store.sweep_temporaries):

- store files that no row names: an import or a receive renames a file into
  the store inside the transaction that records it, so a kill between the
  rename and the commit leaves the file and no row;
- partial outputs: an export writes ``.NAME.<hex>.partial`` beside its
  destination and renames it when complete; killed, the partial stays.

How they are found without touching what live processes are doing:

- Every process that opens a home registers a *session*: the file
  ``run/<pid>``, holding the time it started. A clean exit removes it
  (atexit), so a session whose process is gone means that process ended
  uncleanly.
- Each partial output a process starts is registered in its session
  (``run/<pid>.partials``, by :func:`register_partial`, before the file is
  made) and released when it is renamed or removed. A dead session's
  registered partials that are still there are removed.
- A dead session also marks a sweep as due (``run/sweep-pending``, kept
  until a sweep completes, so a crash during a sweep is resumed). The sweep
  removes the files of the store and the trash that no row names
  (instances, the journal's file operations, which keep old versions for
  undo, the outbox, staged research instances; a rolled-back change's
  files are not kept) and whose inode last changed (``st_ctime``, which a
  rename sets) before the start of every live session, this one included:
  such a file cannot be one that a live process renamed in and has yet to
  commit, because every live process started after it. Files newer than
  that stay, and the sweep stays due. Empty folders are pruned only when
  this process holds the home alone.

Each removal is said in the log (logger ``studydesk``; the home's log file
when it has one).
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import shutil
import time
from pathlib import Path, PurePosixPath
from typing import Optional

from app.parallel import process_alive

log = logging.getLogger("studydesk")

RUN = "run"                  # in the home: run/<pid> holds a process's start (ns since the epoch)
PARTIALS = ".partials"       # run/<pid>.partials: one file per partial output, holding its path
PENDING = "sweep-pending"    # run/sweep-pending: a store sweep is due

# homes this process opened: root -> its session file
_SESSIONS: dict[str, Path] = {}
_OWNER = {"pid": None}


# -- sessions ---------------------------------------------------------------------------


def _session_pid(path: Path) -> Optional[int]:
    return int(path.name) if path.name.isdigit() and path.is_file() else None


def register_session(root: Path) -> Path:
    """Record that this process holds the home (see the module text)."""
    folder = root / RUN
    folder.mkdir(parents=True, exist_ok=True)
    session = folder / str(os.getpid())
    if not session.exists():
        session.write_text(str(time.time_ns()))
    _SESSIONS[str(root)] = session
    if _OWNER["pid"] != os.getpid():
        _OWNER["pid"] = os.getpid()
        atexit.register(_clean_close)
    return session


def _clean_close() -> None:
    """A clean exit: this process's sessions go (a forked child leaves its
    parent's alone)."""
    if _OWNER["pid"] != os.getpid():
        return
    for session in list(_SESSIONS.values()):
        if session.name == str(os.getpid()):
            shutil.rmtree(_partials(session), ignore_errors=True)
            session.unlink(missing_ok=True)
    _SESSIONS.clear()


def end_session(root: Path) -> None:
    """This process lets go of the home at *root* (what a clean exit does)."""
    session = _SESSIONS.pop(str(root), None)
    if session is not None and _OWNER["pid"] == os.getpid():
        shutil.rmtree(_partials(session), ignore_errors=True)
        session.unlink(missing_ok=True)


def _partials(session: Path) -> Path:
    return session.with_name(session.name + PARTIALS)


def _started(session: Path) -> int:
    """When a session started (ns); the file's own time when its record is
    not written yet (the earlier of the two)."""
    try:
        made = session.stat().st_ctime_ns
    except FileNotFoundError:
        return time.time_ns()
    try:
        return min(int(session.read_text()), made)
    except ValueError:
        return made


# -- partial outputs --------------------------------------------------------------------


def _key(path: Path) -> str:
    return hashlib.sha1(os.fsencode(str(path))).hexdigest()


def register_partial(path: os.PathLike | str) -> None:
    """Note a partial output this process is about to create, in every home
    it opened, so that a kill leaves no partial for good. Call before the
    file is made; :func:`release_partial` once it is renamed or removed."""
    if _OWNER["pid"] != os.getpid():
        return  # a forked child: its parent's sessions are not its own
    path = Path(os.path.abspath(path))
    for session in _SESSIONS.values():
        try:
            _partials(session).mkdir(parents=True, exist_ok=True)
            (_partials(session) / _key(path)).write_bytes(os.fsencode(str(path)))
        except OSError as e:  # the home is unwritable: the export itself will say more
            log.debug("partial %s not registered in %s: %s", path, session, e)


def release_partial(path: os.PathLike | str) -> None:
    if _OWNER["pid"] != os.getpid():
        return
    path = Path(os.path.abspath(path))
    for session in _SESSIONS.values():
        (_partials(session) / _key(path)).unlink(missing_ok=True)


# -- recovery at open -------------------------------------------------------------------


def collect_dead_sessions(root: Path) -> list[str]:
    """Run at open: remove the partial outputs of processes that ended
    uncleanly, mark a store sweep due, and let their sessions go. Returns
    the partial outputs removed."""
    removed: list[str] = []
    run = root / RUN
    if not run.exists():
        return removed
    dead = [f for f in run.iterdir() if (pid := _session_pid(f)) is not None and not process_alive(pid)]
    if not dead:
        return removed
    (run / PENDING).write_text(",".join(f.name for f in dead))
    for session in dead:
        registered = _partials(session)
        for entry in (registered.iterdir() if registered.is_dir() else ()):
            try:
                target = Path(os.fsdecode(entry.read_bytes()))
            except OSError:
                continue
            if target.is_file() and not target.is_symlink():
                target.unlink(missing_ok=True)
                removed.append(str(target))
                log.warning("recovery: removed the partial output %s left by process %s, which "
                            "ended while writing it", target, session.name)
            entry.unlink(missing_ok=True)
        shutil.rmtree(registered, ignore_errors=True)
        session.unlink(missing_ok=True)
    return removed


def _referenced(db) -> set[str]:
    """Every file path (relative to the home, POSIX) a row names."""
    import json

    names: set[str] = set()
    for table in ("instances", "outbox", "staged_instances"):
        try:
            names.update(p for (p,) in db.execute(f"SELECT path FROM {table} WHERE path IS NOT NULL"))
        except Exception:  # noqa: BLE001 - a table an older schema does not have
            continue
    for (plan,) in db.execute("SELECT plan FROM changes WHERE state != 'failed'"):
        try:
            ops = json.loads(plan).get("files", [])
        except ValueError:
            continue
        for op in ops:
            names.update(op.get(k) for k in ("old", "new") if op.get(k))
    return {str(PurePosixPath(n)) for n in names if not os.path.isabs(n)}


def sweep_store(root: Path, folders: list[Path], db) -> list[str]:
    """When a sweep is due (a session ended uncleanly), remove the files in
    *folders* (the store, the trash) that no row names and that every live
    session postdates (see the module text). Returns the removed
    paths (relative to the home)."""
    run = root / RUN
    marker = run / PENDING
    if not marker.exists():
        return []
    live = [f for f in run.iterdir() if (pid := _session_pid(f)) is not None and process_alive(pid)]
    cutoff = min([_started(f) for f in live] + [time.time_ns()])
    alone = all(_session_pid(f) == os.getpid() for f in live)
    referenced = _referenced(db)
    removed: list[str] = []
    later = 0
    for folder, dirs, files in (walk for top in folders for walk in os.walk(top)):
        for name in files:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            if rel in referenced:
                continue
            try:
                if path.lstat().st_ctime_ns >= cutoff:
                    later += 1  # a live process may be recording it right now
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            removed.append(rel)
    if alone:
        walks = [walk for top in folders for walk in os.walk(top)]
        for folder, dirs, files in sorted(walks, key=lambda w: -len(Path(w[0]).parts)):
            if Path(folder) not in folders:
                try:
                    Path(folder).rmdir()
                except OSError:
                    pass
    if removed:
        shown = ", ".join(removed[:10]) + (f" and {len(removed) - 10} more" if len(removed) > 10 else "")
        log.warning("recovery: removed %d files of the store and trash that no row names (left by "
                    "a killed import, receive or trash emptying): %s", len(removed), shown)
    if later:
        log.info("recovery: %d store files that no row names are newer than a live process; "
                 "they are looked at again on a later open", later)
    else:
        marker.unlink(missing_ok=True)
    return removed
