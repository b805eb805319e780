"""Retrieve studies from a node into the cache: C-GET (default) or C-MOVE.

1. Plan (:mod:`app.net.retrieve.plan`): a study-level C-FIND gives each
   study's size and SOP classes; a study the cache holds part of is listed
   instance by instance and only what is missing is asked for, so running
   a retrieve again is the retry.
2. Fetch: whole studies, whole series, or the missing instances of a
   series. C-GET proposes storage contexts only for the SOP classes the
   plan found (the 128-context limit), over several associations for a
   large retrieve (:mod:`app.net.retrieve.parallel`); C-MOVE sends to our
   own listener, started for the job when this process runs none.
3. Every received data set goes through :class:`~app.net.intake.Intake`
   (the importer's path). A C-GET holds each data set in memory until it
   is complete (:class:`~app.net.sinks.MemorySink`) and answers its
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

import time
from dataclasses import dataclass, field
from typing import Optional

from app import store
from app.accounts import audit
from app.accounts.accounts import User
from app.db import transaction
from app.errors import BadInput, Cancelled
from app.jobs import CancelToken, Progress, Throttled, no_progress
from app.net import dimse, sinks
from app.net.retrieve import plan as retrieve_plan
from app.net import listener as listening
from app.net.association import Association, Proposal
from app.net.client import STUDY_ROOT_MOVE, UNCOMPRESSED, Operation, open_association, require_context
from app.net.intake import Intake
from app.net.nodes import Node, get_node, local_ae
from app.net.retrieve.parallel import STREAMS, _parallel, _parts, _stream
from app.net.retrieve.plan import Request, _final, _finding
from app.net.wire import NetworkError

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

    @property
    def transport(self) -> str:
        """How the instances came, as users know it: C-GET, C-MOVE or WADO-RS."""
        return transport(self.method)

    def described(self) -> str:
        return f"{self.transport} from {self.node}"

    def missing(self) -> str:
        return f"{len(self.not_found)} studies not on the node"

    def audited_objects(self) -> list[str]:
        return list(self.studies)


def transport(method: str) -> str:
    """'get' -> 'C-GET', 'move' -> 'C-MOVE', 'wado-rs' -> 'WADO-RS'."""
    return method.upper() if method == "wado-rs" else f"C-{method.upper()}"


def record_retrieve(db, user: User, result: RetrieveResult, stopped: str = "") -> None:
    """The retrieve's audit entry (Instances Transferred), for every transport
    and for studies or series alike: what came, and what did not."""
    if stopped:
        outcome, detail = audit.MINOR_FAILURE, f"{result.described()} stopped: {stopped}"
    else:
        outcome = audit.SUCCESS if not result.failed else (
            audit.MINOR_FAILURE if result.retrieved or result.already_present else audit.SERIOUS_FAILURE)
        detail = (f"{result.described()}: {result.retrieved} retrieved, {result.already_present} "
                  f"already here, {len(result.failed)} failed, {result.missing()}")
    with transaction(db):
        audit.record(db, user.name, "retrieve", audit.INSTANCES_TRANSFERRED, outcome=outcome,
                     objects=result.audited_objects(), detail=detail)


def retrieve(home, user: User, node_name: str, study_uids: list[str], method: str = "get",
             progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None) -> RetrieveResult:
    """Fetch *study_uids* from the node; see the module docstring."""
    from app.net.web import web_node

    web = web_node(home, node_name)
    if web is not None:  # a DICOMweb node: WADO-RS (app/net/web/wado.py)
        from app.net.web import wado

        return wado.retrieve(home, user, web, study_uids, method, progress, cancel)
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
                record_retrieve(db, user, result, stopped=str(e))
                raise

        def list_remote(study: str) -> list[str]:
            with _finding(home, node) as assoc:
                return retrieve_plan.remote_instances(assoc, study)

        retrieve_plan.check(db, requests, result, node_failed, list_remote)
        record_retrieve(db, user, result)
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
                                         f"by {transport(self.method)}")

    def finish(self, request: Request) -> None:
        self.before += request.count


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
        sinks.BUFFERS.clear()
        node_failed.update(intake.refused)


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
