"""Send instances to a node (C-STORE): one association per job, not per file.

Presentation contexts: for each SOP class present, one context per
compressed transfer syntax present (sent as stored) and one uncompressed
context (Explicit, Implicit VR Little Endian) as the fallback. An instance
whose own syntax was accepted is streamed from its file untouched; one whose
compressed syntax the peer refused is decompressed (pydicom with pylibjpeg)
and sent uncompressed. Each instance gets its status; failures are retried
once over a new association; the job ends with a DICOM Instances
Transferred audit entry (110104). IOCM corrections queued by the content
manager go through :func:`send_files`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pydicom
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian, UncompressedTransferSyntaxes

from app import store
from app.accounts import audit
from app.accounts.accounts import User
from app.db import transaction
from app.errors import Cancelled
from app.jobs import CancelToken, Progress, Throttled, no_progress
from app.net import dimse
from app.net.association import MAX_CONTEXTS, Association, Proposal
from app.net.client import UNCOMPRESSED, open_association
from app.net.nodes import Node, get_node
from app.net.wire import NetworkError
from app.worklist.query import resolve_study_uid

_UNCOMPRESSED = {str(ts) for ts in UncompressedTransferSyntaxes}


@dataclass
class Outgoing:
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    path: Path
    study_instance_uid: str = ""


@dataclass
class SendResult:
    node: str
    studies: list[str] = field(default_factory=list)
    sent: int = 0
    warnings: int = 0
    converted: int = 0
    failed: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"node": self.node, "studies": self.studies, "sent": self.sent,
                "warnings": self.warnings, "converted": self.converted, "failed": self.failed}


def study_instances(home, db, study_uids: list[str],
                    only: Optional[set[str]] = None) -> tuple[list[str], list[Outgoing]]:
    studies = [resolve_study_uid(db, uid) for uid in study_uids]
    out: list[Outgoing] = []
    for study in dict.fromkeys(studies):
        for sop, cls, ts, path in db.execute(
                "SELECT i.sop_instance_uid, i.sop_class_uid, i.transfer_syntax_uid, i.path"
                " FROM instances i JOIN series s USING (series_instance_uid)"
                " WHERE s.study_instance_uid = ? ORDER BY s.series_number IS NULL, s.series_number,"
                " s.series_instance_uid, i.instance_number IS NULL, i.instance_number,"
                " i.sop_instance_uid", [study]):
            if only is None or sop in only:
                out.append(Outgoing(sop, cls, ts or ImplicitVRLittleEndian, store.absolute(home, path), study))
    return list(dict.fromkeys(studies)), out


def send_studies(home, user: User, study_uids: list[str], node_name: str,
                 progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None,
                 sop_instance_uids: Optional[list[str]] = None, retries: int = 1) -> SendResult:
    """Send the studies (or only *sop_instance_uids* of them: a retry of the
    failures a previous send reported)."""
    user.require("network", "send studies")
    db = home.connect()
    try:
        node = get_node(db, node_name)
        only = set(sop_instance_uids) if sop_instance_uids else None
        studies, instances = study_instances(home, db, study_uids, only)
        result = SendResult(node.name, studies)
        return _run(home, db, user, node, instances, result, progress, cancel, retries)
    finally:
        db.close()


def outgoing_file(path: Path, study_uid: str = "") -> Outgoing:
    """An instance to send, described from its file's meta header."""
    meta = dimse.read_meta(path)
    if meta is None:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        return Outgoing(str(ds.SOPInstanceUID), str(ds.SOPClassUID), ImplicitVRLittleEndian, path,
                        study_uid or str(ds.get("StudyInstanceUID", "")))
    values = meta[1]
    return Outgoing(values.get("MediaStorageSOPInstanceUID", ""), values.get("MediaStorageSOPClassUID", ""),
                    values["TransferSyntaxUID"], path, study_uid)


def send_files(home, user: User, paths: list[Path], node_name: str,
               progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None) -> SendResult:
    """Send DICOM files that need not be in the cache (IOCM corrections)."""
    return send_outgoing(home, user, [outgoing_file(Path(p)) for p in paths], node_name, progress, cancel)


def send_outgoing(home, user: User, instances: list[Outgoing], node_name: str,
                  progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None,
                  retries: int = 1) -> SendResult:
    user.require("network", "send instances")
    db = home.connect()
    try:
        node = get_node(db, node_name)
        result = SendResult(node.name, sorted({i.study_instance_uid for i in instances} - {""}))
        return _run(home, db, user, node, instances, result, progress, cancel, retries)
    finally:
        db.close()


def _run(home, db, user: User, node: Node, instances: list[Outgoing], result: SendResult,
         progress: Optional[Progress], cancel: Optional[CancelToken], retries: int) -> SendResult:
    if node.web:  # a DICOMweb node: STOW-RS (app/net/web/stow.py)
        from app.net.web import stow

        return stow.run(home, db, user, node, instances, result, progress, cancel, retries)
    progress = Throttled(progress or no_progress)
    cancel = cancel or CancelToken()
    failed: dict[str, tuple[str, bool]] = {}  # SOP Instance UID -> (reason, worth a retry)
    ticks = iter(range(1, len(instances) + 1))

    def tick() -> None:
        done = next(ticks, len(instances))
        progress(done / max(1, len(instances)), f"Sending {done} of {len(instances)} to {node.name}")

    try:
        batch = instances
        for attempt in range(1 + max(0, retries)):
            if attempt:
                batch = [i for i in instances if failed.get(i.sop_instance_uid, ("", False))[1]]
                if not batch:
                    break
                progress(None, f"Retrying {len(batch)} failed instances")
                for inst in batch:
                    del failed[inst.sop_instance_uid]
            for group in association_groups(batch):
                _send_group(home, node, group, result, failed, tick if not attempt else (lambda: None), cancel)
    finally:
        result.failed = [{"sop_instance_uid": sop, "reason": why} for sop, (why, _) in failed.items()]
        _audit(db, user, node, result, cancel.cancelled)
    return result


def proposals_for(instances: list[Outgoing]) -> list[Proposal]:
    proposals: dict[tuple[str, str], Proposal] = {}
    for inst in instances:
        ts = inst.transfer_syntax_uid
        if ts not in _UNCOMPRESSED or ts == ExplicitVRBigEndian:
            proposals.setdefault((inst.sop_class_uid, ts), Proposal(inst.sop_class_uid, [ts]))
        proposals.setdefault((inst.sop_class_uid, ""), Proposal(inst.sop_class_uid, UNCOMPRESSED))
    return list(proposals.values())


def association_groups(instances: list[Outgoing]) -> list[list[Outgoing]]:
    """Instances split so that each group's contexts fit one association
    (one group unless more than 128 contexts are needed)."""
    groups: list[list[Outgoing]] = []
    classes: dict[str, int] = {}
    for inst in instances:
        classes.setdefault(inst.sop_class_uid, 0)
    current: list[str] = []
    for cls in classes:
        trial = current + [cls]
        if len(proposals_for([i for i in instances if i.sop_class_uid in trial])) > MAX_CONTEXTS and current:
            groups.append([i for i in instances if i.sop_class_uid in current])
            trial = [cls]
        current = trial
    if current:
        groups.append([i for i in instances if i.sop_class_uid in current])
    return groups


class Refused(Exception):
    """This instance cannot be sent to this peer (no retry helps)."""


def _send_group(home, node: Node, group: list[Outgoing], result: SendResult,
                failed: dict[str, tuple[str, bool]], tick, cancel: CancelToken) -> None:
    try:
        assoc = open_association(home, node, proposals_for(group))
    except NetworkError as e:
        for inst in group:
            failed[inst.sop_instance_uid] = (str(e), True)
        return
    with assoc:
        for n, inst in enumerate(group):
            if cancel.cancelled:
                raise Cancelled(f"send cancelled after {result.sent} instances")
            try:
                status = store_one(assoc, inst, result)
            except NetworkError as e:
                for rest in group[n:]:
                    failed[rest.sop_instance_uid] = (f"connection lost: {e}", True)
                return
            except Refused as e:
                failed[inst.sop_instance_uid] = (str(e), False)
            else:
                category = dimse.status_category(status)
                if category in ("success", "warning"):
                    result.sent += 1
                    result.warnings += category == "warning"
                else:
                    failed[inst.sop_instance_uid] = (f"{node.name} answered status 0x{status:04X}", True)
            tick()


def store_one(assoc: Association, inst: Outgoing, result: SendResult) -> int:
    """Send one instance and return the peer's status."""
    accepted = assoc.transfer_syntaxes(inst.sop_class_uid)
    if not accepted:
        raise Refused(f"refused: {assoc.called_aet} accepts no presentation context for "
                       f"SOP class {inst.sop_class_uid}")
    command = {"CommandField": dimse.C_STORE_RQ, "MessageID": assoc.next_message_id(), "Priority": 0,
               "AffectedSOPClassUID": inst.sop_class_uid, "AffectedSOPInstanceUID": inst.sop_instance_uid}
    try:
        meta = dimse.read_meta(inst.path)
    except OSError as e:
        raise Refused(f"cannot read {inst.path}: {e.strerror or e}") from e
    if meta is not None and meta[1]["TransferSyntaxUID"] in accepted:
        dimse.send(assoc, accepted[meta[1]["TransferSyntaxUID"]], command, dataset_file=(inst.path, meta[0]))
    else:
        target = next((ts for ts in UNCOMPRESSED if ts in accepted), None)
        if target is None:
            raise Refused(f"refused: {assoc.called_aet} accepts neither {inst.transfer_syntax_uid} "
                           "nor an uncompressed syntax for this SOP class")
        dimse.send(assoc, accepted[target], command, dataset=converted(inst, target))
        result.converted += 1
    answer = dimse.receive(assoc)
    if answer is None:
        raise NetworkError(f"{assoc.called_aet} released the association during C-STORE")
    return answer.status


def converted(inst: Outgoing, target: str) -> bytes:
    """The data set decompressed (pylibjpeg) and encoded in *target*."""
    try:
        ds = pydicom.dcmread(inst.path, force=True)
        if ds.file_meta.get("TransferSyntaxUID", ImplicitVRLittleEndian) not in _UNCOMPRESSED:
            ds.decompress()
        return dimse.encode_dataset(ds, target)
    except Exception as e:  # noqa: BLE001 - pydicom raises many kinds for undecodable pixel data
        raise Refused(f"cannot decompress {inst.transfer_syntax_uid} for a peer that refuses it: "
                       f"{type(e).__name__}: {e}") from e


def _audit(db, user: User, node: Node, result: SendResult, cancelled: bool) -> None:
    outcome = audit.SUCCESS if not result.failed and not cancelled else (
        audit.MINOR_FAILURE if result.sent else audit.SERIOUS_FAILURE)
    with transaction(db):
        audit.record(db, user.name, "send", audit.INSTANCES_TRANSFERRED, outcome=outcome,
                     objects=result.studies,
                     detail=f"C-STORE to {node}: {result.sent} sent ({result.converted} decompressed), "
                            f"{len(result.failed)} failed{', cancelled' if cancelled else ''}")
