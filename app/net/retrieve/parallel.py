"""The C-GET of a retrieve: one association fetching requests in turn
(:func:`_stream`), and a large retrieve cut into parts (series, or runs of
a large series' instances: :func:`_parts`) fetched over up to
:data:`STREAMS` associations at once on threads (:func:`_parallel`), with
their progress summed for the job (:class:`_Tally`)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Optional

from pydicom.dataset import Dataset
from pydicom.uid import (JPEG2000, JPEG2000Lossless, JPEGBaseline8Bit, JPEGExtended12Bit,
                         JPEGLosslessSV1, JPEGLSLossless, JPEGLSNearLossless, RLELossless)

from app.errors import BadInput, Cancelled
from app.jobs import CancelToken, Progress
from app.net import dimse, sinks, storage_scp
from app.net.retrieve import plan as retrieve_plan
from app.net.association import MAX_CONTEXTS, Association, Proposal
from app.net.client import (STUDY_ROOT_FIND, STUDY_ROOT_GET, UNCOMPRESSED, Operation, find,
                            open_association, require_context)
from app.net.intake import Intake, Stored
from app.net.nodes import Node
from app.net.retrieve.plan import Request, _final, _finding
from app.net.wire import NetworkError

if TYPE_CHECKING:
    from app.net.retrieve.study import _Counter

COMPRESSED = [JPEGLosslessSV1, JPEGLSLossless, JPEG2000Lossless, RLELossless, JPEGBaseline8Bit,
              JPEGExtended12Bit, JPEGLSNearLossless, JPEG2000]


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
            return sinks.MemorySink(folder, command.get("AffectedSOPClassUID", ""),
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
                sops = [sop for sop, _ in retrieve_plan.series_instances(assoc, study, uid, cancel)]
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
                    "AffectedSOPInstanceUID": sop, "Status": stored.status, **storage_scp.error_comment(stored)})
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
