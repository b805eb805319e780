"""Received instances into the cache, through the importer's own steps.

A data set received by C-GET is held in memory as it arrived, after a File
Meta Information header of our own (:class:`app.net.dimse.MemorySink`),
and handed over whole (:meth:`Intake.add_data`): its header is read from
those bytes, a truncated or unreadable one refused before anything is
written, and only then is it written to the home's temporary area and
hashed, without reading anything back (:meth:`app.importer.Preparer.prepare_data`).
A data set the storage listener received into a file
(:class:`app.net.dimse.FileSink`) is handed over by path (:meth:`Intake.add`)
and read from there. The importer's recorder then makes the files durable,
inserts the rows and renames the files into the store in one transaction
per batch, so a row exists only for a complete file (app/importer.py).

Two threads, so that the network never waits for the disk: one prepares
files as they arrive (header, write, SHA-256), the other records batches.
Writing and hashing release the GIL, and the header scan is short, so the
receiving thread, which needs the GIL back after every socket call, is
rarely kept waiting (docs/performance/network.md). Making a batch durable
(a sync) is the slow step; while it runs, newly prepared files queue up
and form the next, larger batch, so the number of syncs adapts to the disk.
Data sets waiting in memory are bounded (:data:`MAX_WAITING_BYTES`): a
sender faster than the disk waits for its C-STORE responses.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from app import audit, importer, store
from app.db import transaction
from app.import_sources import Source
from app.net import dimse

KNOWN = importer.KNOWN
MAX_WAITING_BYTES = 64 << 20  # received data sets held in memory before add_data waits
MIN_BATCH = 200       # files a batch waits for (each costs a transaction and two syncs)...
BATCH_WAIT = 0.5      # ...or seconds since its first file, unless someone flushes
MAX_BATCH = 1000


@dataclass
class Received:
    path: Optional[Path]
    sop_instance_uid: str
    node: Optional[str]
    data: Optional[memoryview] = None  # a complete file held in memory, when there is no path


class Intake:
    """Import received files in batches, beside the network.

    ``add()`` and ``add_data()`` from any thread; ``flush()`` waits until everything added so far
    is in the cache or refused; ``close()`` flushes and stops. Per node,
    :attr:`results` holds the importer's counts; :attr:`refused` maps a SOP
    Instance UID to the reason it was not recorded. With ``audit_batches``
    each recorded batch gets its Import audit entry (the listener); a job
    that audits its own transfer passes False.
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
        self._recorders: dict[Optional[str], importer.Recorder] = {}
        self._preparer = importer.Preparer("copy", store.scratch(home), home.db_path)
        self._incoming: "queue.Queue[Optional[Received]]" = queue.Queue()
        self._prepared: "queue.Queue[Optional[tuple]]" = queue.Queue()
        self._settled = threading.Condition()
        self._room = threading.Condition()
        self._waiting_bytes = 0
        self._added = 0
        self._done = 0
        self._hurry = threading.Event()
        self._threads = [threading.Thread(target=self._prepare_loop, name="studydesk-intake-prepare", daemon=True),
                         threading.Thread(target=self._record_loop, name="studydesk-intake-record", daemon=True)]
        for thread in self._threads:
            thread.start()

    def add(self, path: Path, sop_instance_uid: str, node: Optional[str]) -> None:
        """Hand over a complete file."""
        with self._settled:
            self._added += 1
        self._incoming.put(Received(path, sop_instance_uid, node))

    def add_data(self, data: memoryview, sop_instance_uid: str, node: Optional[str]) -> None:
        """Hand over a complete file held in memory by a
        :class:`~app.net.dimse.MemorySink` (its buffer is given back once
        written); waits while more than :data:`MAX_WAITING_BYTES` of
        earlier ones are not yet written."""
        with self._room:
            self._room.wait_for(lambda: self._waiting_bytes < MAX_WAITING_BYTES)
            self._waiting_bytes += len(data)
        with self._settled:
            self._added += 1
        self._incoming.put(Received(None, sop_instance_uid, node, data))

    def flush(self) -> None:
        self._hurry.set()
        try:
            with self._settled:
                self._settled.wait_for(lambda: self._done >= self._added)
        finally:
            self._hurry.clear()

    def close(self) -> None:
        if not self._threads[0].is_alive():
            return
        self._incoming.put(None)
        for thread in self._threads:
            thread.join()
        self._preparer.close()
        for recorder in self._recorders.values():
            recorder.close()

    # -- preparing thread ----------------------------------------------------------------------

    def _prepare_loop(self) -> None:
        while True:
            received = self._incoming.get()
            if received is None:
                self._prepared.put(None)
                return
            try:
                outcome = self._prepare(received)
            except Exception as e:  # noqa: BLE001 - one bad file must not stop the intake
                outcome = f"unreadable: {type(e).__name__}: {e}"
            self._prepared.put((received, outcome))

    def _prepare(self, received: Received):
        """The importer's preparation of a received file: header read (a
        truncated or unreadable file is refused), a duplicate dropped,
        written (when held in memory) and hashed here rather than on the
        receiving thread."""
        if received.data is None:
            return self._preparer.prepare(Source(received.sop_instance_uid, received.path, owned=True))
        data, received.data = received.data, None
        size = len(data)
        try:
            return self._preparer.prepare_data(received.sop_instance_uid, data)
        finally:
            dimse.release(data)
            with self._room:
                self._waiting_bytes -= size
                self._room.notify_all()

    # -- recording thread ----------------------------------------------------------------------

    def _record_loop(self) -> None:
        stop = False
        while not stop:
            first = self._prepared.get()
            if first is None:
                return
            batch, since = [first], time.monotonic()
            while len(batch) < MAX_BATCH:
                wait = 0.0 if len(batch) >= MIN_BATCH else max(0.0, since + BATCH_WAIT - time.monotonic())
                try:
                    entry = self._prepared.get(timeout=min(wait, 0.05)) if wait else self._prepared.get_nowait()
                except queue.Empty:
                    if not wait or self._hurry.is_set() or time.monotonic() >= since + BATCH_WAIT:
                        break
                    continue
                if entry is None:
                    stop = True
                    break
                batch.append(entry)
            try:
                self._record(batch)
            finally:
                with self._settled:
                    self._done += len(batch)
                    self._settled.notify_all()

    def _record(self, batch: list[tuple]) -> None:
        by_node: dict[Optional[str], list] = {}
        for received, outcome in batch:
            result = self._result(received.node)
            if outcome == KNOWN:
                result.duplicates += 1
            elif isinstance(outcome, str):
                if received.path is not None:
                    received.path.unlink(missing_ok=True)
                result.reject(received.sop_instance_uid, outcome)
                self.refused[received.sop_instance_uid] = outcome
            else:
                by_node.setdefault(received.node, []).append(outcome)
        for node, items in by_node.items():
            self._record_items(node, items)

    def _record_items(self, node: Optional[str], items: list) -> None:
        result = self._result(node)
        recorder = self._recorders.get(node)
        if recorder is None:
            recorder = self._recorders[node] = importer.Recorder(self.home, "copy", result, node)
        before = (result.imported, result.duplicates, len(result.rejected))
        try:
            recorder.record(items)
        except Exception as e:  # noqa: BLE001 - a failed batch is refused, the listener goes on
            for item in items:
                if item.staged is not None:
                    item.staged.unlink(missing_ok=True)
                reason = f"not recorded: {type(e).__name__}: {e}"
                result.reject(item.source.display, reason)
                self.refused[item.source.display] = reason
            return
        for entry in result.rejected[before[2]:]:
            self.refused[entry["path"]] = entry["reason"]
        imported = result.imported - before[0]
        self.recorded += imported
        if self.audit_batches and (imported or len(result.rejected) > before[2]):
            self._audit(recorder, node, items, imported, result.duplicates - before[1],
                        len(result.rejected) - before[2])
        if self.on_recorded is not None:
            self.on_recorded(imported)

    def _audit(self, recorder, node, items, imported: int, duplicates: int, refused: int) -> None:
        studies = sorted({i.header.study_instance_uid for i in items})
        with transaction(recorder.db):
            audit.record(recorder.db, self.user_name, "receive", audit.IMPORT,
                         outcome=audit.MINOR_FAILURE if refused else audit.SUCCESS, objects=studies,
                         detail=f"{imported} received from {node or 'an unknown node'} over DICOM, "
                                f"{duplicates} duplicates, {refused} refused")

    def _result(self, node: Optional[str]) -> importer.ImportResult:
        if node not in self.results:
            self.results[node] = importer.ImportResult()
        return self.results[node]
