"""Retrieve studies from a node into the cache: C-GET (default) or C-MOVE.

1. Plan (:mod:`app.net.retrieve_plan`): a study-level C-FIND gives each
   study's size and SOP classes; a study the cache holds part of is listed
   instance by instance and only what is missing is asked for, so running
   a retrieve again is the retry.
2. Fetch: whole studies, whole series, or the missing instances of a
   series. C-GET proposes storage contexts only for the SOP classes the
   plan found (the 128-context limit); C-MOVE sends to our own listener,
   started for the job when this process runs none.
3. Every received data set goes through :class:`~app.net.intake.Intake`
   (the importer's path). A C-GET holds each data set in memory until it
   is complete (:class:`~app.net.dimse.MemorySink`) and answers its
   C-STORE only once the intake has made it durable (file synced, row
   committed), so what the node counts as completed is in the cache
   whatever happens next; a refused data set gets a failure status. A
   C-MOVE's instances arrive on the listener, which answers the same way.
   Progress follows the sub-operation counts of the responses; Cancel
   sends C-CANCEL and keeps what arrived complete.
4. What was expected and is not in the cache afterwards is reported
   instance by instance, with the node's or the importer's reason.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Optional

from pydicom.dataset import Dataset
from pydicom.uid import (JPEG2000, JPEG2000Lossless, JPEGBaseline8Bit, JPEGExtended12Bit,
                         JPEGLosslessSV1, JPEGLSLossless, JPEGLSNearLossless, RLELossless)

from app import audit, store
from app.accounts import User
from app.db import transaction
from app.errors import BadInput, Cancelled
from app.jobs import CancelToken, Progress, Throttled, no_progress
from app.net import dimse, retrieve_plan
from app.net import listener as listening
from app.net.association import MAX_CONTEXTS, Association, Proposal
from app.net.client import (STUDY_ROOT_FIND, STUDY_ROOT_GET, STUDY_ROOT_MOVE, UNCOMPRESSED,
                            Operation, find, open_association, require_context)
from app.net.intake import Intake, Stored
from app.net.nodes import Node, get_node, local_ae
from app.net.retrieve_plan import Request
from app.net.wire import NetworkError

COMPRESSED = [JPEGLosslessSV1, JPEGLSLossless, JPEG2000Lossless, RLELossless, JPEGBaseline8Bit,
              JPEGExtended12Bit, JPEGLSNearLossless, JPEG2000]
# final statuses after which some sub-operations may still have succeeded (PS3.4 C.4.2.1.5)
PARTIAL_FAILURES = (0xA701, 0xA702, 0xA900, 0xC000)
STATUS_HINTS = {
    0xA801: "the node does not know this workstation as a move destination: register our AE title, "
            "host and port (`config get aet`, `config get port`) on the node",
    0xA700: "the node is out of resources",
    0x0122: "the node does not support this retrieve (try the other --method)",
}
EXTERNAL_LISTENER_GRACE = 10.0  # s without a new arrival before giving up on a listener elsewhere


@dataclass
class RetrieveResult:
    node: str
    method: str
    studies: list[str] = field(default_factory=list)
    retrieved: int = 0
    already_present: int = 0
    failed: list[dict] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"node": self.node, "method": self.method, "studies": self.studies,
                "retrieved": self.retrieved, "already_present": self.already_present,
                "failed": self.failed, "not_found": self.not_found}


def retrieve(home, user: User, node_name: str, study_uids: list[str], method: str = "get",
             progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None) -> RetrieveResult:
    """Fetch *study_uids* from the node; see the module docstring."""
    if method not in ("get", "move"):
        raise BadInput(f"--method {method!r}: get or move")
    user.require("network", "retrieve studies")
    progress = Throttled(progress or no_progress)
    cancel = cancel or CancelToken()
    db = home.connect()
    try:
        node = get_node(db, node_name)
        result = RetrieveResult(node.name, method, list(dict.fromkeys(study_uids)))
        progress(None, f"Asking {node.name} what the studies hold")
        with _finding(home, node) as assoc:
            requests, classes = retrieve_plan.plan(assoc, db, result, cancel)
        node_failed: dict[str, str] = {}
        if requests:
            fetch = by_get if method == "get" else by_move
            try:
                fetch(home, user, node, requests, classes, node_failed, progress, cancel)
            except (Cancelled, NetworkError) as e:  # what arrived complete is kept: say so
                _audit(db, user, node, result, stopped=str(e))
                raise

        def list_remote(study: str) -> list[str]:
            with _finding(home, node) as assoc:
                return retrieve_plan.remote_instances(assoc, study)

        retrieve_plan.check(db, requests, result, node_failed, list_remote)
        _audit(db, user, node, result)
        return result
    finally:
        db.close()


class _Counter:
    """Progress over all requests from the sub-operation counts."""

    def __init__(self, requests: list[Request], progress: Progress, node: Node, method: str):
        self.total = sum(r.count for r in requests) or 1
        self.before = 0
        self.progress, self.node, self.method = progress, node, method

    def update(self, command: dict, received: int) -> None:
        counted = sum(command.get(k, 0) for k in ("NumberOfCompletedSuboperations",
                                                    "NumberOfFailedSuboperations",
                                                    "NumberOfWarningSuboperations"))
        done = min(self.total, self.before + max(counted, received))
        self.progress(done / self.total, f"Retrieving {done} of {self.total} from {self.node.name} "
                                         f"by C-{self.method.upper()}")

    def finish(self, request: Request) -> None:
        self.before += request.count


def _final(answer: dimse.Message, ts: str, node_failed: dict[str, str], node: Node) -> None:
    """Note the instances the node says failed (FailedSOPInstanceUIDList)."""
    category = dimse.status_category(answer.status)
    if answer.dataset:
        try:
            ds = dimse.decode_dataset(answer.dataset, ts)
            failed = ds.get("FailedSOPInstanceUIDList", [])
            for uid in ([failed] if isinstance(failed, str) else failed):
                node_failed[str(uid)] = f"{node.name} reported the sub-operation failed"
        except Exception:  # noqa: BLE001 - an unreadable list only loses detail
            pass
    if category == "failure" and answer.status not in PARTIAL_FAILURES:
        comment = answer.command.get("ErrorComment", "")
        hint = STATUS_HINTS.get(answer.status, "")
        raise NetworkError(f"{node.name}: retrieve failed (status 0x{answer.status:04X}"
                           f"{': ' + comment if comment else ''}){'; ' + hint if hint else ''}")


def _storage_proposals(classes: list[str]) -> list[Proposal]:
    """Storage contexts (SCP role) for the classes a retrieve brings: one
    uncompressed context each and, as room allows, one per compressed
    syntax, so that the node can send each instance as it is archived
    rather than transcode it."""
    room = MAX_CONTEXTS - 1
    if len(classes) > room:
        raise BadInput(f"{len(classes)} SOP classes in one retrieve: at most {room} fit one association")
    proposals = [Proposal(c, UNCOMPRESSED, scp_role=True) for c in classes]
    if len(classes) * (1 + len(COMPRESSED)) <= room:
        return proposals + [Proposal(c, [ts], scp_role=True) for c in classes for ts in COMPRESSED]
    if 2 * len(classes) <= room:
        proposals += [Proposal(c, COMPRESSED, scp_role=True) for c in classes]
    return proposals


STREAMS = 4      # C-GET associations at once for a large retrieve
PART_MIN = 50    # instances: a retrieve of fewer than two parts this size uses one association


def by_get(home, user, node: Node, requests: list[Request], classes: list[str],
           node_failed: dict[str, str], progress: Progress, cancel: CancelToken) -> None:
    """Fetch *requests* by C-GET into the cache (study- or series-level
    identifiers); instances the node failed go into *node_failed*.

    Each C-STORE is answered only once its instance is durable, and a C-GET
    is a ping-pong (the node sends the next instance only after our
    answer), so one association spends most of its time waiting for the
    disk. A large retrieve is therefore cut into parts (series, or runs of
    a large series' instances: :func:`_parts`) fetched over up to
    :data:`STREAMS` associations at once; the intake records the instances
    of all of them in shared batches, one sync serving several.
    Associations after the first that the node refuses are done without."""
    intake = Intake(home, user.name, audit_batches=False)
    folder = store.scratch(home)  # where a data set too large to hold in memory is written
    try:
        parts = _parts(home, node, requests, cancel)
        streams = min(STREAMS, len(parts))
        if streams <= 1:
            _stream(home, node, parts, classes, intake, node_failed, _Counter(parts, progress, node, "get"),
                    cancel, folder)
            return
        _parallel(home, node, parts, classes, intake, node_failed, progress, cancel, folder, streams)
    finally:
        intake.close()
        dimse.BUFFERS.clear()
        node_failed.update(intake.refused)


def _stream(home, node: Node, parts: list[Request], classes: list[str], intake: Intake,
            node_failed: dict[str, str], counter, cancel: CancelToken, folder,
            take=None) -> None:
    """One association fetching *parts* in turn (or, with *take*, the parts
    ``take()`` hands out until it returns None)."""
    proposals = [Proposal(STUDY_ROOT_GET, UNCOMPRESSED)] + _storage_proposals(classes)
    with open_association(home, node, proposals) as assoc:
        cid = require_context(assoc, STUDY_ROOT_GET, "C-GET")
        ts = assoc.contexts[cid][1]

        def sink(context_id: int, command: dict):
            if command.get("CommandField") != dimse.C_STORE_RQ or context_id not in assoc.contexts:
                return None
            return dimse.MemorySink(folder, command.get("AffectedSOPClassUID", ""),
                                    command.get("AffectedSOPInstanceUID", ""),
                                    assoc.contexts[context_id][1], node.aet)

        queue = iter(parts) if take is None else iter(take, None)
        for request in queue:
            cancel.check()
            _get_one(assoc, cid, ts, request, sink, intake, node, node_failed, counter, cancel)


def _parallel(home, node: Node, parts: list[Request], classes: list[str], intake: Intake,
              node_failed: dict[str, str], progress: Progress, cancel: CancelToken, folder,
              streams: int) -> None:
    """:func:`_stream` on *streams* threads sharing *parts*; progress is
    reported from this thread. The first error ends the others after their
    current part and is raised."""
    pending = list(reversed(parts))
    lock = threading.Lock()
    failed: list[BaseException] = []
    tally = _Tally(parts)

    def run(n: int) -> None:
        counter = tally.counter(n)
        current: list[Request] = []

        def take() -> Optional[Request]:
            with lock:
                current[:] = [pending.pop()] if pending and not failed else []
            return current[0] if current else None

        try:
            _stream(home, node, [], classes, intake, node_failed, counter, cancel, folder, take=take)
        except NetworkError as e:
            with lock:
                if n and not counter.started:  # the node would not take one more association
                    pending.extend(current)
                    return
                failed.append(e)
        except BaseException as e:  # noqa: BLE001 - raised on the job's thread below
            with lock:
                failed.append(e)

    threads = [threading.Thread(target=run, args=(n,), name=f"studydesk-get-{n}", daemon=True)
               for n in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            # the first instance is reported as soon as it is kept, later
            # ones every 0.2 s (a fast retrieve may be over well within one)
            if tally.first.is_set():
                thread.join(0.2)
            else:
                tally.first.wait(0.2)
            done = tally.done()
            progress(done / tally.total, f"Retrieving {done} of {tally.total} from {node.name} by C-GET "
                                         f"({streams} associations)")
    if failed:
        raise next((e for e in failed if isinstance(e, Cancelled)), failed[0])
    if pending:
        raise NetworkError(f"{node.name}: no association for the rest of the retrieve")


class _Tally:
    """The progress of parallel streams (each its own :class:`_Counter`-like
    counter), summed by the job's thread."""

    def __init__(self, parts: list[Request]):
        self.total = sum(r.count for r in parts) or 1
        self._done: dict[int, int] = {}
        self.first = threading.Event()  # set once something is done

    def counter(self, n: int) -> "_StreamCounter":
        return _StreamCounter(self, n)

    def done(self) -> int:
        return min(self.total, sum(self._done.values()))


class _StreamCounter:
    def __init__(self, tally: _Tally, n: int):
        self.tally, self.n, self.before, self.started = tally, n, 0, False

    def update(self, command: dict, received: int) -> None:
        self.started = True
        counted = sum(command.get(k, 0) for k in ("NumberOfCompletedSuboperations",
                                                    "NumberOfFailedSuboperations",
                                                    "NumberOfWarningSuboperations"))
        self.tally._done[self.n] = self.before + max(counted, received)
        if counted or received:
            self.tally.first.set()

    def finish(self, request: Request) -> None:
        self.before += request.count
        self.tally._done[self.n] = self.before


def _parts(home, node: Node, requests: list[Request], cancel: CancelToken) -> list[Request]:
    """*requests* cut for parallel associations: a request of more than its
    share (a :data:`STREAMS`th of the whole) becomes its series (one C-FIND
    at SERIES level), and a series still larger than that runs of its
    instances of half a share (a C-FIND of its instances, then IMAGE-level
    requests: listing instances costs the node and us, so only where a
    series would keep one association busy while the others idle)."""
    total = sum(r.count for r in requests)
    if total < 2 * PART_MIN:
        return list(requests)
    share = -(-total // STREAMS)
    size = max(PART_MIN, -(-total // (2 * STREAMS)))
    parts: list[Request] = []
    with _finding(home, node) as assoc:
        for request in requests:
            if request.count <= share or request.level == "IMAGE":
                parts.extend(_runs(request, request.keys.get("SOPInstanceUID"), size)
                             if request.level == "IMAGE" and request.count > share else [request])
                continue
            study = request.study
            if request.level == "SERIES":
                series = [(request.keys["SeriesInstanceUID"], request.count)]
            else:
                series = _series_counts(assoc, study, cancel)
                if not series or sum(c for _, c in series) != request.count:
                    parts.append(request)  # counts the node does not give, or that do not add up
                    continue
            for uid, count in series:
                keys = {"StudyInstanceUID": study, "SeriesInstanceUID": uid}
                whole = Request("SERIES", keys, study, None, count)
                if count <= share:
                    parts.append(whole)
                    continue
                sops = _series_instances(assoc, study, uid, cancel)
                parts.extend(_runs(whole, sops, size) if len(sops) == count else [whole])
    return sorted(parts, key=lambda r: -r.count)  # the largest first: the last to finish are small


def _runs(request: Request, sops, size: int) -> list[Request]:
    """IMAGE-level requests for runs of at most *size* of *sops*."""
    if not isinstance(sops, (list, tuple)) or len(sops) <= size:
        return [request]
    keys = {k: v for k, v in request.keys.items() if k != "SOPInstanceUID"}
    runs = -(-len(sops) // size)
    step = -(-len(sops) // runs)
    return [Request("IMAGE", dict(keys, SOPInstanceUID=list(sops[i:i + step])), request.study,
                    list(sops[i:i + step]), len(sops[i:i + step])) for i in range(0, len(sops), step)]


def _series_counts(assoc: Association, study: str, cancel: CancelToken) -> list[tuple[str, int]]:
    """(Series Instance UID, number of instances) of a study's series, or []
    when the node does not count them."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "SERIES"
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = ""
    ds.NumberOfSeriesRelatedInstances = ""
    series = []
    for found in find(assoc, STUDY_ROOT_FIND, ds, cancel):
        uid = str(found.get("SeriesInstanceUID", "") or "").strip()
        try:
            count = int(str(found.get("NumberOfSeriesRelatedInstances", "")).strip())
        except ValueError:
            return []
        if uid:
            series.append((uid, count))
    return series


def _series_instances(assoc: Association, study: str, series: str, cancel: CancelToken) -> list[str]:
    ds = Dataset()
    ds.QueryRetrieveLevel = "IMAGE"
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.SOPInstanceUID = ""
    return [str(f.SOPInstanceUID).strip() for f in find(assoc, STUDY_ROOT_FIND, ds, cancel)
            if str(f.get("SOPInstanceUID", "") or "").strip()]


def _get_one(assoc: Association, cid: int, ts: str, request: Request, sink, intake: Intake,
             node: Node, node_failed: dict[str, str], counter: _Counter, cancel: CancelToken) -> None:
    mid = assoc.next_message_id()
    dimse.send(assoc, cid, {"CommandField": dimse.C_GET_RQ, "MessageID": mid, "Priority": 0,
                            "AffectedSOPClassUID": STUDY_ROOT_GET},
               dataset=dimse.encode_dataset(request.identifier(), ts))
    op = Operation(assoc, cid, mid, cancel)
    received = 0
    try:
        while True:
            answer = dimse.receive(assoc, sink)
            if answer is None:
                raise NetworkError(f"{node.name} released the association during C-GET")
            if answer.field == dimse.C_STORE_RQ:
                sop = answer.command.get("AffectedSOPInstanceUID", "")
                if answer.file_data is not None:  # answered only once durable (app/net/intake.py)
                    stored = intake.store_data(answer.file_data, sop, node.name)
                elif answer.path is not None:
                    stored = intake.store_file(answer.path, sop, node.name)
                else:
                    stored = Stored(dimse.OUT_OF_RESOURCES, answer.sink_error or "not stored: no accepted context")
                    node_failed[sop] = stored.reason
                received += stored.ok
                dimse.send(assoc, answer.context_id, {
                    "CommandField": dimse.C_STORE_RSP, "MessageIDBeingRespondedTo": answer.command.get("MessageID", 0),
                    "AffectedSOPClassUID": answer.command.get("AffectedSOPClassUID", ""),
                    "AffectedSOPInstanceUID": sop, "Status": stored.status, **listening.error_comment(stored)})
                counter.update({}, received)
            elif answer.field == dimse.C_GET_RSP:
                counter.update(answer.command, received)
                if answer.status in dimse.PENDING:
                    op.check_cancel()
                    continue
                _final(answer, ts, node_failed, node)
                if op.cancel_sent_at is not None or answer.status == dimse.CANCEL:
                    intake.flush()
                    raise Cancelled(f"retrieve cancelled; {received} complete instances kept")
                counter.finish(request)
                return
            op.check_cancel()
    finally:
        op.done()


def by_move(home, user, node: Node, requests: list[Request], classes: list[str],
            node_failed: dict[str, str], progress: Progress, cancel: CancelToken) -> None:
    """As :func:`by_get`, by C-MOVE to this workstation's storage listener."""
    aet, port = local_ae(home)
    ours = listening.running(port)
    started = None
    if ours is None:
        intake = Intake(home, user.name, audit_batches=False)
        try:
            started = listening.Listener(home, user.name, port, intake=intake).start()
            ours = started
        except BadInput:  # the port is taken: a listener of another process receives
            intake.close()
    counter = _Counter(requests, progress, node, "move")
    try:
        with open_association(home, node, [Proposal(STUDY_ROOT_MOVE, UNCOMPRESSED)]) as assoc:
            cid = require_context(assoc, STUDY_ROOT_MOVE, "C-MOVE")
            ts = assoc.contexts[cid][1]
            for request in requests:
                cancel.check()
                _move_one(assoc, cid, ts, aet, request, node, node_failed, counter, cancel,
                          ours.intake if ours else None)
        if ours is not None:
            ours.intake.flush()
            node_failed.update(ours.intake.refused)
        else:
            _wait_for_external(home, requests, progress, cancel)
    finally:
        if started is not None:
            started.stop()
            started.intake.close()


def _move_one(assoc: Association, cid: int, ts: str, destination: str, request: Request, node: Node,
              node_failed: dict[str, str], counter: _Counter, cancel: CancelToken,
              intake: Optional[Intake]) -> None:
    mid = assoc.next_message_id()
    dimse.send(assoc, cid, {"CommandField": dimse.C_MOVE_RQ, "MessageID": mid, "Priority": 0,
                            "AffectedSOPClassUID": STUDY_ROOT_MOVE, "MoveDestination": destination},
               dataset=dimse.encode_dataset(request.identifier(), ts))
    op = Operation(assoc, cid, mid, cancel)
    try:
        while True:
            answer = dimse.receive(assoc)
            if answer is None:
                raise NetworkError(f"{node.name} released the association during C-MOVE")
            if answer.field != dimse.C_MOVE_RSP:
                continue
            counter.update(answer.command, 0)
            if answer.status in dimse.PENDING:
                op.check_cancel()
                continue
            _final(answer, ts, node_failed, node)
            if op.cancel_sent_at is not None or answer.status == dimse.CANCEL:
                if intake is not None:
                    intake.flush()
                raise Cancelled("retrieve cancelled; the complete instances that arrived are kept")
            counter.finish(request)
            return
    finally:
        op.done()


def _wait_for_external(home, requests: list[Request], progress: Progress, cancel: CancelToken) -> None:
    """Another process's listener records what the C-MOVE delivered: wait
    until every expected instance is in the cache or arrivals stop."""
    total = sum(r.count for r in requests)
    db = home.connect()
    try:
        last_count, last_change = -1, time.monotonic()
        while time.monotonic() - last_change < EXTERNAL_LISTENER_GRACE:
            cancel.check()
            count = sum(len(retrieve_plan.in_cache(db, r.expected)) if r.expected is not None
                        else retrieve_plan.local_count(db, r.study) for r in requests)
            if count >= total:
                return
            if count != last_count:
                last_count, last_change = count, time.monotonic()
                progress(count / max(1, total), f"Waiting for the listener: {count} of {total}")
            time.sleep(0.2)
    finally:
        db.close()


def _finding(home, node: Node) -> Association:
    return open_association(home, node, [Proposal(STUDY_ROOT_FIND, UNCOMPRESSED)])


def _audit(db, user, node: Node, result: RetrieveResult, stopped: str = "") -> None:
    if stopped:
        outcome, detail = audit.MINOR_FAILURE, f"C-{result.method.upper()} from {node} stopped: {stopped}"
    else:
        outcome = audit.SUCCESS if not result.failed else (
            audit.MINOR_FAILURE if result.retrieved or result.already_present else audit.SERIOUS_FAILURE)
        detail = (f"C-{result.method.upper()} from {node}: {result.retrieved} retrieved, "
                  f"{result.already_present} already here, {len(result.failed)} failed, "
                  f"{len(result.not_found)} studies not on the node")
    with transaction(db):
        audit.record(db, user.name, "retrieve", audit.INSTANCES_TRANSFERRED, outcome=outcome,
                     objects=result.studies, detail=detail)
