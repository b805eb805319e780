"""Retrieve chosen series of one study (the window's remote series pane;
app/net/retrieve/study.py fetches whole studies).

The plan is made here, series by series: a C-FIND at IMAGE level lists each
chosen series' instances on the node; what the cache already holds is
skipped, a series the cache holds nothing of is asked for whole (a SERIES
level request) and one it holds part of instance by instance. The fetch
itself is retrieve.py's: its C-GET and C-MOVE loops take the requests, so
progress, C-CANCEL, the storage contexts for exactly the SOP classes found,
the listener started for a C-MOVE and the importer's path are the same as
for a study. Running it again is the retry, as for studies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from app.accounts.accounts import User
from app.errors import BadInput, Cancelled, NotFound
from app.jobs import CancelToken, Progress, Throttled, no_progress
from app.net.retrieve import study as retrieve
from app.net.retrieve import plan as retrieve_plan
from app.net.association import Association, Proposal
from app.net.client import STUDY_ROOT_FIND, UNCOMPRESSED, open_association
from app.net.nodes import get_node
from app.net.retrieve.plan import Request, series_instances
from app.net.wire import NetworkError


@dataclass
class SeriesRetrieveResult(retrieve.RetrieveResult):
    """A :class:`~app.net.retrieve.study.RetrieveResult` for one study's series:
    ``series`` asked for, ``series_not_found`` of them not on the node."""

    series: list[str] = field(default_factory=list)
    series_not_found: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return dict(super().to_json(), series=self.series, series_not_found=self.series_not_found)

    def described(self) -> str:
        return f"{self.transport} of {len(self.series)} series of {self.studies[0]} from {self.node}"

    def missing(self) -> str:
        return f"{len(self.series_not_found)} series not on the node"

    def audited_objects(self) -> list[str]:
        return self.studies + self.series


def plan(assoc: Association, db, result: SeriesRetrieveResult,
         cancel: Optional[CancelToken]) -> tuple[list[Request], list[str]]:
    """The requests for ``result.series`` of ``result.studies[0]`` and the
    SOP classes they bring."""
    study = result.studies[0]
    requests: list[Request] = []
    classes: dict[str, None] = {}
    unknown_class = False
    for series in result.series:
        instances = series_instances(assoc, study, series, cancel)
        if not instances:
            result.series_not_found.append(series)
            continue
        have = retrieve_plan.in_cache(db, [sop for sop, _ in instances])
        missing = [(sop, cls) for sop, cls in instances if sop not in have]
        result.already_present += len(instances) - len(missing)
        if not missing:
            continue
        classes.update(dict.fromkeys(cls for _, cls in missing if cls))
        unknown_class = unknown_class or any(not cls for _, cls in missing)
        sops = [sop for sop, _ in missing]
        keys = {"StudyInstanceUID": study, "SeriesInstanceUID": series}
        if len(missing) == len(instances):
            requests.append(Request("SERIES", keys, study, sops, len(sops)))
        else:
            requests.append(Request("IMAGE", dict(keys, SOPInstanceUID=sops), study, sops, len(sops)))
    if len(result.series_not_found) == len(result.series):
        raise NotFound(f"node {result.node}: has none of the series asked for in study {study}")
    if requests and unknown_class:  # a node that does not say each instance's class: the study's
        surveyed = retrieve_plan.survey(assoc, study, cancel)
        classes.update(dict.fromkeys(surveyed[1] if surveyed else []))
    return requests, list(classes)


def retrieve_series(home, user: User, node_name: str, study_uid: str, series_uids: list[str],
                    method: str = "get", progress: Optional[Progress] = None,
                    cancel: Optional[CancelToken] = None) -> SeriesRetrieveResult:
    """Fetch *series_uids* of *study_uid* from the node by C-GET or C-MOVE;
    see the module docstring."""
    from app.net.web import web_node

    web = web_node(home, node_name)
    if web is not None:  # a DICOMweb node: WADO-RS (app/net/web/wado.py)
        from app.net.web import wado

        return wado.retrieve_series(home, user, web, study_uid, series_uids, method, progress, cancel)
    if method not in ("get", "move"):
        raise BadInput(f"--method {method!r}: get or move")
    chosen = list(dict.fromkeys(u.strip() for u in series_uids if u.strip()))
    if not chosen:
        raise BadInput("retrieve series: no series chosen")
    user.require("network", "retrieve series")
    progress = Throttled(progress or no_progress)
    cancel = cancel or CancelToken()
    db = home.connect()
    try:
        node = get_node(db, node_name)
        result = SeriesRetrieveResult(node.name, method, [study_uid], series=chosen)
        progress(None, f"Asking {node.name} what the series hold")
        with open_association(home, node, [Proposal(STUDY_ROOT_FIND, UNCOMPRESSED)]) as assoc:
            requests, classes = plan(assoc, db, result, cancel)
        node_failed: dict[str, str] = {}
        if requests:
            fetch = retrieve.by_get if method == "get" else retrieve.by_move
            try:
                fetch(home, user, node, requests, classes, node_failed, progress, cancel)
            except (Cancelled, NetworkError) as e:  # what arrived complete is kept: say so
                retrieve.record_retrieve(db, user, result, stopped=str(e))
                raise
        # every request lists its instances: the check never has to ask the node again
        retrieve_plan.check(db, requests, result, node_failed, lambda _study: [])
        retrieve.record_retrieve(db, user, result)
        return result
    finally:
        db.close()
