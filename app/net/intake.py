"""Received instances into the cache, durable before they are acknowledged.

A C-STORE Success tells the sender it may forget the instance (a modality
deletes it, a C-MOVE counts it completed), so it is answered only once the
instance is kept for good: its file written and synced, its directory
entry synced, and its row committed with a synced write-ahead log. A
refused data set gets a failure status instead (:class:`Stored`).

The receiving thread of each association does the work of its own data
set (:meth:`Intake.store_data`, :meth:`Intake.store_file`): the header is
read from the bytes as they arrived (a truncated or unreadable data set is
refused before anything is written), a duplicate of an instance the cache
holds is dropped (it is durable already: Success), and the bytes are
written straight to the file's place in the store, hashed (SHA-256) and
synced with its directory entries, all on that thread. Until its
row commits, such a file is like one renamed into the store before its
commit: removed if the transaction fails, swept at the next open after a
kill (app/home.py).

Then group commit: the thread queues the prepared file and waits. Whichever
waiting thread finds no batch being recorded takes everything queued (from
every association, up to :data:`MAX_BATCH`) and records it with the
importer's recorder: rows inserted in one transaction, committed with a
synced write-ahead log (``synchronous=FULL``); then every thread of the
batch sends its answer. (A data set too large to hold in memory, or a
second copy of an instance whose place in the store is taken, comes
through the temporary area and is renamed in that transaction, its
directory synced before the commit.)
While one batch is recorded the next one gathers, and the thread about to
record waits a moment (:data:`GATHER`, 3 ms at most) for the threads still
preparing a data set (header, write, hash, file sync), so with many
senders one commit serves many instances (a parallel C-GET over four
associations: about four per batch rather than 1.3, 0.3 ms less CPU per
instance). With one sender (a C-GET is a ping-pong: the peer sends the
next instance only after our answer) nothing waits for a batch to fill.
No extra thread is woken on the way.

Received instances are audited per sending node at most every
:data:`AUDIT_EVERY` seconds and when the intake is flushed or closed.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from app import store
from app.accounts import audit
from app.importing import importer
from app.db import transaction
from app.dicom.reading import Unreadable, read_header_in_memory
from app.importing.sources import Source
from app.net import dimse, sinks
from app.net.intake_recorder import _Preparer, _Recorder

KNOWN = importer.KNOWN
MAX_BATCH = 1000      # instances recorded in one transaction at most
AUDIT_EVERY = 2.0     # seconds between two Import audit entries of one node
GATHER = 0.003  # seconds the recording thread waits at most for entries being prepared (_settle)


@dataclass(frozen=True)
class Stored:
    """What became of a received instance: the C-STORE response status
    (PS3.4 B.2.3) and, for a failure, why. Success means recorded and
    durable, or already in the cache; 0xC000 (Error: Cannot understand)
    a data set refused for what it holds (truncated, unreadable, naming
    another patient); 0xA700 (Refused: Out of resources) one that could
    not be written or recorded."""

    status: int
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == dimse.SUCCESS


RECORDED = Stored(dimse.SUCCESS)
DUPLICATE = Stored(dimse.SUCCESS, "already in the cache")


@dataclass(frozen=True)
class _Refusal:
    reason: str
    status: int = dimse.CANNOT_UNDERSTAND


class _Entry:
    __slots__ = ("display", "node", "outcome", "stored", "in_place")

    def __init__(self, display: str, node: Optional[str], outcome, in_place: bool = False):
        self.display, self.node, self.outcome = display, node, outcome
        self.stored: Optional[Stored] = None
        self.in_place = in_place  # written and synced at its final path (store.write_new_synced)


class Intake:
    """Keep received instances, durable before they are answered.

    ``store_data()`` and ``store_file()`` from any number of receiving
    threads, each returning a :class:`Stored` once its instance is durable
    or refused; ``flush()`` waits for the instances being stored and writes
    the audit entries due; ``close()`` flushes and lets go. Per node,
    :attr:`results` holds the importer's counts; :attr:`refused` maps a SOP
    Instance UID to the reason it was not recorded; :attr:`batches` counts
    the transactions. With ``audit_batches`` received instances get Import
    audit entries (the listener); a job that audits its own transfer passes
    False. ``on_recorded(count)`` runs after each recorded batch, on the
    thread that recorded it (one at a time).
    """

    def __init__(self, home, user_name: str, audit_batches: bool = True,
                 on_recorded: Optional[Callable[[int], None]] = None):
        self.home = home
        self.user_name = user_name
        self.audit_batches = audit_batches
        self.on_recorded = on_recorded
        self.results: dict[Optional[str], importer.ImportResult] = {}
        self.refused: dict[str, str] = {}
        self.recorded = 0
        self.batches = 0
        self._scratch = store.scratch(home)
        self._recorders: dict[Optional[str], _Recorder] = {}
        self._preparer = _Preparer(self._scratch, home.db_path)
        self._series_folders: dict[tuple[str, str], str] = {}
        self._queue: list[_Entry] = []
        lock = threading.Lock()
        self._turn = threading.Condition(lock)
        self._arrived = threading.Condition(lock)  # an entry was queued
        self._preparing = 0  # receiving threads between their data set and its entry
        self._recording = False
        self._audits: dict[Optional[str], dict] = {}
        self._closed = False

    # -- receiving threads -------------------------------------------------------------------

    def store_data(self, data: memoryview, sop_instance_uid: str, node: Optional[str]) -> Stored:
        """Keep a complete file held in memory by a
        :class:`~app.net.sinks.MemorySink` (its buffer is given back);
        returns once it is durable or refused."""
        in_place = False
        with self._turn:
            self._preparing += 1
        try:
            try:
                outcome, in_place = self._prepare_data(data, sop_instance_uid)
            except Exception as e:  # noqa: BLE001 - one bad data set must not end the association
                outcome = _Refusal(f"not kept: {type(e).__name__}: {e}", dimse.OUT_OF_RESOURCES)
            finally:
                sinks.release(data)
        except BaseException:
            with self._turn:
                self._preparing -= 1
            raise
        return self._settle(_Entry(self._display(outcome, sop_instance_uid), node, outcome, in_place), True)

    def store_file(self, path: Path, sop_instance_uid: str, node: Optional[str]) -> Stored:
        """Keep a complete file written into the home's temporary area (it
        is moved into the store or removed); returns once it is durable or
        refused."""
        try:
            outcome = self._preparer.prepare(Source(sop_instance_uid, path, owned=True))
            if isinstance(outcome, importer.Prepared):
                store.sync_file(path)
            elif outcome != KNOWN:
                outcome = _Refusal(outcome)
        except Exception as e:  # noqa: BLE001
            outcome = _Refusal(f"not kept: {type(e).__name__}: {e}", dimse.OUT_OF_RESOURCES)
        if not isinstance(outcome, importer.Prepared):
            path.unlink(missing_ok=True)
        return self._settle(_Entry(self._display(outcome, sop_instance_uid), node, outcome))

    add_data = store_data
    add = store_file

    @staticmethod
    def _display(outcome, sop: str) -> str:
        if isinstance(outcome, importer.Prepared):
            return sop or outcome.header.sop_instance_uid
        return sop

    def _final_path(self, header) -> Path:
        """The instance's place in the store (store.relative_path), its
        series folder worked out once."""
        key = (header.study_instance_uid, header.series_instance_uid)
        folder = self._series_folders.get(key)
        if folder is None:
            if len(self._series_folders) > 4096:
                self._series_folders.clear()
            folder = self._series_folders[key] = os.fspath(
                self.home.root / store.relative_path(*key, "x").parent)
        return Path(folder + os.sep + store.safe_uid(header.sop_instance_uid) + ".dcm")

    def _prepare_data(self, data: memoryview, sop: str):
        """The outcome, and whether the file was written in place."""
        try:
            header = read_header_in_memory(data)
        except Unreadable as e:
            return _Refusal(str(e)), False
        final = self._final_path(header)
        digest = lambda: hashlib.sha256(data).hexdigest()  # noqa: E731 - before the syncs, GIL released
        try:
            # a new instance's place in the store is free: only when it is
            # taken is the cache asked whether the instance is there
            written = store.write_new_synced(final, data, digest)
            in_place = written is not None
            if written is None:
                if self._preparer.known(header.sop_instance_uid):
                    return KNOWN, False
                written = store.write_synced(self._scratch, data, digest)
            staged, sha = written
        except OSError as e:
            return _Refusal(f"cannot write: {e.strerror or e}", dimse.OUT_OF_RESOURCES), False
        return (importer.Prepared(Source(sop or header.sop_instance_uid, staged, owned=True), header, sha, staged),
                in_place)

    def _settle(self, entry: _Entry, prepared: bool = False) -> Stored:
        """Queue *entry* and wait until a batch holding it is recorded,
        recording the batch on this thread when no other thread is. The
        thread that records waits up to :data:`GATHER` seconds for the
        entries of threads preparing theirs (*prepared*: this entry was
        counted among those), so that one commit serves them too."""
        with self._turn:
            self._queue.append(entry)
            if prepared:
                self._preparing -= 1
                self._arrived.notify()
        while True:
            with self._turn:
                self._turn.wait_for(lambda: entry.stored is not None or not self._recording)
                if entry.stored is not None:
                    return entry.stored
                self._recording = True
                if self._preparing and GATHER:
                    self._arrived.wait_for(lambda: not self._preparing, GATHER)
                batch = self._queue[:MAX_BATCH]
                del self._queue[:MAX_BATCH]
            try:
                self._record(batch)
                self._audit_due(force=False)
            finally:
                with self._turn:
                    for item in batch:
                        if item.stored is None:  # the recording itself failed
                            item.stored = Stored(dimse.OUT_OF_RESOURCES, "not recorded")
                    self._recording = False
                    self._turn.notify_all()

    # -- recording (one thread at a time) ------------------------------------------------------

    def _record(self, batch: list[_Entry]) -> None:
        by_node: dict[Optional[str], list[_Entry]] = {}
        for entry in batch:
            result = self._result(entry.node)
            if entry.outcome == KNOWN:
                result.duplicates += 1
                self._count(entry.node, duplicates=1)
                entry.stored = DUPLICATE
            elif isinstance(entry.outcome, _Refusal):
                result.reject(entry.display, entry.outcome.reason)
                self.refused[entry.display] = entry.outcome.reason
                self._count(entry.node, refused=1)
                entry.stored = Stored(entry.outcome.status, entry.outcome.reason)
            else:
                by_node.setdefault(entry.node, []).append(entry)
        for node, entries in by_node.items():
            self._record_node(node, entries)

    def _record_node(self, node: Optional[str], entries: list[_Entry]) -> None:
        result = self._result(node)
        recorder = self._recorders.get(node)
        if recorder is None:
            recorder = self._recorders[node] = _Recorder(self.home, result, node)
        items = [e.outcome for e in entries]
        before = (result.imported, result.duplicates, len(result.rejected))
        in_place = [e.outcome for e in entries if e.in_place]
        try:
            recorder.record_in_place(items, in_place)
        except Exception as e:  # noqa: BLE001 - a failed batch is refused, the listener goes on
            reason = f"not recorded: {type(e).__name__}: {e}"
            for entry, item in zip(entries, items):
                if item.staged is not None:
                    item.staged.unlink(missing_ok=True)
                result.reject(entry.display, reason)
                self.refused[entry.display] = reason
                entry.stored = Stored(dimse.OUT_OF_RESOURCES, reason)
            self._count(node, refused=len(entries))
            return
        finally:
            self.batches += 1
        rejected = {r["path"]: r["reason"] for r in result.rejected[before[2]:]}
        self.refused.update(rejected)
        for entry in entries:
            why = rejected.get(entry.display)
            entry.stored = Stored(dimse.CANNOT_UNDERSTAND, why) if why is not None else RECORDED
        imported = result.imported - before[0]
        self.recorded += imported
        self._count(node, imported=imported, duplicates=result.duplicates - before[1], refused=len(rejected),
                    studies={e.outcome.header.study_instance_uid for e in entries})
        if self.on_recorded is not None:
            self.on_recorded(imported)

    def _count(self, node: Optional[str], imported: int = 0, duplicates: int = 0, refused: int = 0,
               studies: frozenset | set = frozenset()) -> None:
        if not self.audit_batches:
            return
        due = self._audits.get(node)
        if due is None:
            due = self._audits[node] = {"imported": 0, "duplicates": 0, "refused": 0, "studies": set(),
                                        "since": time.monotonic()}
        due["imported"] += imported
        due["duplicates"] += duplicates
        due["refused"] += refused
        due["studies"] |= studies

    def _audit_due(self, force: bool) -> None:
        """Write the Import audit entries due (every node's when *force*)."""
        now = time.monotonic()
        for node in [n for n, due in self._audits.items() if force or now - due["since"] >= AUDIT_EVERY]:
            due = self._audits.pop(node)
            if not (due["imported"] or due["refused"]):
                continue
            recorder = self._recorders.get(node)
            db = recorder.db if recorder is not None else self.home.connect()
            try:
                with transaction(db):
                    audit.record(db, self.user_name, "receive", audit.IMPORT,
                                 outcome=audit.MINOR_FAILURE if due["refused"] else audit.SUCCESS,
                                 objects=sorted(due["studies"]),
                                 detail=f"{due['imported']} received from {node or 'an unknown node'} over "
                                        f"DICOM, {due['duplicates']} duplicates, {due['refused']} refused")
            except Exception:  # noqa: BLE001 - the instances are kept; the entry is tried again later
                self._count(node, due["imported"], due["duplicates"], due["refused"], due["studies"])
                if force:
                    raise
            finally:
                if recorder is None:
                    db.close()

    def _result(self, node: Optional[str]) -> importer.ImportResult:
        if node not in self.results:
            self.results[node] = importer.ImportResult()
        return self.results[node]

    # -- end ---------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Wait for the instances being stored; write the audit entries due."""
        with self._turn:
            self._turn.wait_for(lambda: not self._queue and not self._recording)
            self._recording = True
        try:
            self._audit_due(force=True)
        finally:
            with self._turn:
                self._recording = False
                self._turn.notify_all()

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        self._closed = True
        self._preparer.close()
        for recorder in self._recorders.values():
            recorder.close()
