"""What a retrieve has to fetch, and what it failed to bring.

A study-level C-FIND tells how many instances a study has and of which SOP
classes (``SOPClassesInStudy``). A study the cache holds nothing of is
fetched whole, with storage contexts for exactly those classes. A study the
cache holds part of (an earlier retrieve failed or was cancelled) is listed
instance by instance (C-FIND at IMAGE level) and only the missing series or
instances are asked for: running the retrieve again is the retry. After the
fetch, whatever is still missing is named instance by instance: the final
C-GET/C-MOVE response names what the node failed (:func:`_final`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from pydicom.dataset import Dataset

from app.errors import NotFound
from app.jobs import CancelToken
from app.net import dimse
from app.net.association import Association, Proposal
from app.net.client import STUDY_ROOT_FIND, UNCOMPRESSED, find, instances_in_study, open_association
from app.net.nodes import Node
from app.net.wire import NetworkError


@dataclass
class Request:
    """One C-GET/C-MOVE identifier and what it should bring: the instances
    (``expected``), or for a whole study only their number."""

    level: str
    keys: dict
    study: str
    expected: Optional[list[str]]
    count: int

    def identifier(self) -> Dataset:
        ds = Dataset()
        ds.QueryRetrieveLevel = self.level
        for keyword, value in self.keys.items():
            setattr(ds, keyword, value)
        return ds


def survey(assoc: Association, study: str, cancel: Optional[CancelToken]) -> Optional[tuple[Optional[int], list[str]]]:
    """(number of instances, SOP classes) of a study on the node; None when
    the node does not have it."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = study
    ds.NumberOfStudyRelatedInstances = ""
    ds.SOPClassesInStudy = ""
    for found in list(find(assoc, STUDY_ROOT_FIND, ds, cancel))[:1]:
        try:
            count: Optional[int] = int(str(found.get("NumberOfStudyRelatedInstances", "")).strip())
        except ValueError:
            count = None
        value = found.get("SOPClassesInStudy", None) or []
        classes = [str(value)] if isinstance(value, str) else [str(v) for v in value]
        return count, [c for c in classes if c]
    return None


def local_count(db, study: str) -> int:
    return db.execute("SELECT count(*) FROM instances i JOIN series s USING (series_instance_uid)"
                      " WHERE s.study_instance_uid = ?", [study]).fetchone()[0]


def in_cache(db, sops: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(sops), 500):
        chunk = sops[start:start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(u for (u,) in db.execute(
            f"SELECT sop_instance_uid FROM instances WHERE sop_instance_uid IN ({marks})", chunk))
    return found


def plan(assoc: Association, db, result, cancel: Optional[CancelToken]) -> tuple[list[Request], list[str]]:
    """The requests for ``result.studies`` and the SOP classes they bring."""
    requests: list[Request] = []
    classes: dict[str, None] = {}
    for study in result.studies:
        surveyed = survey(assoc, study, cancel)
        if surveyed is None:
            result.not_found.append(study)
            continue
        count, study_classes = surveyed
        have = local_count(db, study)
        if count is not None and have == 0 and study_classes:
            requests.append(Request("STUDY", {"StudyInstanceUID": study}, study, None, count))
            classes.update(dict.fromkeys(study_classes))
            continue
        _plan_missing(assoc, db, study, result, requests, classes, cancel)
    if result.studies and len(result.not_found) == len(result.studies):
        raise NotFound(f"node {result.node}: has none of the studies asked for "
                       f"({', '.join(result.not_found)})")
    return requests, [c for c in classes if c]


def _plan_missing(assoc, db, study: str, result, requests: list[Request], classes: dict,
                  cancel: Optional[CancelToken]) -> None:
    instances = instances_in_study(assoc, study, cancel)
    if not instances:
        result.not_found.append(study)
        return
    have = in_cache(db, [sop for _, sop, _ in instances])
    missing = [(series, sop, cls) for series, sop, cls in instances if sop not in have]
    result.already_present += len(instances) - len(missing)
    classes.update(dict.fromkeys(cls for _, _, cls in missing))
    if len(missing) == len(instances):
        sops = [sop for _, sop, _ in missing]
        requests.append(Request("STUDY", {"StudyInstanceUID": study}, study, sops, len(sops)))
        return
    by_series: dict[str, list[str]] = {}
    for series, sop, _ in missing:
        by_series.setdefault(series, []).append(sop)
    for series, sops in by_series.items():
        keys = {"StudyInstanceUID": study, "SeriesInstanceUID": series}
        if sum(1 for s, _, _ in instances if s == series) == len(sops):
            requests.append(Request("SERIES", keys, study, sops, len(sops)))
        else:
            requests.append(Request("IMAGE", dict(keys, SOPInstanceUID=sops), study, sops, len(sops)))


def check(db, requests: list[Request], result, node_failed: dict[str, str],
          list_remote: Callable[[str], list[str]]) -> None:
    """Count what arrived; name every expected instance still missing."""
    for request in requests:
        expected = request.expected
        if expected is None:
            have = local_count(db, request.study)
            result.retrieved += have
            if have >= request.count:
                continue
            expected = list_remote(request.study)
            result.retrieved -= have
        present = in_cache(db, expected)
        result.retrieved += len(present)
        result.failed += [{"sop_instance_uid": sop, "reason": node_failed.get(sop, "not received from the node")}
                          for sop in expected if sop not in present]


def remote_instances(assoc: Association, study: str) -> list[str]:
    return [sop for _, sop, _ in instances_in_study(assoc, study)]


def series_instances(assoc: Association, study_uid: str, series_uid: str,
                     cancel: Optional[CancelToken] = None) -> list[tuple[str, str]]:
    """(SOP Instance UID, SOP Class UID) of one series' instances on the node."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "IMAGE"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.SOPInstanceUID = ""
    ds.SOPClassUID = ""
    found = []
    for answer in find(assoc, STUDY_ROOT_FIND, ds, cancel):
        sop = str(answer.get("SOPInstanceUID", "") or "").strip()
        if sop:
            found.append((sop, str(answer.get("SOPClassUID", "") or "").strip()))
    return found


# final statuses after which some sub-operations may still have succeeded (PS3.4 C.4.2.1.5)
PARTIAL_FAILURES = (0xA701, 0xA702, 0xA900, 0xC000)
STATUS_HINTS = {
    0xA801: "the node does not know this workstation as a move destination: register our AE title, "
            "host and port (`config get aet`, `config get port`) on the node",
    0xA700: "the node is out of resources",
    0x0122: "the node does not support this retrieve (try the other --method)",
}


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


def _finding(home, node: Node) -> Association:
    return open_association(home, node, [Proposal(STUDY_ROOT_FIND, UNCOMPRESSED)])
