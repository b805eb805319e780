"""C-GET and C-MOVE on the listener (:mod:`app.net.qr_scp`): the matching
instances sent as C-STORE sub-operations.

- C-GET sends them back on the caller's own association, on the storage
  contexts it proposed with the SCP role; between two sub-operations (and
  while one is answered) a C-CANCEL is honoured.
- C-MOVE sends them over a new association to the Move Destination, which
  must be a configured node: its AE title, host and port from the
  ``nodes`` table, never the address the request came from. An unknown
  destination gets 0xA801.

Each instance goes as stored when the peer accepted its transfer syntax,
else decompressed (app/net/send.py). A pending response (0xFF00) after each
sub-operation carries the remaining, completed, failed and warning counts;
the final one is Success, 0xB000 with the Failed SOP Instance UID List when
some failed, or 0xFE00 when cancelled. Each retrieve is audited (DICOM
Instances Transferred).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from pydicom.uid import ImplicitVRLittleEndian

from app import store
from app.accounts import audit
from app.net import dimse, nodes, qr_match
from app.net.association import Association
from app.net.client import UNCOMPRESSED, open_association
from app.net.qr_scp import IDENTIFIER_MISMATCH, cancel_asked, keys_of, respond
from app.net.send import Outgoing, Refused, association_groups, converted, proposals_for, store_one
from app.net.wire import NetworkError

MOVE_DESTINATION_UNKNOWN, UNABLE_TO_PERFORM = 0xA801, 0xA702
SUBOPERATIONS_FAILED = 0xB000


@dataclass
class Counts:
    remaining: int
    completed: int = 0
    failed: int = 0
    warning: int = 0
    failed_uids: list[str] = field(default_factory=list)

    def fields(self, final: bool = False) -> dict:
        out = {"NumberOfCompletedSuboperations": self.completed, "NumberOfFailedSuboperations": self.failed,
               "NumberOfWarningSuboperations": self.warning}
        if not final or self.remaining:
            out["NumberOfRemainingSuboperations"] = self.remaining
        return out

    def count(self, sop: str, status: int) -> None:
        self.remaining -= 1
        category = dimse.status_category(status)
        if category == "success":
            self.completed += 1
        elif category == "warning":
            self.warning += 1
        else:
            self.failed += 1
            self.failed_uids.append(sop)


def matching_instances(home, level: str, identifier: Dataset) -> list[Outgoing]:
    """The instances a retrieve identifier names (its unique keys)."""
    plan = qr_match.plan("IMAGE", keys_of(identifier), only_unique=True)
    sql = plan.sql.replace("SELECT ", "SELECT i.sop_instance_uid, i.sop_class_uid, i.transfer_syntax_uid,"
                                      " s.study_instance_uid, ", 1)
    db = home.connect()
    try:
        return [Outgoing(sop, cls, ts or ImplicitVRLittleEndian, store.absolute(home, row[-1]), study)
                for sop, cls, ts, study, *row in db.execute(sql, plan.params)]
    finally:
        db.close()


UNIQUE_KEYS = {"PATIENT": "PatientID", "STUDY": "StudyInstanceUID", "SERIES": "SeriesInstanceUID",
               "IMAGE": "SOPInstanceUID"}


def retrieve(scp, assoc: Association, message: dimse.Message, node: nodes.Node, identifier: Dataset,
             level: str) -> None:
    unique = UNIQUE_KEYS[level]
    value = keys_of(identifier).get(unique, "")
    if qr_match.is_universal(value) or "*" in value or "?" in value:
        # a retrieve names what it wants: never the whole cache by an empty key
        respond(assoc, message, IDENTIFIER_MISMATCH, ErrorComment=f"{unique} is required at {level} level")
        scp._event("refused", f"{node.name}: retrieve at {level} level without {unique}")
        return
    instances = matching_instances(scp.home, level, identifier)
    counts = Counts(len(instances))
    studies = sorted({i.study_instance_uid for i in instances})
    if message.field == dimse.C_GET_RQ:
        what, cancelled = "C-GET", _get(assoc, message, instances, counts)
        where = str(node)
    else:
        destination = str(message.command.get("MoveDestination", "")).strip()
        target = next((n for n in nodes.nodes_of(scp.home) if n.aet == destination), None)
        what, where = "C-MOVE", f"{destination}"
        if target is None:
            respond(assoc, message, MOVE_DESTINATION_UNKNOWN,
                    ErrorComment=f"move destination {destination} is not a configured node"[:64])
            scp._event("refused", f"{node.name}: C-MOVE to {destination!r}, not a configured node")
            scp._audit_qr("retrieve", audit.INSTANCES_TRANSFERRED, studies,
                          f"C-MOVE from {node} to unknown destination {destination!r} refused",
                          audit.MINOR_FAILURE)
            return
        where = str(target)
        try:
            cancelled = _move(scp.home, assoc, message, target, instances, counts)
        except NetworkError as e:  # the destination cannot be reached: nothing was sent
            respond(assoc, message, UNABLE_TO_PERFORM, ErrorComment=str(e)[:64],
                    **Counts(0, failed=len(instances)).fields(final=True))
            scp._event("refused", f"{node.name}: C-MOVE to {target.name}: {e}")
            return
    _final(assoc, message, counts, cancelled)
    scp._event("retrieve", f"{node.name}: {what} to {where}: {counts.completed} sent, {counts.failed} failed"
                           f"{' (cancelled)' if cancelled else ''}")
    outcome = audit.SUCCESS if not counts.failed and not cancelled else audit.MINOR_FAILURE
    scp._audit_qr("retrieve", audit.INSTANCES_TRANSFERRED, studies,
                  f"{what} from {node} to {where}: {counts.completed} sent, {counts.warning} with warnings, "
                  f"{counts.failed} failed{', cancelled' if cancelled else ''}", outcome)


def _final(assoc: Association, message: dimse.Message, counts: Counts, cancelled: bool) -> None:
    if cancelled:
        status = dimse.CANCEL
    elif counts.failed or counts.warning:
        status = SUBOPERATIONS_FAILED
    else:
        status = dimse.SUCCESS
    listed = None
    if counts.failed_uids and status != dimse.SUCCESS:
        listed = Dataset()
        listed.FailedSOPInstanceUIDList = counts.failed_uids
    respond(assoc, message, status, listed, **counts.fields(final=True))


def _pending(assoc: Association, message: dimse.Message, counts: Counts) -> None:
    if counts.remaining:
        respond(assoc, message, dimse.PENDING[0], **counts.fields())


# -- C-GET: back on the caller's association ---------------------------------------------


def _get(assoc: Association, message: dimse.Message, instances: list[Outgoing], counts: Counts) -> bool:
    """Send the instances; True when the caller cancelled."""
    for inst in instances:
        if cancel_asked(assoc):
            return True
        status, cancelled = _store_back(assoc, inst)
        counts.count(inst.sop_instance_uid, status)
        if cancelled:
            return True
        _pending(assoc, message, counts)
    return False


def _store_back(assoc: Association, inst: Outgoing) -> tuple[int, bool]:
    """One C-STORE sub-operation to the caller: its status, and whether a
    C-CANCEL came in while it was answered."""
    accepted = assoc.transfer_syntaxes(inst.sop_class_uid)
    command = {"CommandField": dimse.C_STORE_RQ, "MessageID": assoc.next_message_id(), "Priority": 0,
               "AffectedSOPClassUID": inst.sop_class_uid, "AffectedSOPInstanceUID": inst.sop_instance_uid}
    try:
        meta = dimse.read_meta(inst.path)
        if meta is not None and meta[1]["TransferSyntaxUID"] in accepted:
            dimse.send(assoc, accepted[meta[1]["TransferSyntaxUID"]], command, dataset_file=(inst.path, meta[0]))
        else:
            target = next((ts for ts in UNCOMPRESSED if ts in accepted), None)
            if target is None:
                return UNABLE_TO_PERFORM, False  # no context for this SOP class and syntax
            dimse.send(assoc, accepted[target], command, dataset=converted(inst, target))
    except (OSError, Refused):
        return UNABLE_TO_PERFORM, False
    cancelled = False
    while True:
        answer = dimse.receive(assoc)
        if answer is not None and answer.field == dimse.C_STORE_RSP:
            return answer.status, cancelled
        if answer is None or answer.field != dimse.C_CANCEL_RQ:
            raise NetworkError("the caller ended the association during a C-GET sub-operation")
        cancelled = True


# -- C-MOVE: to a configured node ------------------------------------------------------------


def _move(home, assoc: Association, message: dimse.Message, target: nodes.Node,
          instances: list[Outgoing], counts: Counts) -> bool:
    """Send the instances to *target*; True when the caller cancelled.
    Raises NetworkError when the destination cannot be reached at all."""
    if not instances:
        return False
    first = True
    for group in association_groups(instances):
        try:
            sub = open_association(home, target, proposals_for(group))
        except NetworkError:
            if first:
                raise
            for inst in group:
                counts.count(inst.sop_instance_uid, UNABLE_TO_PERFORM)
            continue
        first = False
        with sub:
            for n, inst in enumerate(group):
                if cancel_asked(assoc):
                    return True
                try:
                    status = store_one(sub, inst, _Tally())
                except Refused:
                    status = UNABLE_TO_PERFORM
                except NetworkError:
                    for rest in group[n:]:
                        counts.count(rest.sop_instance_uid, UNABLE_TO_PERFORM)
                    break
                counts.count(inst.sop_instance_uid, status)
                _pending(assoc, message, counts)
    return False


class _Tally:
    """What :func:`app.net.send.store_one` counts (conversions), unused here."""

    converted = 0
