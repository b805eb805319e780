"""Import files, folders, ZIP archives and DICOMDIR media into the cache.

A job (``progress``, ``cancel``). Inputs are first listed (so progress has a
total; :mod:`app.importing.sources`), then each file is *prepared* (header
parsed without pixels; in copy mode a complete, synced copy written to the
home's temporary area) and prepared files are *recorded* in batches: each
batch is one transaction in which the rows are inserted and the copies
renamed into the store, so a row never exists without its complete file.
Large imports prepare files in worker processes (the parse is CPU-bound).
Duplicates by SOP Instance UID are counted, not re-imported; every refused
input is reported with a plain reason.

The two steps are public for the other way files arrive, over the network
(:mod:`app.net.intake`): :class:`Preparer` (``prepare`` a file in the
home's temporary area, or ``prepare_data`` a complete file held in memory)
and :class:`Recorder` (``record`` a batch of :class:`Prepared` files).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional

from app import parallel, store
from app.accounts import audit
from app.db import catalog
from app.accounts.accounts import User
from app.clock import now_iso
from app.db import transaction
from app.dicom.reading import Header, Unreadable, read_header, read_header_in_memory
from app.errors import BadInput, NotFound
from app.home import Home
from app.importing.sources import Source, list_sources, shown
from app.importing.zips import ZipLimits
from app.jobs import CancelToken, Progress, Throttled, no_progress

BATCH_FILES = 200
IN_MEMORY_LIMIT = 32 << 20    # larger files are streamed, not read whole
PARALLEL_MIN = 256            # below this many files, worker start-up costs more than it saves
CHUNK = 32                    # files per task sent to a worker


@dataclass
class ImportResult:
    imported: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)
    studies: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._seen: set[str] = set(self.studies)

    def reject(self, path: str, reason: str) -> None:
        self.rejected.append({"path": path, "reason": reason})

    def add_study(self, uid: str) -> None:
        if uid not in self._seen:
            self._seen.add(uid)
            self.studies.append(uid)

    def to_json(self) -> dict:
        return {"imported": self.imported, "duplicates": self.duplicates,
                "rejected": list(self.rejected), "studies": list(self.studies)}


@dataclass
class Prepared:
    """A prepared file: its header and, in copy mode, its staged copy."""

    source: Source
    header: Header
    sha256: Optional[str] = None
    staged: Optional[Path] = None


# outcome of preparing one source: an item, a refusal reason, or KNOWN
KNOWN = "known"


# -- preparing (runs in the importing thread or in worker processes) --------------------


class Preparer:
    """Reads a file's header, drops a file the cache holds already, and in
    copy mode stages a complete copy in *scratch* with its SHA-256. Owned
    files (in the home's temporary area already) are moved, not copied."""

    def __init__(self, mode: str, scratch: Path, db_path: Path):
        self.mode = mode
        self.scratch = scratch
        self.db_path = db_path
        self._known_db: Optional[sqlite3.Connection] = None

    def close(self) -> None:
        if self._known_db is not None:
            self._known_db.close()
            self._known_db = None

    def known(self, sop_uid: str) -> bool:
        """Already in the cache? (Saves writing a copy of a duplicate; the
        recording transaction checks again.)"""
        if self._known_db is None:
            self._known_db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True,
                                             check_same_thread=False)
        return self._known_db.execute("SELECT 1 FROM instances WHERE sop_instance_uid = ?",
                                      [sop_uid]).fetchone() is not None

    def prepare(self, source: Source) -> Prepared | str:
        try:
            return self._prepare(source)
        except Unreadable as e:
            return str(e)
        except OSError as e:
            return f"unreadable: {e.strerror or e}"

    def _prepare(self, source: Source) -> Prepared | str:
        if source.owned:
            header = read_header(source.path)
            if self.known(header.sop_instance_uid):
                source.path.unlink(missing_ok=True)
                return KNOWN
            return Prepared(source, header, store.sha256_file(source.path), source.path)
        if self.mode == "link":
            return Prepared(source, read_header(source.path))
        if source.path.stat().st_size > IN_MEMORY_LIMIT:
            header = read_header(source.path)
            if self.known(header.sop_instance_uid):
                return KNOWN
            staged, sha, _ = store.copy_to(self.scratch, source.path)
            return Prepared(source, header, sha, staged)
        with open(source.path, "rb") as f:
            data = f.read()
        header = read_header(data)
        if self.known(header.sop_instance_uid):
            return KNOWN
        staged = store.write_to(self.scratch, data)
        return Prepared(source, header, hashlib.sha256(data).hexdigest(), staged)

    def prepare_data(self, display: str, data: bytes | bytearray) -> Prepared | str:
        """A complete file held in memory (a data set received over the
        network). Its header is read from the bytes (a truncated or
        unreadable file is refused before anything is written) and a
        duplicate is dropped; then the bytes are written to the temporary
        area and hashed, both without reading anything back."""
        try:
            header = read_header_in_memory(data)
        except Unreadable as e:
            return str(e)
        if self.known(header.sop_instance_uid):
            return KNOWN
        try:
            staged = store.write_to(self.scratch, data)
        except OSError as e:
            return f"cannot write: {e.strerror or e}"
        return Prepared(Source(display, staged, owned=True), header, hashlib.sha256(data).hexdigest(), staged)

    def prepare_chunk(self, sources: list[Source]) -> list[Prepared | str]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [self.prepare(s) for s in sources]


_worker: Optional[Preparer] = None


def _worker_init(mode: str, scratch: Path, db_path: Path) -> None:
    global _worker
    _worker = Preparer(mode, scratch, db_path)


def _worker_chunk(sources: list[Source]) -> list[Prepared | str]:
    assert _worker is not None
    return _worker.prepare_chunk(sources)


def _prepared(sources: list[Source], preparer: Preparer, cancel: CancelToken,
              workers: int) -> Iterator[tuple[Source, Prepared | str]]:
    """Prepare every source, in order, in this thread or in worker processes."""
    if workers <= 1 or len(sources) < PARALLEL_MIN:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for source in sources:
                cancel.check()
                yield source, preparer.prepare(source)
        return
    chunks = [sources[i:i + CHUNK] for i in range(0, len(sources), CHUNK)]
    results = parallel.map_chunks(_worker_chunk, chunks, cancel, workers, _worker_init,
                                  (preparer.mode, preparer.scratch, preparer.db_path))
    for chunk, outcomes in zip(chunks, results):
        yield from zip(chunk, outcomes)


# -- recording (one transaction per batch) -------------------------------------------------


class Recorder:
    """Records batches of prepared files: each batch made durable, then its
    rows inserted and its files renamed into the store in one transaction
    (the renames made durable before it commits). Counts go to *result*."""

    def __init__(self, home: Home, mode: str, result: ImportResult, source_node: Optional[str]):
        self.home = home
        self.db = home.connect()
        self.mode = mode
        self.result = result
        self.source_node = source_node

    # how a batch is made durable: its staged files before the rows, the
    # renames before the commit (the network intake syncs each file itself
    # and then only the directories; app/net/intake.py)
    def sync_staged(self, paths: list[Path]) -> None:
        store.make_durable(paths)

    def sync_renamed(self, paths: list[Path]) -> None:
        store.make_durable(paths)

    def close(self) -> None:
        self.db.close()

    def record(self, items: list[Prepared]) -> None:
        items = self._drop_duplicates(items)
        if not items:
            return
        self.sync_staged([i.staged for i in items if i.staged is not None])
        now = now_iso()
        committed: list[store.PendingFile] = []
        accepted: list[Prepared] = []
        checked: dict = {}
        try:
            with transaction(self.db):
                for item in items:
                    pend = self._pending(item)
                    if self._insert(item, pend, now, checked):
                        accepted.append(item)
                        if pend is not None:
                            pend.commit()
                            committed.append(pend)
                    elif item.staged is not None:
                        item.staged.unlink(missing_ok=True)
                catalog.refresh_counts(self.db, {i.header.study_instance_uid for i in accepted})
                self.sync_renamed([p.final for p in committed])  # the renames too
        except BaseException:
            for pend in committed:
                pend.uncommit()
            raise
        for item in accepted:
            self.result.imported += 1
            self.result.add_study(item.header.study_instance_uid)

    def _drop_duplicates(self, items: list[Prepared]) -> list[Prepared]:
        uids = [i.header.sop_instance_uid for i in items]
        marks = ",".join("?" * len(uids))
        known = {u for (u,) in self.db.execute(
            f"SELECT sop_instance_uid FROM instances WHERE sop_instance_uid IN ({marks})", uids)}
        fresh = []
        for item in items:
            uid = item.header.sop_instance_uid
            if uid in known:
                self.result.duplicates += 1
                if item.staged is not None:
                    item.staged.unlink(missing_ok=True)
            else:
                known.add(uid)
                fresh.append(item)
        return fresh

    def _pending(self, item: Prepared) -> Optional[store.PendingFile]:
        if item.staged is None:
            return None
        h = item.header
        final = self.home.root / store.relative_path(
            h.study_instance_uid, h.series_instance_uid, h.sop_instance_uid)
        return store.adopt_file(final, item.staged)

    def _insert(self, item: Prepared, pend: Optional[store.PendingFile], now: str, checked: dict) -> bool:
        """Insert the instance's row, and its patient, study and series rows
        where new. *checked* remembers, within one transaction, the patient,
        study and series rows already ensured, so that the instances of one
        series (most of a batch) cost one insert each."""
        h = item.header
        patient = ("patient", *h.patient.values())
        series = ("series", h.series_instance_uid, h.study_instance_uid, patient)
        if series not in checked:
            # the patient, study and series rows are decided together: a file
            # refused by a conflict leaves nothing behind (no new patient
            # record, no blanks filled from it), whatever else the batch holds
            self.db.execute("SAVEPOINT catalog_rows")
            ensured: list[tuple] = []
            try:
                pk = checked.get(patient)
                if pk is None:
                    pk = checked[patient] = catalog.patient_pk(self.db, h.patient)
                    ensured.append(patient)
                study = ("study", h.study_instance_uid, pk)
                if study not in checked:
                    catalog.ensure_study(self.db, h.study, pk, now, self.source_node)
                    checked[study] = True
                    ensured.append(study)
                catalog.ensure_series(self.db, h.series, h.study_instance_uid)
            except catalog.Conflict as e:
                self.db.execute("ROLLBACK TO catalog_rows")
                self.db.execute("RELEASE catalog_rows")
                for key in ensured:
                    checked.pop(key, None)
                self.result.reject(item.source.display, str(e))
                return False
            self.db.execute("RELEASE catalog_rows")
            checked[series] = True
        if pend is None:
            path, linked = store.stored_path(item.source.path.resolve()), 1
        else:
            path, linked = str(pend.final.relative_to(self.home.root)), 0
        catalog.insert_instance(self.db, dict(
            h.instance, series_instance_uid=h.series_instance_uid,
            transfer_syntax_uid=h.transfer_syntax_uid, size=h.size, path=path,
            linked=linked, sha256=item.sha256, imported_at=now))
        return True


def import_paths(home: Home, paths: Iterable[os.PathLike | str], user: User | str,
                 mode: str = "copy", progress: Optional[Progress] = None,
                 cancel: Optional[CancelToken] = None, source_node: Optional[str] = None,
                 workers: Optional[int] = None) -> ImportResult:
    """Import *paths* (files, folders, ZIPs, DICOMDIR media). ``mode`` is
    ``copy`` (into the store) or ``link`` (index the files where they are;
    members of archives are always copied). ``workers``: processes preparing
    files (default: one per core, up to 4; 1 prepares in this thread)."""
    if mode not in ("copy", "link"):
        raise BadInput(f"import mode {mode!r}: must be copy or link")
    if isinstance(user, User):
        user.require("import", "import images")
        user = user.name
    paths = [Path(p) for p in paths]
    missing = [p for p in paths if not p.exists()]
    if missing and len(missing) == len(paths):
        raise NotFound(f"import: {shown(missing[0])}: no such file or folder"
                       + (f" (nor {len(missing) - 1} other input(s))" if len(missing) > 1 else ""))
    progress = Throttled(progress or no_progress)
    cancel = cancel or CancelToken()
    result = ImportResult()
    scratch = Path(tempfile.mkdtemp(prefix="import-", dir=store.scratch(home)))
    recorder = Recorder(home, mode, result, source_node)
    outcome = audit.SERIOUS_FAILURE
    try:
        progress(None, "Listing files")
        sources = list_sources(paths, scratch, result, cancel, ZipLimits.from_settings(home.settings()))
        preparer = Preparer(mode, scratch, home.db_path)
        batch: list[Prepared] = []
        for done, (source, outcome_of) in enumerate(
                _prepared(sources, preparer, cancel, workers or parallel.worker_count()), start=1):
            if outcome_of == KNOWN:
                result.duplicates += 1
            elif isinstance(outcome_of, str):
                result.reject(source.display, outcome_of)
            else:
                batch.append(outcome_of)
            if len(batch) >= BATCH_FILES:
                recorder.record(batch)
                batch = []
            progress(done / len(sources), f"Importing {done} of {len(sources)}")
        recorder.record(batch)
        outcome = audit.MINOR_FAILURE if result.rejected else audit.SUCCESS
        return result
    finally:
        _audit_import(recorder.db, user, result, paths, outcome)
        recorder.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _audit_import(db, user: str, result: ImportResult, paths, outcome: str) -> None:
    detail = (f"{result.imported} imported, {result.duplicates} duplicates, "
              f"{len(result.rejected)} refused, from {len(paths)} input(s)")
    with transaction(db):
        audit.record(db, user, "import", audit.IMPORT, outcome=outcome,
                     objects=result.studies, detail=detail)
