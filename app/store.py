"""Image files on disk, placed by UID hierarchy under the home.

Writes go to a temporary name in this process's private folder under
``home/tmp`` (same file system), are flushed and synced, and are renamed into
place by the caller inside the transaction that records them (see
:class:`PendingFile`). A file without a row can exist for a
moment (crash between rename and commit) and is harmless; a row without a
file cannot.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from app.home import Home
from app.parallel import process_alive

_UID_RE = re.compile(r"^[0-9.]{1,64}$")
CHUNK = 1 << 20


def safe_uid(uid: str) -> str:
    """A UID usable as a path component; anything odd is hashed."""
    if _UID_RE.match(uid) and ".." not in uid and not uid.startswith("."):
        return uid
    return "x" + hashlib.sha1(uid.encode()).hexdigest()


def relative_path(study_uid: str, series_uid: str, sop_uid: str) -> Path:
    return Path("store") / safe_uid(study_uid) / safe_uid(series_uid) / (safe_uid(sop_uid) + ".dcm")


# A path whose name is not valid UTF-8 (possible on POSIX file systems) cannot
# be SQLite text as it is: a row keeps its bytes, percent-escaped, after this
# mark (see stored_path); absolute() gives the very same bytes back.
ESCAPED_PATH = "fs-bytes:"


def stored_path(path: os.PathLike | str) -> str:
    """How a row keeps the path of a file (read it back with :func:`absolute`)."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
        if not text.startswith(ESCAPED_PATH):
            return text
    except UnicodeEncodeError:
        pass
    return ESCAPED_PATH + urllib.parse.quote_from_bytes(os.fsencode(text), safe="/")


def absolute(home: Home, path: str) -> Path:
    """The file of an instance row (relative to the home, or absolute when
    linked; a path kept escaped by :func:`stored_path` is decoded here)."""
    if path.startswith(ESCAPED_PATH):
        path = os.fsdecode(urllib.parse.unquote_to_bytes(path[len(ESCAPED_PATH):]))
    p = Path(path)
    return p if p.is_absolute() else home.root / p


@dataclass
class PendingFile:
    """A complete, synced file at a temporary name, waiting to be renamed."""

    tmp: Path
    final: Path

    def commit(self) -> None:
        os.replace(self.tmp, self.final)

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)

    def uncommit(self) -> None:
        """Undo :meth:`commit` when the transaction recording it failed."""
        if self.final.exists() and not self.tmp.exists():
            os.replace(self.final, self.tmp)
        self.discard()


def scratch(home: Home) -> Path:
    """This process's private temporary folder (removed on the next open of
    the home once the process is gone)."""
    folder = home.tmp / f"p{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_to(folder: Path, data: bytes) -> Path:
    """A complete file with *data* under a new name in *folder* (make it
    durable with :func:`make_durable` before a row refers to it)."""
    tmp = folder / f"{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
    except BaseException:  # a full disk: nothing half-written stays behind
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def make_durable(paths: list[Path]) -> None:
    """Flush written files to the disk before the transaction that records
    them. One sync of the file systems costs far less than a sync per file
    (measured in bench/reallocate.py); where there is no os.sync, each file
    is synced."""
    if not paths:
        return
    if hasattr(os, "sync"):
        os.sync()
        return
    for path in paths:
        with open(path, "rb+") as f:
            os.fsync(f.fileno())


def write_synced(folder: Path, data, overlap=None) -> tuple[Path, object]:
    """Like :func:`write_to`, and the file synced (``fdatasync``) before it
    returns: the path, and what ``overlap()`` returned (work done while the
    disk syncs, e.g. a hash of *data*; both release the GIL)."""
    tmp = folder / f"{uuid.uuid4().hex}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if overlap is None:
                _datasync(fd)
                return tmp, None
            syncing = _syncer().submit(_datasync, fd)
            try:
                value = overlap()
            finally:
                syncing.result()
            return tmp, value
        finally:
            os.close(fd)
    except BaseException:  # a full disk: nothing half-written stays behind
        tmp.unlink(missing_ok=True)
        raise


def write_new_synced(final: Path, data, overlap=None) -> Optional[tuple[Path, object]]:
    """Write *data* as the new file *final* (its folders created as needed)
    and make it durable: ``overlap()`` runs (e.g. a hash of *data*, which
    releases the GIL), then the file's content and its directory entries
    (the file's and those of the folders leading to it) are synced, all on
    the calling thread; returns *final* and what ``overlap()`` returned, or
    None when *final* exists already. (Handing the syncs to another thread
    to overlap them with the hash cost more CPU than it saved time, see
    docs/performance/network.md.) A file written in place like this has no
    row yet: until the transaction naming it commits it is like a rename
    into the store before a commit (removed with the row's transaction when
    that fails, swept at open after a kill)."""
    path = os.fspath(final)
    parent = os.path.dirname(path)  # a string: hashing a Path joins its parts anew each time
    created = []
    known = parent in _SYNCED
    if not known:
        folder = final.parent
        while not folder.exists():
            created.append(folder)
            folder = folder.parent
        final.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    except FileExistsError:
        return None
    except FileNotFoundError:
        if not known:
            raise
        _SYNCED.discard(parent)  # the folder went away since (a study deleted)
        return write_new_synced(final, data, overlap)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            # a folder not known synced may have been created by another
            # thread whose syncs are not done yet: its parents are synced too
            value = overlap() if overlap is not None else None
            _datasync(fd)
            if known:
                if os.name != "nt":
                    _sync_directory(parent)
            else:
                sync_directories([*final.parents[:3], *(f.parent for f in created)])
                if len(_SYNCED) >= _SYNCED_LIMIT:
                    _SYNCED.clear()
                _SYNCED.add(parent)
            return final, value
        finally:
            os.close(fd)
    except BaseException:
        final.unlink(missing_ok=True)
        raise


# Folders whose own entries, and those leading to them, are known durable:
# write_new_synced neither looks for them nor syncs their parents again.
# Bounded, as a long-running listener writes into ever new series.
_SYNCED: set[str] = set()
_SYNCED_LIMIT = 4096


def sync_file(path: Path) -> None:
    """Make one complete file's content durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        _datasync(fd)
    finally:
        os.close(fd)


def sync_directories(folders) -> None:
    """Make the entries of *folders* durable (files renamed or created in
    them). On Windows a directory cannot be opened to sync it; NTFS journals
    its entries."""
    if os.name == "nt":
        return
    for folder in dict.fromkeys(folders):
        _sync_directory(folder)


def _sync_directory(folder) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_all(files, folders=()) -> None:
    """Make *files* (their content) and the entries of *folders* durable, the
    syncs issued at once from several threads (the disk serves them
    together; one after the other each waits for its own flush)."""
    jobs = [(sync_file, f) for f in dict.fromkeys(files)] + \
           [(sync_directories, [d]) for d in dict.fromkeys(folders) if os.name != "nt"]
    if len(jobs) <= 1:
        for fn, arg in jobs:
            fn(arg)
        return
    for future in [_syncer().submit(fn, arg) for fn, arg in jobs]:
        future.result()


def _datasync(fd: int) -> None:
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


_SYNCER = None
_SYNCER_LOCK = threading.Lock()


def _syncer():
    """Threads that sync files while the caller goes on (:func:`write_synced`)."""
    global _SYNCER
    with _SYNCER_LOCK:
        if _SYNCER is None:
            _SYNCER = ThreadPoolExecutor(max_workers=8, thread_name_prefix="studydesk-sync")
        return _SYNCER


def copy_to(folder: Path, source: Path) -> tuple[Path, str, int]:
    """Stream *source* to a new file in *folder*; return it with the SHA-256
    and the size of what was written (see :func:`make_durable`)."""
    tmp = folder / f"{uuid.uuid4().hex}.tmp"
    digest = hashlib.sha256()
    size = 0
    try:
        with open(source, "rb") as src, open(tmp, "wb") as dst:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                dst.write(chunk)
                size += len(chunk)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, digest.hexdigest(), size


def adopt_file(final: Path, source: Path) -> PendingFile:
    """A complete file already in the home's temporary area (a staged copy,
    a ZIP member, a received dataset): it only needs renaming into place."""
    final.parent.mkdir(parents=True, exist_ok=True)
    return PendingFile(source, final)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sweep_temporaries(home: Home) -> int:
    """Remove the private temporary folders of processes that are gone
    (what an interrupted write left behind). Run when the home is opened."""
    removed = 0
    if not home.tmp.exists():
        return 0
    for folder in home.tmp.iterdir():
        name = folder.name
        if folder.is_dir() and name[:1] == "p" and name[1:].isdigit() and not process_alive(int(name[1:])):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed
