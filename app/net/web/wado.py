"""WADO-RS: retrieve studies or series of a DICOMweb node into the cache.

1. Plan: a QIDO-RS search lists each study's instances on the node; what
   the cache holds is skipped, a series the cache holds nothing of is
   asked for whole, one it holds part of instance by instance. So running
   it again is the retry, as for C-GET (app/net/retrieve/study.py), and
   the same check names every expected instance that did not arrive.
2. Fetch: each series (or missing instance) is one WADO-RS request, asked
   for as the node stores it (``transfer-syntax=*``); up to
   :data:`~app.net.web.client.STREAMS` requests run at once over the
   node's session (kept-alive connections). A study of one large series
   is asked for instance by instance, so that it too uses every stream.
3. Every part of the multipart answer is read whole and handed to the
   same :class:`~app.net.intake.Intake` as a C-GET's data sets: the
   project's strict reader checks it before anything is written, the
   file is synced and its row committed before it counts; a part it
   refuses is named in the result with the intake's reason.
   Progress counts the parts; Cancel stops every request between two
   parts (closing its connection) and keeps what arrived complete.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

from app.accounts import audit
from app.db import transaction
from app.errors import BadInput, Cancelled, NotFound
from app.jobs import CancelToken, Progress, Throttled, no_progress
from app.net import sinks
from app.net.association import Rejected
from app.net.intake import Intake
from app.net.nodes import Node
from app.net.retrieve import plan as retrieve_plan
from app.net.retrieve.plan import Request
from app.net.retrieve.series import SeriesRetrieveResult
from app.net.retrieve.study import RetrieveResult
from app.net.web import qido
from app.net.web.client import STREAMS, session
from app.net.wire import NetworkError

METHOD = "wado-rs"
SPLIT = 16  # a whole series of more instances is asked for instance by instance when streams are idle


@dataclass
class _Job:
    path: tuple[str, ...]
    expected: list[str]


def retrieve(home, user, node: Node, study_uids: list[str], method: str = "get",
             progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None) -> RetrieveResult:
    """Fetch whole studies (what the cache lacks of them)."""
    _check_method(node, method)
    user.require("network", "retrieve studies")
    progress, cancel = Throttled(progress or no_progress), cancel or CancelToken()
    result = RetrieveResult(node.name, METHOD, list(dict.fromkeys(study_uids)))
    db = home.connect()
    try:
        progress(None, f"Asking {node.name} what the studies hold")
        requests = []
        for study in result.studies:
            found = _plan(db, qido.instances_in_study(node, study, cancel), study, None, result)
            if found is None:
                result.not_found.append(study)
            requests += found or []
        if result.studies and len(result.not_found) == len(result.studies):
            raise NotFound(f"node {node.name}: has none of the studies asked for ({', '.join(result.not_found)})")
        _run(home, db, user, node, requests, result, progress, cancel, result.studies)
        return result
    finally:
        db.close()


def retrieve_series(home, user, node: Node, study_uid: str, series_uids: list[str], method: str = "get",
                    progress: Optional[Progress] = None,
                    cancel: Optional[CancelToken] = None) -> SeriesRetrieveResult:
    """Fetch chosen series of one study (what the cache lacks of them)."""
    _check_method(node, method)
    chosen = list(dict.fromkeys(u.strip() for u in series_uids if u.strip()))
    if not chosen:
        raise BadInput("retrieve series: no series chosen")
    user.require("network", "retrieve series")
    progress, cancel = Throttled(progress or no_progress), cancel or CancelToken()
    result = SeriesRetrieveResult(node.name, METHOD, [study_uid], series=chosen)
    db = home.connect()
    try:
        progress(None, f"Asking {node.name} what the series hold")
        instances = qido.instances_in_study(node, study_uid, cancel)
        present = {series for series, _, _ in instances}
        result.series_not_found = [s for s in chosen if s not in present]
        if len(result.series_not_found) == len(chosen):
            raise NotFound(f"node {node.name}: has none of the series asked for in study {study_uid}")
        requests = _plan(db, instances, study_uid, set(chosen), result) or []
        _run(home, db, user, node, requests, result, progress, cancel, [study_uid] + chosen)
        return result
    finally:
        db.close()


def _check_method(node: Node, method: str) -> None:
    if method not in ("get", METHOD):
        raise BadInput(f"node {node.name} is a DICOMweb node: it is retrieved by WADO-RS "
                       f"(--method {method} is for DICOM nodes)")


def _plan(db, instances: list[tuple[str, str, str]], study: str, only: Optional[set[str]],
          result) -> Optional[list[Request]]:
    """The requests for what the cache lacks of *instances* (of the series
    in *only*, when given); None when the node has no instance at all."""
    if not instances:
        return None
    by_series: dict[str, list[str]] = {}
    for series, sop, _ in instances:
        if only is None or series in only:
            by_series.setdefault(series, []).append(sop)
    requests = []
    for series, sops in by_series.items():
        have = retrieve_plan.in_cache(db, sops)
        missing = [sop for sop in sops if sop not in have]
        result.already_present += len(sops) - len(missing)
        if missing:
            level = "SERIES" if len(missing) == len(sops) else "IMAGE"
            requests.append(Request(level, {"StudyInstanceUID": study, "SeriesInstanceUID": series},
                                    study, missing, len(missing)))
    return requests


def jobs(requests: list[Request], streams: int = STREAMS) -> list[_Job]:
    """One WADO-RS request per whole series or per missing instance; whole
    series of more than :data:`SPLIT` instances are asked for instance by
    instance when there are fewer series than streams."""
    split = len(requests) < streams
    out: list[_Job] = []
    for r in requests:
        base = ("studies", r.study, "series", r.keys["SeriesInstanceUID"])
        if r.level == "SERIES" and not (split and r.count > SPLIT):
            out.append(_Job(base, list(r.expected or [])))
        else:
            out += [_Job(base + ("instances", sop), [sop]) for sop in r.expected or []]
    return out


def _run(home, db, user, node: Node, requests: list[Request], result, progress: Progress,
         cancel: CancelToken, objects: list[str]) -> None:
    node_failed: dict[str, str] = {}
    if requests:
        try:
            fetch(home, user, node, jobs(requests), node_failed, progress, cancel)
        except (Cancelled, NetworkError) as e:  # what arrived complete is kept: say so
            _audit(db, user, node, result, objects, stopped=str(e))
            raise
    retrieve_plan.check(db, requests, result, node_failed, lambda _study: [])
    _audit(db, user, node, result, objects)


def fetch(home, user, node: Node, work: list[_Job], node_failed: dict[str, str],
          progress: Progress, cancel: CancelToken) -> None:
    """Run *work* over up to STREAMS requests at once into the cache."""
    web = session(node)
    intake = Intake(home, user.name, audit_batches=False)
    total = sum(len(j.expected) for j in work) or 1
    lock = threading.Lock()
    done = [0]
    fatal: list[BaseException] = []

    def one(job: _Job) -> None:
        if cancel.cancelled or fatal:
            return
        refusals: list[str] = []
        parts = web.parts(job.path, "WADO-RS retrieve")
        try:
            for part in parts:
                stored = intake.store_data(memoryview(part), "", node.name)
                if not stored.ok:
                    refusals.append(stored.reason)
                with lock:
                    done[0] += 1
                    progress(min(1.0, done[0] / total), f"Retrieving {done[0]} of {total} from {node.name} "
                                                        "by WADO-RS")
                if cancel.cancelled or fatal:
                    break
        except Rejected as e:
            fatal.append(e)
        except (NetworkError, NotFound) as e:
            refusals.append(str(e))
        finally:
            parts.close()
        for sop in job.expected:
            if refusals:
                node_failed.setdefault(sop, refusals[0])

    try:
        with ThreadPoolExecutor(max(1, min(STREAMS, len(work))), thread_name_prefix="wado") as pool:
            for future in [pool.submit(one, job) for job in work]:
                future.result()
    finally:
        intake.close()
        sinks.BUFFERS.clear()
    if fatal:
        raise fatal[0]
    if cancel.cancelled:
        raise Cancelled("retrieve cancelled; the complete instances that arrived are kept")


def _audit(db, user, node: Node, result, objects: list[str], stopped: str = "") -> None:
    if stopped:
        outcome, detail = audit.MINOR_FAILURE, f"WADO-RS from {node} stopped: {stopped}"
    else:
        outcome = audit.SUCCESS if not result.failed else (
            audit.MINOR_FAILURE if result.retrieved or result.already_present else audit.SERIOUS_FAILURE)
        detail = (f"WADO-RS from {node}: {result.retrieved} retrieved, {result.already_present} already here, "
                  f"{len(result.failed)} failed, {len(result.not_found)} studies not on the node")
    with transaction(db):
        audit.record(db, user.name, "retrieve", audit.INSTANCES_TRANSFERRED, outcome=outcome,
                     objects=objects, detail=detail)
