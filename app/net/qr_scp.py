"""The listener's Query/Retrieve SCP: C-FIND, C-GET and C-MOVE over the cache.

Study Root and Patient Root information models (PS3.4 C.6), at the PATIENT
(Patient Root only), STUDY, SERIES and IMAGE levels, for the configured
nodes the listener already admits. C-FIND answers one pending response
(0xFF00) per match, then Success; a C-CANCEL between two responses ends it
with 0xFE00. Matching is :mod:`app.net.qr_match`; C-GET and C-MOVE are
:mod:`app.net.qr_retrieve`.

An association proposing C-GET also proposes the storage SOP classes it
wants to receive, with an SCP/SCU role selection item asking to be their
SCP: the listener answers that item (:func:`roles`), so that it may send
C-STORE sub-operations back on the same association.
"""

from __future__ import annotations

import select
from typing import Optional

import pydicom
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from app import store
from app.accounts import audit
from app.db import transaction
from app.net import dimse, nodes, qr_match
from app.net.association import Association
from app.net.client import UNCOMPRESSED
from app.net.storage_scp import is_storage, storage_choice
from app.net.wire import NetworkError

PATIENT_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
PATIENT_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.1.2"
PATIENT_ROOT_GET = "1.2.840.10008.5.1.4.1.2.1.3"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
STUDY_ROOT_GET = "1.2.840.10008.5.1.4.1.2.2.3"
# SOP class -> the levels its information model has
MODELS = {
    PATIENT_ROOT_FIND: qr_match.LEVELS, PATIENT_ROOT_MOVE: qr_match.LEVELS, PATIENT_ROOT_GET: qr_match.LEVELS,
    STUDY_ROOT_FIND: qr_match.LEVELS[1:], STUDY_ROOT_MOVE: qr_match.LEVELS[1:],
    STUDY_ROOT_GET: qr_match.LEVELS[1:],
}
IDENTIFIER_MISMATCH, UNABLE_TO_PROCESS = 0xA900, 0xC000
_CHARSET, _LEVEL = 0x00080005, 0x00080052


def choice(abstract: str, proposed: list[str]) -> "str | int":
    """The listener's presentation contexts: Verification, storage, and the
    Q/R models (identifiers in an uncompressed syntax)."""
    if abstract in MODELS:
        usable = [ts for ts in proposed if ts in UNCOMPRESSED]
        return usable[0] if usable else 4
    return storage_choice(abstract, proposed)


def roles(sop_class: str, scu: bool, scp: bool) -> tuple[bool, bool]:
    """The answer to a role selection item: the caller may be the SCP of a
    storage SOP class (the receiving end of C-GET), of nothing else."""
    return scu, scp and is_storage(sop_class)


class Stopped(NetworkError):
    """The caller released or broke the association during an operation."""


def cancel_asked(assoc: Association) -> bool:
    """Whether the caller sent C-CANCEL, without waiting when it sent nothing.
    Anything other than C-CANCEL in the middle of an operation ends the
    association (no asynchronous operations were negotiated)."""
    link = assoc.wire
    buffered = link.has_buffered()  # bytes already read from the socket (app/net/wire.py)
    pending = getattr(link.sock, "pending", None)  # TLS: decrypted bytes waiting
    if not buffered and not (pending and pending()) and not select.select([link.sock], [], [], 0)[0]:
        return False
    return _cancel_or_stop(dimse.receive(assoc))


def _cancel_or_stop(message: Optional[dimse.Message]) -> bool:
    if message is None:
        raise Stopped("the caller released the association during an operation")
    if message.field != dimse.C_CANCEL_RQ:
        raise Stopped(f"the caller sent command 0x{message.field:04X} during an operation")
    return True


def text_of(element) -> str:
    """An identifier element's value as DICOM text (values joined by '\\')."""
    if element.VR == "SQ" or element.value is None or isinstance(element.value, bytes):
        return ""
    if isinstance(element.value, (list, MultiValue)):
        return "\\".join(str(v) for v in element.value)
    return str(element.value)


def respond(assoc: Association, message: dimse.Message, status: int, dataset: Optional[Dataset] = None,
            **fields) -> None:
    """A C-FIND/C-GET/C-MOVE response on the request's context."""
    ts = assoc.contexts[message.context_id][1]
    command = {"CommandField": message.field | 0x8000,
               "MessageIDBeingRespondedTo": message.command.get("MessageID", 0),
               "AffectedSOPClassUID": message.command.get("AffectedSOPClassUID", ""),
               "Status": status, **fields}
    data = dimse.encode_dataset(dataset, ts) if dataset is not None else None
    dimse.send(assoc, message.context_id, command, dataset=data)


def identifier_of(assoc: Association, message: dimse.Message) -> tuple[Optional[Dataset], str, str]:
    """The decoded identifier and its level, or (None, "", why) for a bad
    one: the error comment of the failure response."""
    abstract, ts = assoc.contexts[message.context_id]
    if message.dataset is None:
        return None, "", "no identifier"
    try:
        identifier = dimse.decode_dataset(message.dataset, ts)
        level = str(identifier.get("QueryRetrieveLevel", "")).strip().upper()
    except Exception as e:  # noqa: BLE001 - a malformed identifier is the caller's mistake
        return None, "", f"identifier unreadable: {type(e).__name__}"
    if level not in MODELS[abstract]:
        return None, "", f"level {level or '(none)'} is not in this information model"
    return identifier, level, ""


def keys_of(identifier: Dataset) -> dict[str, str]:
    return {e.keyword: text_of(e) for e in identifier if e.keyword and e.tag not in (_CHARSET, _LEVEL)}


class QueryRetrieveSCP:
    """C-FIND, C-GET and C-MOVE for :class:`~app.net.listener.Listener`
    (whose ``home``, ``user_name``, ``aet`` and ``_event`` it uses)."""

    def _query_retrieve(self, assoc: Association, message: dimse.Message, node: nodes.Node) -> None:
        from app.net import qr_retrieve  # here: it builds on this module

        if message.context_id not in assoc.contexts or assoc.contexts[message.context_id][0] not in MODELS:
            raise NetworkError(f"{node.name} sent a query or retrieve on a context not negotiated for it")
        identifier, level, why = identifier_of(assoc, message)
        if identifier is None:
            status = UNABLE_TO_PROCESS if why.startswith("identifier") else IDENTIFIER_MISMATCH
            respond(assoc, message, status, ErrorComment=why[:64])
            self._event("refused", f"{node.name}: {why}")
            return
        try:
            if message.field == dimse.C_FIND_RQ:
                self._find(assoc, message, node, identifier, level)
            else:
                qr_retrieve.retrieve(self, assoc, message, node, identifier, level)
        except (NetworkError, OSError):
            raise
        except Exception as e:  # noqa: BLE001 - a query we cannot answer fails, the association goes on
            why = f"{type(e).__name__}: {e}"
            self._event("refused", f"{node.name}: {why}")
            respond(assoc, message, UNABLE_TO_PROCESS, ErrorComment=why.encode("ascii", "replace").decode()[:64])

    def _find(self, assoc: Association, message: dimse.Message, node: nodes.Node,
              identifier: Dataset, level: str) -> None:
        keys = keys_of(identifier)
        plan = qr_match.plan(level, keys)
        # keys the cache does not hold: read from a file, matched there when given a value
        from_file = [e for e in identifier if e.tag not in (_CHARSET, _LEVEL) and e.keyword not in plan.columns]
        found, cancelled = 0, False
        db = self.home.connect()
        try:
            for row in db.execute(plan.sql, plan.params):
                if cancel_asked(assoc):
                    cancelled = True
                    break
                answer = self._match(identifier, level, plan, row, from_file)
                if answer is not None:
                    found += 1
                    respond(assoc, message, dimse.PENDING[0], answer)
        finally:
            db.close()
        respond(assoc, message, dimse.CANCEL if cancelled else dimse.SUCCESS)
        self._event("query", f"{node.name}: C-FIND at {level} level, {found} matches"
                             f"{' (cancelled)' if cancelled else ''}")
        self._audit_qr("query", audit.QUERY, [], f"C-FIND from {node} at {level} level "
                       f"{ {k: v for k, v in keys.items() if v} or 'all'}: {found} matches")

    def _match(self, identifier: Dataset, level: str, plan: qr_match.Plan, row, from_file) -> Optional[Dataset]:
        """The answer for one row, or None when a key read from the file does not match."""
        values = dict(zip(plan.columns, row))
        read = _read(self.home, row[-1], [e.tag for e in from_file]) if from_file else Dataset()
        out = Dataset()
        for element in identifier:
            if element.tag in (_CHARSET, _LEVEL):
                continue
            if element.keyword in values:
                out.add_new(element.tag, element.VR, _value(values[element.keyword], element.VR))
                continue
            have = read.get(element.tag)
            if have is not None and element.VR != "SQ" and have.VR != "SQ":
                if not qr_match.value_matches(text_of(have), text_of(element), have.VR):
                    return None
            elif have is None and element.VR != "SQ" and not qr_match.is_universal(text_of(element)):
                return None
            out.add(have if have is not None else pydicom.DataElement(element.tag, element.VR, None))
        out.QueryRetrieveLevel = level
        if "RetrieveAETitle" in identifier:
            out.RetrieveAETitle = self.aet
        if any(isinstance(e.value, str) and not e.value.isascii() for e in out if e.VR != "SQ") or (
                "SpecificCharacterSet" in read):
            out.SpecificCharacterSet = "ISO_IR 192"
        return out

    def _audit_qr(self, action: str, event: str, objects: list, detail: str,
                  outcome: str = audit.SUCCESS) -> None:
        try:
            db = self.home.connect()
            try:
                with transaction(db):
                    audit.record(db, self.user_name, action, event, outcome=outcome, objects=objects,
                                 detail=detail)
            finally:
                db.close()
        except Exception as e:  # noqa: BLE001 - the answer stands even if the audit could not be written
            self._event("refused", f"the {action} above could not be audited: {e}")


def _value(value, vr: str):
    if value is None or value == "":
        return None
    if vr == "CS" and isinstance(value, str) and "\\" in value:
        return [v for v in value.split("\\") if v]
    if vr in ("US", "UL", "SS", "SL"):
        return int(value)
    return str(value)


def _read(home, path: Optional[str], tags: list) -> Dataset:
    """The asked elements of one file of the entity (empty when it cannot be read)."""
    if not path:
        return Dataset()
    try:
        ds = pydicom.dcmread(store.absolute(home, path), stop_before_pixels=True, specific_tags=tags,
                             force=True)
        if "SpecificCharacterSet" in ds:
            ds.decode()
        return ds
    except Exception:  # noqa: BLE001 - a file gone or unreadable answers empty keys
        return Dataset()
