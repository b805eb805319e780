"""One association of the storage listener (:mod:`app.net.listener`): the
caller judged (the called AE title, a configured node; a refusal counted,
reported and audited), presentation contexts chosen (Verification and storage
SOP classes, data sets kept in the syntax they arrive in), then C-ECHO and
C-STORE answered, each C-STORE once its instance is durable or refused;
C-FIND, C-GET and C-MOVE go to :mod:`app.net.qr_scp`.
"""

from __future__ import annotations

import re
import threading
from typing import Optional

from pydicom.uid import AllTransferSyntaxes
from pynetdicom.service_class import ServiceClass, StorageServiceClass
from pynetdicom.sop_class import uid_to_service_class

from app.accounts import audit
from app.db import transaction
from app.net import association, dimse, nodes, sinks
from app.net.association import Association, Request
from app.net.client import UNCOMPRESSED, VERIFICATION
from app.net.intake import Stored
from app.net.wire import NetworkError

STORAGE_BRANCH = "1.2.840.10008.5.1.4.1.1."
_UID = re.compile(r"[0-9]+(\.[0-9]+)+")
ACCEPTED_SYNTAXES = frozenset(str(ts) for ts in AllTransferSyntaxes)
MEMORY_LIMIT = 8 << 20  # a received data set larger than this goes on into a file as it arrives


def is_storage(abstract: str) -> bool:
    """A storage SOP class, standard or private. A UID that names another
    known service (query/retrieve, worklist, print...) is not; an unknown
    UID sent for storage is taken for a private storage class (a vendor's
    raw data), which the importer records like any instance."""
    if abstract.startswith(STORAGE_BRANCH):
        return True
    service = uid_to_service_class(abstract)
    return service is StorageServiceClass or (service is ServiceClass and _UID.fullmatch(abstract) is not None)


def storage_choice(abstract: str, proposed: list[str]) -> "str | int":
    """Accept Verification and storage SOP classes, in the first proposed
    transfer syntax we know (data sets are kept as they arrive)."""
    if abstract == VERIFICATION:
        usable = [ts for ts in proposed if ts in UNCOMPRESSED]
    elif is_storage(abstract):
        usable = [ts for ts in proposed if ts in ACCEPTED_SYNTAXES]
    else:
        return 3
    return usable[0] if usable else 4


class StorageSCP:
    """The listener's side of an association, as a part of
    :class:`~app.net.listener.Listener`, whose state it uses: ``home``,
    ``user_name``, ``aet``, ``limits``, ``intake``, the counters ``received``
    and ``rejected``, ``_lock``, ``_asking``, ``_active``, ``_stopping``,
    ``_folder`` and ``_event``."""

    def _judge(self, request: Request, caller: dict) -> Optional[int]:
        if self.limits.check_called_aet and request.called_aet != self.aet:
            return self._refuse(request, association.REJECT_CALLED_AE,
                                f"called AE title {request.called_aet!r} is not this workstation's ({self.aet})")
        db = self.home.connect()
        try:
            node = nodes.caller_node(db, request.calling_aet, request.address[0])
        finally:
            db.close()
        if node is None:
            return self._refuse(request, association.REJECT_CALLING_AE,
                                "not a configured node (calling AE title and host must match)")
        caller["node"] = node
        with self._lock:  # accepted: no longer one to make room from
            self._asking.pop(threading.current_thread(), None)
        return None

    def _refuse(self, request: Request, reason: int, why: str) -> int:
        """Count, report and audit a rejected association (a security alert
        with a minor-failure outcome, PS3.15 A.5.3.11); returns *reason*."""
        with self._lock:
            self.rejected += 1
        text = f"{request.calling_aet} from {request.address[0]}: {why}"
        self._event("rejected", text)
        try:
            db = self.home.connect()
            try:
                with transaction(db):
                    audit.record(db, self.user_name, "association-rejected", audit.SECURITY_ALERT,
                                 outcome=audit.MINOR_FAILURE,
                                 objects=[request.calling_aet, request.address[0]],
                                 detail=f"{association.reject_text(reason)}: {text}")
            finally:
                db.close()
        except Exception as e:  # noqa: BLE001 - the refusal stands even if the audit could not be written
            self._event("rejected", f"the refusal above could not be audited: {e}")
        return reason

    def _associated(self, assoc: Association, node: nodes.Node) -> None:
        with self._lock:
            self._active.add(assoc)
        self._event("accepted", f"{node} ({len(assoc.contexts)} presentation contexts)")
        count = 0
        try:
            while not self._stopping.is_set():
                message = dimse.receive(assoc, lambda cid, command: self._sink(assoc, cid, command))
                if message is None:
                    self._event("released", f"{node.name}: {count} instances")
                    return
                count += self._answer(assoc, message, node)
        except Exception as e:  # noqa: BLE001 - whatever went wrong ends this association only
            why = str(e) if isinstance(e, NetworkError) else f"{type(e).__name__}: {e}"
            self._event("aborted", f"{node.name}: {why} (after {count} complete instances; "
                                   "nothing partial kept)")
        finally:
            assoc.wire.close()

    def _sink(self, assoc: Association, context_id: int, command: dict) -> Optional[sinks.MemorySink]:
        if command.get("CommandField") != dimse.C_STORE_RQ or context_id not in assoc.contexts:
            return None
        assert self._folder is not None
        return sinks.MemorySink(self._folder, command.get("AffectedSOPClassUID", ""),
                                command.get("AffectedSOPInstanceUID", ""), assoc.contexts[context_id][1],
                                assoc.calling_aet, limit=MEMORY_LIMIT)

    def _answer(self, assoc: Association, message: dimse.Message, node: nodes.Node) -> int:
        command = message.command
        reply = {"MessageIDBeingRespondedTo": command.get("MessageID", 0)}
        if message.field == dimse.C_ECHO_RQ:
            dimse.send(assoc, message.context_id, dict(
                reply, CommandField=dimse.C_ECHO_RSP, AffectedSOPClassUID=VERIFICATION,
                Status=dimse.SUCCESS))
            return 0
        if message.field in (dimse.C_FIND_RQ, dimse.C_GET_RQ, dimse.C_MOVE_RQ):
            self._query_retrieve(assoc, message, node)  # the Listener's part from app/net/qr_scp.py
            return 0
        if message.field == dimse.C_CANCEL_RQ:  # too late: the operation it names has ended
            return 0
        if message.field != dimse.C_STORE_RQ:
            raise NetworkError(f"{node.name} sent an unexpected command 0x{message.field:04X}")
        sop = command.get("AffectedSOPInstanceUID", "")
        if message.file_data is not None:  # answered only once durable (app/net/intake.py)
            stored = self.intake.store_data(message.file_data, sop, node.name)
        elif message.path is not None:
            stored = self.intake.store_file(message.path, sop, node.name)
        else:
            stored = Stored(dimse.OUT_OF_RESOURCES, message.sink_error or "no data set")
        if stored.ok:
            with self._lock:
                self.received += 1
        else:
            self._event("refused", f"{sop}: {stored.reason}")
        dimse.send(assoc, message.context_id, dict(
            reply, CommandField=dimse.C_STORE_RSP, AffectedSOPClassUID=command.get("AffectedSOPClassUID", ""),
            AffectedSOPInstanceUID=sop, Status=stored.status, **error_comment(stored)))
        return int(stored.ok)


def error_comment(stored: Stored) -> dict:
    """The reason of a failure status, as its Error Comment (LO: 64 characters)."""
    if stored.ok or not stored.reason:
        return {}
    text = stored.reason.encode("ascii", "replace").decode().replace("\\", "/")
    return {"ErrorComment": text[:64].rstrip()}
