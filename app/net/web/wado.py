"""WADO-RS: retrieve studies or series of a DICOMweb node into the cache.

1. Plan: a QIDO-RS search lists each study's series with their number of
   instances. A series the cache holds nothing of is asked for whole; for
   one it holds part of, its instances are listed and only the missing
   ones asked for, one by one. (Listing instances is what makes a plan
   slow: Orthanc answers an instance-level search at a few ms per
   instance, so a study new to the cache is planned from its series.)
   Running it again is the retry, as for C-GET (app/net/retrieve/study.py).
2. Fetch: each series (or missing instance) is one WADO-RS request, asked
   for as the node stores it (``transfer-syntax=*``); up to
   :data:`~app.net.web.client.STREAMS` requests run at once over the
   node's session (kept-alive connections). Instances listed anyway are
   asked for one by one when there are fewer requests than streams.
3. Every part of the multipart answer is read whole and handed to the
   same :class:`~app.net.intake.Intake` as a C-GET's data sets: the
   project's strict reader checks it before anything is written, the
   file is synced and its row committed before it counts; a part it
   refuses is named in the result with the intake's reason.
   Progress counts the parts; Cancel stops every request between two
   parts (closing its connection) and keeps what arrived complete.
4. A series that brought fewer instances than the node counted is listed
   instance by instance, and each missing one is named with the reason.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Optional

from app.errors import BadInput, Cancelled, NotFound
from app.jobs import CancelToken, Progress, Throttled, no_progress
from app.net import sinks
from app.net.association import Rejected
from app.net.intake import Intake
from app.net.nodes import Node
from app.net.retrieve.plan import in_cache
from app.net.retrieve.series import SeriesRetrieveResult
from app.net.retrieve.study import RetrieveResult, record_retrieve
from app.net.web import qido
from app.net.web.client import STREAMS, session
from app.net.wire import NetworkError

METHOD = "wado-rs"
SPLIT = 16  # a listed series of more instances is asked for instance by instance when streams are idle


@dataclass
class _Job:
    """One WADO-RS request: a whole series (``expected`` None: ``count``
    instances by the node's word) or listed instances."""

    study: str
    series: str
    expected: Optional[list[str]]
    count: int
    one_instance: bool = False
    refusals: list[str] = field(default_factory=list)

    @property
    def path(self) -> tuple[str, ...]:
        base = ("studies", self.study, "series", self.series)
        return base + ("instances", self.expected[0]) if self.one_instance and self.expected else base


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
        work: list[_Job] = []
        for study in result.studies:
            listed = qido.series_in_study(home, node, study, cancel)
            if not listed:
                result.not_found.append(study)
            work += _plan(home, node, db, study, listed, result, cancel)
        if result.studies and len(result.not_found) == len(result.studies):
            raise NotFound(f"node {node.name}: has none of the studies asked for ({', '.join(result.not_found)})")
        _run(home, db, user, node, work, result, progress, cancel)
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
        listed = [row for row in qido.series_in_study(home, node, study_uid, cancel) if row[0] in chosen]
        result.series_not_found = [s for s in chosen if s not in {series for series, _ in listed}]
        if len(result.series_not_found) == len(chosen):
            raise NotFound(f"node {node.name}: has none of the series asked for in study {study_uid}")
        work = _plan(home, node, db, study_uid, listed, result, cancel)
        _run(home, db, user, node, work, result, progress, cancel)
        return result
    finally:
        db.close()


def _check_method(node: Node, method: str) -> None:
    if method not in ("get", METHOD):
        raise BadInput(f"node {node.name} is a DICOMweb node: it is retrieved by WADO-RS "
                       f"(--method {method} is for DICOM nodes)")


def _local(db, series: str) -> int:
    return db.execute("SELECT count(*) FROM instances WHERE series_instance_uid = ?", [series]).fetchone()[0]


def _plan(home, node: Node, db, study: str, listed: list[tuple[str, Optional[int]]], result,
          cancel: CancelToken) -> list[_Job]:
    """The requests for what the cache lacks of the *listed* series."""
    work: list[_Job] = []
    for series, count in listed:
        if count and not _local(db, series):
            work.append(_Job(study, series, None, count))
            continue
        sops = qido.instances_in_series(home, node, study, series, cancel)
        have = in_cache(db, sops)
        missing = [sop for sop in sops if sop not in have]
        result.already_present += len(sops) - len(missing)
        if len(missing) == len(sops) and missing:
            work.append(_Job(study, series, missing, len(missing)))
        else:
            work += [_Job(study, series, [sop], 1, one_instance=True) for sop in missing]
    if len(work) < STREAMS:  # idle streams: listed series instance by instance
        work = [piece for job in work for piece in (
            [_Job(study, job.series, [sop], 1, one_instance=True) for sop in job.expected]
            if job.expected is not None and not job.one_instance and job.count > SPLIT else [job])]
    return work


def _run(home, db, user, node: Node, work: list[_Job], result, progress: Progress,
         cancel: CancelToken) -> None:
    if work:
        try:
            fetch(home, user, node, work, progress, cancel)
        except (Cancelled, NetworkError) as e:  # what arrived complete is kept: say so
            record_retrieve(db, user, result, stopped=str(e))
            raise
    _check(home, node, db, work, result)
    record_retrieve(db, user, result)


def _check(home, node: Node, db, work: list[_Job], result) -> None:
    """Count what arrived; name every instance still missing (a whole
    series that fell short is listed to find which)."""
    for job in work:
        expected = job.expected
        if expected is None:
            have = _local(db, job.series)
            result.retrieved += min(have, job.count)
            if have >= job.count:
                continue
            result.retrieved -= min(have, job.count)
            try:
                expected = qido.instances_in_series(home, node, job.study, job.series)
            except NetworkError as e:
                result.failed.append({"sop_instance_uid": "", "reason": f"series {job.series}: "
                                      f"{job.count - have} instances missing ({e})"})
                continue
        present = in_cache(db, expected)
        result.retrieved += len(present)
        reason = job.refusals[0] if job.refusals else "not received from the node"
        result.failed += [{"sop_instance_uid": sop, "reason": reason} for sop in expected if sop not in present]


def fetch(home, user, node: Node, work: list[_Job], progress: Progress, cancel: CancelToken) -> None:
    """Run *work* over up to STREAMS requests at once into the cache."""
    web = session(node, home)
    intake = Intake(home, user.name, audit_batches=False)
    total = sum(j.count for j in work) or 1
    lock = threading.Lock()
    done = [0]
    fatal: list[BaseException] = []

    def one(job: _Job) -> None:
        if cancel.cancelled or fatal:
            return
        parts = web.parts(job.path, "WADO-RS retrieve")
        try:
            for part in parts:
                stored = intake.store_data(memoryview(part), "", node.name)
                if not stored.ok:
                    job.refusals.append(stored.reason)
                with lock:
                    done[0] += 1
                    progress(min(1.0, done[0] / total), f"Retrieving {done[0]} of {total} from {node.name} "
                                                        "by WADO-RS")
                if cancel.cancelled or fatal:
                    break
        except Rejected as e:
            fatal.append(e)
        except (NetworkError, NotFound) as e:
            job.refusals.append(str(e))
        finally:
            parts.close()

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
