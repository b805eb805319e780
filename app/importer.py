"""Import files, folders, ZIP archives and DICOMDIR media into the cache.

A job (``progress``, ``cancel``). Inputs are first listed (so progress has a
total), then read and recorded in batches: each batch is one transaction in
which the rows are inserted and the files renamed into the store, so a row
never exists without its complete file. Duplicates by SOP Instance UID are
counted, not re-imported; every refused input is reported with a reason.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterator, Optional

from app import audit, catalog, store
from app.accounts import User
from app.clock import now_iso
from app.db import transaction
from app.dicom.reading import Header, Unreadable, read_header
from app.errors import BadInput
from app.home import Home
from app.jobs import CancelToken, Progress, Throttled, no_progress

BATCH_FILES = 200
BATCH_BYTES = 64 << 20        # bytes held in memory per batch (copy mode)
IN_MEMORY_LIMIT = 32 << 20    # larger files are streamed, not read whole
IGNORED_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}
MEDIA_CONTENT = {"readme.txt", "index.htm", "index.html", "autorun.inf", "manifest.sha256"}


@dataclass
class ImportResult:
    imported: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)
    studies: list[str] = field(default_factory=list)

    def reject(self, path: str, reason: str) -> None:
        self.rejected.append({"path": path, "reason": reason})

    def add_study(self, uid: str) -> None:
        if uid not in self._seen:
            self._seen.add(uid)
            self.studies.append(uid)

    def __post_init__(self) -> None:
        self._seen: set[str] = set(self.studies)

    def to_json(self) -> dict:
        return {"imported": self.imported, "duplicates": self.duplicates,
                "rejected": list(self.rejected), "studies": list(self.studies)}


@dataclass
class Source:
    """One file to import. ``owned`` files live in the home's temporary area
    (extracted from an archive) and are moved, not copied, into the store."""

    display: str
    path: Path
    owned: bool = False


@dataclass
class _Item:
    source: Source
    header: Header
    data: Optional[bytes] = None
    sha256: Optional[str] = None


# -- listing inputs -------------------------------------------------------------


def _ignored(name: str) -> bool:
    return name.startswith(".") or name.lower() in IGNORED_NAMES


def _find_dicomdir(folder: Path) -> Optional[Path]:
    for name in ("DICOMDIR", "dicomdir", "DicomDir"):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _resolve_case_insensitive(root: Path, parts: list[str]) -> Optional[Path]:
    """Media written on one system and read on another change case (discs
    mounted with lower-case names): find each component whatever its case."""
    current = root
    for part in parts:
        exact = current / part
        if exact.exists():
            current = exact
            continue
        try:
            matches = [p for p in current.iterdir() if p.name.lower() == part.lower()]
        except OSError:
            return None
        if not matches:
            return None
        current = matches[0]
    return current


def _media_sources(dicomdir: Path, result: ImportResult) -> Iterator[Source]:
    """Follow the directory records of a DICOMDIR; report those whose file is missing."""
    import pydicom

    root = dicomdir.parent
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(dicomdir, force=True)
        records = ds.DirectoryRecordSequence
    except Exception as e:
        result.reject(str(dicomdir), f"unreadable DICOMDIR ({type(e).__name__}: {e}); "
                      "import its folder without it by removing the DICOMDIR")
        return
    for record in records:
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else [str(p) for p in file_id]
        path = _resolve_case_insensitive(root, parts)
        shown = str(root / Path(*parts))
        if path is None or not path.is_file():
            kind = record.get("DirectoryRecordType", "?")
            result.reject(shown, f"missing: the DICOMDIR's {kind} record references this file, "
                          "which is not on the medium")
            continue
        yield Source(shown, path)


def _zip_sources(archive: Path, display: str, scratch: Path, result: ImportResult,
                 cancel: CancelToken) -> Iterator[Source]:
    """Extract members one by one into a private temporary folder under
    names of our own; a member name is never used as a path."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        result.reject(display, f"unreadable ZIP archive: {e}")
        return
    with zf:
        for info in zf.infolist():
            cancel.check()
            name = info.filename
            shown = f"{display}:{name}"
            if info.is_dir():
                continue
            posix = PurePosixPath(name.replace("\\", "/"))
            if posix.is_absolute() or ".." in posix.parts or (len(name) > 1 and name[1] == ":"):
                result.reject(shown, "unsafe member name (absolute path or '..'): refused, not extracted")
                continue
            if any(_ignored(p) for p in posix.parts) or posix.name.lower() in MEDIA_CONTENT:
                continue
            target = scratch / f"z{uuid.uuid4().hex}.part"
            try:
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, store.CHUNK)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as e:
                target.unlink(missing_ok=True)
                result.reject(shown, f"unreadable archive member: {e}")
                continue
            if posix.suffix.lower() == ".zip":
                yield from _zip_sources(target, shown, scratch, result, cancel)
                target.unlink(missing_ok=True)
                continue
            yield Source(shown, target, owned=True)


def _walk(folder: Path, result: ImportResult) -> Iterator[Path | Source]:
    dicomdir = _find_dicomdir(folder)
    if dicomdir is not None:
        yield from _media_sources(dicomdir, result)
        return
    try:
        entries = sorted(folder.iterdir())
    except OSError as e:
        result.reject(str(folder), f"unreadable folder: {e.strerror or e}")
        return
    for entry in entries:
        if _ignored(entry.name):
            continue
        if entry.is_dir():
            yield from _walk(entry, result)
        elif entry.is_file():
            yield entry


def list_sources(paths: list[Path], scratch: Path, result: ImportResult,
                 cancel: CancelToken) -> list[Source]:
    sources: list[Source] = []

    def add(path: Path) -> None:
        if path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
            sources.extend(_zip_sources(path, str(path), scratch, result, cancel))
        else:
            sources.append(Source(str(path), path))

    for path in paths:
        cancel.check()
        if path.is_dir():
            for found in _walk(path, result):
                if isinstance(found, Source):
                    sources.append(found)
                else:
                    add(found)
        elif path.name.upper() == "DICOMDIR" and path.is_file():
            sources.extend(_media_sources(path, result))
        elif path.is_file():
            add(path)
        else:
            result.reject(str(path), "not found")
    return sources


# -- reading and recording ---------------------------------------------------------


def _read(source: Source, mode: str) -> _Item:
    """Parse the header; in copy mode read small files whole (one read for
    parsing, hashing and writing)."""
    keep_bytes = mode == "copy" and not source.owned
    if keep_bytes and source.path.stat().st_size <= IN_MEMORY_LIMIT:
        with open(source.path, "rb") as f:
            data = f.read()
        header = read_header(data)
        return _Item(source, header, data, hashlib.sha256(data).hexdigest())
    return _Item(source, read_header(source.path))


class _Importer:
    def __init__(self, home: Home, user: str, mode: str, result: ImportResult,
                 source_node: Optional[str]):
        self.home = home
        self.db = home.connect()
        self.user = user
        self.mode = mode
        self.result = result
        self.source_node = source_node

    def close(self) -> None:
        self.db.close()

    def record(self, items: list[_Item]) -> None:
        items = self._drop_duplicates(items)
        if not items:
            return
        pending = self._write_files(items)
        now = now_iso()
        committed: list[store.PendingFile] = []
        accepted: list[_Item] = []
        try:
            with transaction(self.db):
                for item, pend in zip(items, pending):
                    if self._insert(item, pend, now):
                        accepted.append(item)
                        if pend is not None:
                            pend.commit()
                            committed.append(pend)
                    elif pend is not None:
                        pend.discard()
                catalog.refresh_counts(self.db, {i.header.study_instance_uid for i in accepted})
        except BaseException:
            for pend in committed:
                pend.uncommit()
            for pend in pending:
                if pend is not None:
                    pend.discard()
            raise
        for item in accepted:
            self.result.imported += 1
            self.result.add_study(item.header.study_instance_uid)

    def _drop_duplicates(self, items: list[_Item]) -> list[_Item]:
        uids = [i.header.sop_instance_uid for i in items]
        marks = ",".join("?" * len(uids))
        known = {u for (u,) in self.db.execute(
            f"SELECT sop_instance_uid FROM instances WHERE sop_instance_uid IN ({marks})", uids)}
        fresh = []
        for item in items:
            uid = item.header.sop_instance_uid
            if uid in known:
                self.result.duplicates += 1
                if item.source.owned:
                    item.source.path.unlink(missing_ok=True)
            else:
                known.add(uid)
                fresh.append(item)
        return fresh

    def _write_files(self, items: list[_Item]) -> list[Optional[store.PendingFile]]:
        pending: list[Optional[store.PendingFile]] = []
        try:
            for item in items:
                h = item.header
                if self.mode == "link" and not item.source.owned:
                    pending.append(None)
                    continue
                final = self.home.root / store.relative_path(
                    h.study_instance_uid, h.series_instance_uid, h.sop_instance_uid)
                if item.source.owned:
                    item.sha256 = store.sha256_file(item.source.path)
                    pending.append(store.adopt_file(final, item.source.path))
                elif item.data is not None:
                    pending.append(store.write_bytes(self.home, final, item.data))
                    item.data = None
                else:
                    pend, item.sha256, _ = store.copy_file(self.home, item.source.path, final)
                    pending.append(pend)
        except BaseException:
            for pend in pending:
                if pend is not None:
                    pend.discard()
            raise
        return pending

    def _insert(self, item: _Item, pend: Optional[store.PendingFile], now: str) -> bool:
        h = item.header
        try:
            pk = catalog.patient_pk(self.db, h.patient)
            catalog.ensure_study(self.db, h.study, pk, now, self.source_node)
            catalog.ensure_series(self.db, h.series, h.study_instance_uid)
        except catalog.Conflict as e:
            self.result.reject(item.source.display, str(e))
            return False
        if pend is None:
            path, linked = str(item.source.path.resolve()), 1
        else:
            path, linked = str(pend.final.relative_to(self.home.root)), 0
        catalog.insert_instance(self.db, dict(
            h.instance, series_instance_uid=h.series_instance_uid,
            transfer_syntax_uid=h.transfer_syntax_uid, size=h.size, path=path,
            linked=linked, sha256=item.sha256, imported_at=now))
        return True


def import_paths(home: Home, paths: list[os.PathLike | str], user: User | str,
                 mode: str = "copy", progress: Optional[Progress] = None,
                 cancel: Optional[CancelToken] = None,
                 source_node: Optional[str] = None) -> ImportResult:
    """Import *paths* (files, folders, ZIPs, DICOMDIR media). ``mode`` is
    ``copy`` (into the store) or ``link`` (index the files where they are;
    members of archives are always copied)."""
    if mode not in ("copy", "link"):
        raise BadInput(f"import mode {mode!r}: must be copy or link")
    if isinstance(user, User):
        user.require("import", "import images")
        user = user.name
    progress = Throttled(progress or no_progress)
    cancel = cancel or CancelToken()
    result = ImportResult()
    scratch = Path(tempfile.mkdtemp(prefix="import-", dir=store.scratch(home)))
    importer = _Importer(home, user, mode, result, source_node)
    outcome = audit.SERIOUS_FAILURE
    try:
        progress(None, "Listing files")
        sources = list_sources([Path(p) for p in paths], scratch, result, cancel)
        batch: list[_Item] = []
        batch_bytes = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for done, source in enumerate(sources):
                cancel.check()
                try:
                    item = _read(source, mode)
                except Unreadable as e:
                    result.reject(source.display, str(e))
                    continue
                except OSError as e:
                    result.reject(source.display, f"unreadable: {e.strerror or e}")
                    continue
                batch.append(item)
                batch_bytes += len(item.data) if item.data else 0
                if len(batch) >= BATCH_FILES or batch_bytes >= BATCH_BYTES:
                    importer.record(batch)
                    batch, batch_bytes = [], 0
                progress((done + 1) / len(sources), f"Importing {done + 1} of {len(sources)}")
            importer.record(batch)
        outcome = audit.MINOR_FAILURE if result.rejected else audit.SUCCESS
        return result
    finally:
        _audit_import(importer.db, user, result, paths, outcome)
        importer.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _audit_import(db, user: str, result: ImportResult, paths, outcome: str) -> None:
    detail = (f"{result.imported} imported, {result.duplicates} duplicates, "
              f"{len(result.rejected)} refused, from {len(paths)} input(s)")
    with transaction(db):
        audit.record(db, user, "import", audit.IMPORT, outcome=outcome,
                     objects=result.studies, detail=detail)
