"""Association establishment, release and abort (PS3.8 7.1-7.3).

:func:`request` opens an association as the requestor (our SCU side, also
the C-GET side that receives C-STORE sub-operations); :func:`accept` answers
one as the acceptor (the storage listener). Negotiation PDUs are built and
parsed with pynetdicom's PDU classes; the data phase runs on
:class:`app.net.wire.Wire`.
"""

from __future__ import annotations

import itertools
import logging
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import (A_ASSOCIATE, ImplementationClassUIDNotification,
                                       ImplementationVersionNameNotification,
                                       MaximumLengthNotification,
                                       SCP_SCU_RoleSelectionNegotiation)
from pynetdicom.presentation import PresentationContext

from app.dicom.meta import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from app.net import wire
from app.net.wire import Aborted, NetworkError, Wire

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"
MAX_CONTEXTS = 128  # odd context ids 1..255 (PS3.8 9.3.2.2)

# Every association opened, refused, released or aborted goes in the log file
# (app/logs.py); the listener logs the ones it answers (app/net/listener.py).
log = logging.getLogger("studydesk.net")

# A-ASSOCIATE-RJ reasons given by the service user (PS3.8 Table 9-21)
REJECT_NO_REASON = 1
REJECT_CALLING_AE = 3
REJECT_CALLED_AE = 7

_REJECT_TEXT = {
    (1, 1): "no reason given", (1, 2): "application context not supported",
    (1, 3): "calling AE title not recognised", (1, 7): "called AE title not recognised",
    (2, 1): "no reason given (ACSE)", (2, 2): "protocol version not supported",
    (3, 1): "temporary congestion", (3, 2): "local limit exceeded",
}


class Rejected(NetworkError):
    """The peer refused the association (exit code 5: refused by a rule)."""

    exit_code = 5


@dataclass
class Proposal:
    """One presentation context to propose: an abstract syntax, the transfer
    syntaxes we can use with it, and whether we ask for the SCP role (C-GET
    receives its instances through C-STORE sub-operations on our side)."""

    abstract_syntax: str
    transfer_syntaxes: list[str]
    scp_role: bool = False


@dataclass(eq=False)
class Association:
    wire: Wire
    calling_aet: str
    called_aet: str
    peer_max_pdu: int
    contexts: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (abstract, ts)
    peer_address: tuple[str, int] = ("", 0)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    released: bool = False

    @property
    def fragment(self) -> int:
        """The most data one PDV may carry to this peer."""
        limit = self.peer_max_pdu or wire.UNLIMITED_SEND
        return max(1024, min(limit, wire.UNLIMITED_SEND)) - 6

    def next_message_id(self) -> int:
        return next(self._ids) % 65536 or next(self._ids)

    def context_for(self, abstract_syntax: str, transfer_syntax: Optional[str] = None) -> Optional[int]:
        for cid, (abstract, ts) in self.contexts.items():
            if abstract == abstract_syntax and (transfer_syntax is None or ts == transfer_syntax):
                return cid
        return None

    def transfer_syntaxes(self, abstract_syntax: str) -> dict[str, int]:
        """Accepted transfer syntax -> context id, for one abstract syntax."""
        return {ts: cid for cid, (abstract, ts) in self.contexts.items() if abstract == abstract_syntax}

    def release(self) -> None:
        """Orderly release (PS3.8 7.2); anything else the peer sends is dropped."""
        if self.wire.closed:
            return
        try:
            self.wire.send(wire.RELEASE_RQ_PDU)
            while True:
                pdu_type, _ = self.wire.read_pdu()
                if pdu_type in (wire.RELEASE_RP, wire.ABORT):
                    break
                if pdu_type == wire.RELEASE_RQ:  # release collision
                    self.wire.send(wire.RELEASE_RP_PDU)
                    break
        except NetworkError:
            pass
        finally:
            self.released = True
            self.wire.close()
            log.info("association %s -> %s (%s:%s) released", self.calling_aet, self.called_aet, *self.peer_address)

    def abort(self) -> None:
        if self.wire.closed:
            return
        try:
            self.wire.send(wire.ABORT_PDU)
        except NetworkError:
            pass
        self.wire.close()
        log.info("association %s -> %s (%s:%s) aborted", self.calling_aet, self.called_aet, *self.peer_address)

    def __enter__(self) -> "Association":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.release()
        else:
            self.abort()


def _user_information(roles: list[Proposal]) -> list:
    max_length = MaximumLengthNotification()
    max_length.maximum_length_received = wire.OUR_MAX_PDU
    implementation = ImplementationClassUIDNotification()
    implementation.implementation_class_uid = IMPLEMENTATION_CLASS_UID
    version = ImplementationVersionNameNotification()
    version.implementation_version_name = IMPLEMENTATION_VERSION_NAME
    items: list = [max_length, implementation, version]
    for abstract in dict.fromkeys(p.abstract_syntax for p in roles):
        role = SCP_SCU_RoleSelectionNegotiation()
        role.sop_class_uid = abstract
        role.scu_role = False
        role.scp_role = True
        items.append(role)
    return items


def request(host: str, port: int, calling_aet: str, called_aet: str,
            proposals: list[Proposal], timeout: float = 30.0, tls_context=None) -> Association:
    """Open an association; raises :class:`Rejected` or :class:`NetworkError`."""
    if not proposals or len(proposals) > MAX_CONTEXTS:
        raise ValueError(f"{len(proposals)} presentation contexts: propose 1 to {MAX_CONTEXTS}")
    primitive = A_ASSOCIATE()
    primitive.application_context_name = APPLICATION_CONTEXT
    primitive.calling_ae_title = calling_aet
    primitive.called_ae_title = called_aet
    by_id: dict[int, Proposal] = {}
    for n, proposal in enumerate(proposals):
        cx = PresentationContext()
        cx.context_id = 2 * n + 1
        cx.abstract_syntax = proposal.abstract_syntax
        cx.transfer_syntax = list(proposal.transfer_syntaxes)
        primitive.presentation_context_definition_list.append(cx)
        by_id[cx.context_id] = proposal
    primitive.user_information = _user_information([p for p in proposals if p.scp_role])
    pdu = A_ASSOCIATE_RQ()
    pdu.from_primitive(primitive)

    link = Wire(wire.connect(host, port, timeout, tls_context), timeout)
    try:
        link.send(pdu.encode())
        pdu_type, body = link.read_pdu()
        if pdu_type == wire.ASSOCIATE_RJ:
            result, source, reason = bytes(body[1:4])
            why = reject_text(reason, source)
            raise Rejected(f"{called_aet} at {host}:{port} rejected the association: {why}")
        if pdu_type == wire.ABORT:
            raise Aborted(f"{called_aet} at {host}:{port} aborted the association request")
        if pdu_type != wire.ASSOCIATE_AC:
            raise NetworkError(f"{called_aet} at {host}:{port}: unexpected PDU type {pdu_type}")
        ac = A_ASSOCIATE_AC()
        ac.decode(struct.pack(">BxL", pdu_type, len(body)) + bytes(body))
        answer = ac.to_primitive()
    except BaseException as e:
        link.close()
        log.info("association %s -> %s at %s:%s not opened: %s", calling_aet, called_aet, host, port, e)
        raise
    contexts = {}
    for cx in answer.presentation_context_definition_results_list:
        proposal = by_id.get(cx.context_id)
        if cx.result == 0 and proposal is not None and cx.transfer_syntax:
            contexts[cx.context_id] = (proposal.abstract_syntax, str(cx.transfer_syntax[0]))
    log.info("association %s -> %s at %s:%s opened (%d of %d presentation contexts accepted)",
             calling_aet, called_aet, host, port, len(contexts), len(proposals))
    return Association(link, calling_aet, called_aet, answer.maximum_length_received or 0,
                       contexts, (host, port))


# -- the acceptor side -------------------------------------------------------------------


@dataclass
class Request:
    """What a caller asked for, for the listener to judge."""

    calling_aet: str
    called_aet: str
    address: tuple[str, int]


# A-ASSOCIATE-RJ result and source (PS3.8 Table 9-21)
REJECTED_PERMANENT, REJECTED_TRANSIENT = 1, 2
SOURCE_USER, SOURCE_ACSE, SOURCE_PRESENTATION = 1, 2, 3
REJECT_LOCAL_LIMIT = 2  # with SOURCE_PRESENTATION: "local limit exceeded"


def reject_pdu(reason: int, result: int = REJECTED_PERMANENT, source: int = SOURCE_USER) -> bytes:
    """An A-ASSOCIATE-RJ PDU (PS3.8 9.3.4)."""
    return struct.pack(">BxLBBBB", wire.ASSOCIATE_RJ, 4, 0, result, source, reason)


def reject_text(reason: int, source: int = SOURCE_USER) -> str:
    return _REJECT_TEXT.get((source, reason), f"source {source}, reason {reason}")


def _reject(link: Wire, reason: int, source: int = SOURCE_USER) -> None:
    try:
        link.send(reject_pdu(reason, source=source))
    except NetworkError:
        pass


def _abort(link: Wire, reason: int) -> None:
    try:
        link.send(wire.provider_abort(reason))
    except NetworkError:
        pass
    link.close()


def accept(sock: socket.socket, address: tuple[str, int], our_aet: str,
           judge: Callable[[Request], Optional[int]],
           choose: Callable[[str, list[str]], "str | int"],
           timeout: float = 30.0, artim: Optional[float] = None,
           on_refused: Optional[Callable[[str], None]] = None,
           roles: Optional[Callable[[str, bool, bool], tuple[bool, bool]]] = None) -> Optional[Association]:
    """Answer an association request on *sock* (already TLS-wrapped if need be).

    ``judge(request)`` returns None to go on or a rejection reason, sent as
    A-ASSOCIATE-RJ before any data; ``choose(abstract, proposed)`` picks the
    transfer syntax of a proposed context, or returns the refusal result
    (3: abstract syntax, 4: transfer syntaxes not supported). Returns the
    association, or None when it was rejected or the caller gave up.

    Until the request is accepted the caller is a stranger: its bytes are
    read into a small buffer, a PDU announcing more than
    :data:`~app.net.wire.ASSOCIATE_RQ_LIMIT` bytes or of another type than
    A-ASSOCIATE-RQ is answered with A-ABORT at once, and the whole request
    must arrive within *artim* seconds (PS3.8 9.1.5; default *timeout*).
    ``on_refused(why)`` hears why a connection was closed without an
    association (not for the judge's rejections, which the judge reports).
    ``roles(sop_class, scu, scp)`` answers the caller's SCP/SCU role
    selection items for accepted SOP classes (C-GET's storage contexts);
    without it they are left unanswered (the default roles).
    """
    deadline = time.monotonic() + (timeout if artim is None else artim)
    link = Wire(sock, timeout, largest=wire.ASSOCIATE_RQ_LIMIT, buffer=wire.SMALL_BUFFER,
                deadline=deadline)

    def refused(why: str) -> None:
        if on_refused is not None:
            on_refused(why)

    try:
        pdu_type, length = link.peek_header()
        if pdu_type != wire.ASSOCIATE_RQ:
            known = pdu_type in (wire.ASSOCIATE_AC, wire.ASSOCIATE_RJ, wire.P_DATA, wire.RELEASE_RQ,
                                 wire.RELEASE_RP, wire.ABORT)
            _abort(link, wire.ABORT_UNEXPECTED_PDU if known else wire.ABORT_UNRECOGNISED_PDU)
            refused(f"PDU type 0x{pdu_type:02X} instead of an association request (aborted)")
            return None
        pdu_type, body = link.read_pdu()
        rq = A_ASSOCIATE_RQ()
        rq.decode(struct.pack(">BxL", pdu_type, len(body)) + bytes(body))
        asked = rq.to_primitive()
        calling, called = asked.calling_ae_title.strip(), asked.called_ae_title.strip()
        reason = judge(Request(calling, called, address))
        if reason is None and asked.application_context_name != APPLICATION_CONTEXT:
            reason = 2
            refused(f"{calling}: application context {asked.application_context_name} is not DICOM")
        if reason is not None:
            _reject(link, reason)
            link.close()
            return None
        answer, contexts = _answer(asked, choose, roles)
        ac = A_ASSOCIATE_AC()
        ac.from_primitive(answer)
        link.send(ac.encode())
        link.expand()
    except wire.TooLong as e:
        _abort(link, wire.ABORT_INVALID_PARAMETER)
        refused(f"{e} before association (aborted)")
        return None
    except NetworkError as e:
        link.close()
        refused(str(e))
        return None
    except Exception as e:  # a malformed request: abort rather than guess
        _abort(link, wire.ABORT_INVALID_PARAMETER)
        refused(f"malformed association request ({type(e).__name__}: {e}) (aborted)")
        return None
    return Association(link, calling, our_aet, asked.maximum_length_received or 0, contexts, address)


def _answer(asked: A_ASSOCIATE, choose, roles=None) -> tuple[A_ASSOCIATE, dict[int, tuple[str, str]]]:
    answer = A_ASSOCIATE()
    answer.application_context_name = APPLICATION_CONTEXT
    answer.calling_ae_title = asked.calling_ae_title
    answer.called_ae_title = asked.called_ae_title
    answer.result = 0
    contexts: dict[int, tuple[str, str]] = {}
    for cx in asked.presentation_context_definition_list:
        proposed = [str(ts) for ts in cx.transfer_syntax]
        chosen = choose(str(cx.abstract_syntax), proposed) if proposed else 4
        result = PresentationContext()
        result.context_id = cx.context_id
        result.abstract_syntax = cx.abstract_syntax
        if isinstance(chosen, int):
            result.result = chosen
            result.transfer_syntax = proposed[:1] or ["1.2.840.10008.1.2"]
        else:
            result.result = 0
            result.transfer_syntax = [chosen]
            contexts[cx.context_id] = (str(cx.abstract_syntax), chosen)
        answer.presentation_context_definition_results_list.append(result)
    answer.user_information = _user_information([])
    accepted = {abstract for abstract, _ in contexts.values()}
    for item in asked.user_information if roles is not None else []:
        if isinstance(item, SCP_SCU_RoleSelectionNegotiation) and str(item.sop_class_uid) in accepted:
            role = SCP_SCU_RoleSelectionNegotiation()
            role.sop_class_uid = item.sop_class_uid
            role.scu_role, role.scp_role = roles(str(item.sop_class_uid), bool(item.scu_role),
                                                 bool(item.scp_role))
            answer.user_information.append(role)
    return answer, contexts
