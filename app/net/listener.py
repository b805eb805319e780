"""The storage listener (Storage SCP, and Verification): what other nodes send
us, and where C-MOVE delivers.

- Only configured nodes may associate: the calling AE title and the peer's
  address must match a row of ``nodes``; anyone else gets A-ASSOCIATE-RJ
  ("calling AE title not recognised") before sending a byte of data. A
  request addressed to another AE title than ours (setting ``aet``) gets
  A-ASSOCIATE-RJ "called AE title not recognised" (setting
  ``listener.check_called_aet``, on by default). Both are audited.
- A caller costs little until it is accepted (PS3.8 9.1.5): its request is
  read into a small buffer, must arrive whole within ``listener.artim_timeout``
  seconds and may not announce more than a quarter MiB; at most
  ``listener.max_connections`` connections are served at once. At the cap a
  newcomer takes the place of the caller that has waited longest without an
  association (so idle sockets cannot keep real peers out); when every
  connection is associated it gets A-ASSOCIATE-RJ "local limit exceeded"
  (transient) at once.
- Each association runs on a thread of its own, so several senders can
  store at once; received data sets are held as they arrived
  (:class:`~app.net.dimse.MemorySink`; a large one goes on into a file),
  never decoded, and handed to one :class:`~app.net.intake.Intake`. Each
  C-STORE is answered only once its instance is durable (file and
  directory synced, row committed; the intake records the instances of
  all associations in shared batches) or refused: 0xC000 for a data set
  that cannot be read or recorded for what it holds, 0xA700 for one that
  could not be written, with the reason as Error Comment.
- A sender that aborts or drops the connection mid-instance leaves nothing:
  the partial file is removed, and only complete files reach the intake.
"""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from pydicom.uid import AllTransferSyntaxes
from pynetdicom.service_class import ServiceClass, StorageServiceClass
from pynetdicom.sop_class import uid_to_service_class

from app import store
from app.accounts import audit
from app.db import transaction
from app.errors import BadInput
from app.net import association, dimse, nodes
from app.net.association import Association, Request
from app.net.client import UNCOMPRESSED, VERIFICATION
from app.net.intake import Intake, Stored
from app.net.wire import NetworkError

STORAGE_BRANCH = "1.2.840.10008.5.1.4.1.1."
_UID = re.compile(r"[0-9]+(\.[0-9]+)+")
ACCEPTED_SYNTAXES = frozenset(str(ts) for ts in AllTransferSyntaxes)
MEMORY_LIMIT = 8 << 20  # a received data set larger than this goes on into a file as it arrives

_running: dict[int, "Listener"] = {}  # port -> listener of this process
_running_lock = threading.Lock()


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


@dataclass(frozen=True)
class Limits:
    """How the listener treats callers before they are accepted (settings
    ``listener.check_called_aet``, ``listener.max_connections``,
    ``listener.artim_timeout``; defaults in app.home.DEFAULT_SETTINGS)."""

    check_called_aet: bool = True
    max_connections: int = 32
    artim_timeout: float = 15.0


def read_limits(home) -> Limits:
    """The listener settings of *home*; a hand-edited wrong value is an error naming it."""
    table = home.settings().get("listener", {})
    if not isinstance(table, dict):
        raise BadInput("setting listener: not a table")
    check = table.get("check_called_aet", Limits.check_called_aet)
    cap = table.get("max_connections", Limits.max_connections)
    artim = table.get("artim_timeout", Limits.artim_timeout)
    if not isinstance(check, bool):
        raise BadInput(f"setting listener.check_called_aet: {check!r} is not true or false")
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise BadInput(f"setting listener.max_connections: {cap!r} is not a whole number from 1")
    if isinstance(artim, bool) or not isinstance(artim, (int, float)) or artim <= 0:
        raise BadInput(f"setting listener.artim_timeout: {artim!r} is not a number of seconds")
    return Limits(check, cap, float(artim))


def running(port: int) -> Optional["Listener"]:
    """The listener this process runs on *port*, if any."""
    with _running_lock:
        return _running.get(port)


class Listener:
    """``Listener(home, user_name).start()`` ... ``stop()``; also a context manager.

    ``on_event(kind, text)`` hears about associations (``accepted``,
    ``rejected``, ``received``, ``aborted``, ``released``) and about
    connections closed before any association (``closed``: nothing sent in
    time, not a request, too long), e.g. for a status bar or the ``listen``
    command's log; it runs on the association's (or the accepting) thread.
    ``limits`` overrides the home's listener settings.
    """

    def __init__(self, home, user_name: str, port: Optional[int] = None, host: str = "",
                 tls_context=None, timeout: float = 30.0, intake: Optional[Intake] = None,
                 on_event: Optional[Callable[[str, str], None]] = None, limits: Optional[Limits] = None):
        self.home = home
        self.user_name = user_name
        self.limits = limits if limits is not None else read_limits(home)
        self.aet, default_port = nodes.local_ae(home)
        self.port = default_port if port is None else int(port)
        self.host = host
        self.tls_context = tls_context
        self.timeout = timeout
        self._own_intake = intake is None
        self.intake = intake or Intake(home, user_name)
        self.on_event = on_event
        self.received = 0
        self.rejected = 0
        self._server: Optional[socket.socket] = None
        self._stopping = threading.Event()
        self._threads: set[threading.Thread] = set()
        self._active: set[Association] = set()
        # connections not yet associated, oldest first: their thread -> socket
        self._asking: dict[threading.Thread, socket.socket] = {}
        self._lock = threading.Lock()
        self._folder: Optional[Path] = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "Listener":
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind((self.host, self.port))
        except OSError as e:
            server.close()
            if self._own_intake:
                self.intake.close()
            raise BadInput(f"listener: cannot listen on port {self.port}: {e.strerror or e}") from e
        server.listen(64)
        server.settimeout(0.5)
        self.port = server.getsockname()[1]
        self._server = server
        self._folder = store.scratch(self.home) / "received"
        self._folder.mkdir(parents=True, exist_ok=True)
        accept_loop = threading.Thread(target=self._accept_loop, name=f"studydesk-listener-{self.port}",
                                       daemon=True)
        self._accept_thread = accept_loop
        accept_loop.start()
        with _running_lock:
            _running[self.port] = self
        return self

    def stop(self) -> None:
        """Stop accepting, abort associations still open, record what arrived."""
        if self._server is None:
            return
        self._stopping.set()
        self._accept_thread.join()
        with _running_lock:
            if _running.get(self.port) is self:
                del _running[self.port]
        with self._lock:
            active, asking, threads = list(self._active), list(self._asking.values()), list(self._threads)
        for assoc in active:
            assoc.wire.interrupt()  # its thread notices and cleans up
        for sock in asking:  # callers still sending their request: no need to wait for ARTIM
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in threads:
            thread.join(timeout=self.timeout)
        self._server = None
        if self._own_intake:
            self.intake.close()
        else:
            self.intake.flush()

    def __enter__(self) -> "Listener":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def connections(self) -> int:
        """Connections being served now (associated or still asking)."""
        with self._lock:
            return len(self._threads)

    def wait(self) -> None:
        """Block until :meth:`stop` (the ``listen`` command; Ctrl+C ends it)."""
        while not self._stopping.wait(0.5):
            pass

    def _event(self, kind: str, text: str) -> None:
        if self.on_event is not None:
            try:
                self.on_event(kind, text)
            except Exception:  # noqa: BLE001 - a display problem must not drop an association
                pass

    # -- accepting ---------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._server is not None
        try:
            while not self._stopping.is_set():
                try:
                    sock, address = self._server.accept()
                except (socket.timeout, TimeoutError):
                    continue
                except OSError:
                    break
                cap = self.limits.max_connections
                evicted = None
                with self._lock:
                    full = len(self._threads) >= cap
                    if full and self._asking and len(self._threads) < 2 * cap:
                        evicted = self._asking.pop(next(iter(self._asking)))
                if full and evicted is None:
                    self._turn_away(sock, address)
                    continue
                if evicted is not None:
                    self._make_room(evicted)
                thread = threading.Thread(target=self._serve, args=(sock, address), daemon=True,
                                          name=f"studydesk-association-{address[0]}:{address[1]}")
                with self._lock:
                    self._threads.add(thread)
                    self._asking[thread] = sock
                thread.start()
        finally:
            self._server.close()

    def _make_room(self, sock: socket.socket) -> None:
        """At the cap, the caller that has waited longest without an
        association is disconnected for the newcomer: idle connections
        cannot keep a real peer out (they would until their ARTIM time)."""
        try:
            peer = sock.getpeername()[0]
            sock.shutdown(socket.SHUT_RDWR)  # its thread sees the end and closes it
        except OSError:
            return
        self._event("closed", f"{peer}: disconnected without an association to make room for a new "
                              f"caller ({self.limits.max_connections} connections at once)")

    def _turn_away(self, sock: socket.socket, address: tuple) -> None:
        """A connection over the cap: A-ASSOCIATE-RJ (transient, local limit
        exceeded) without waiting for its request, and closed. Over TLS
        there is no DICOM before the handshake: the connection is just closed."""
        try:
            if self.tls_context is None:
                sock.settimeout(0)  # never wait on the accepting thread
                sock.send(association.reject_pdu(association.REJECT_LOCAL_LIMIT, association.REJECTED_TRANSIENT,
                                                  association.SOURCE_PRESENTATION))
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            sock.close()
        with self._lock:
            self.rejected += 1
        self._event("rejected", f"{address[0]}: over the limit of {self.limits.max_connections} "
                                "connections at once (local limit exceeded)")

    def _serve(self, sock: socket.socket, address: tuple) -> None:
        caller: dict = {}
        assoc = None
        me = threading.current_thread()
        try:
            if self.tls_context is not None:
                sock.settimeout(self.limits.artim_timeout)
                sock = self.tls_context.wrap_socket(sock, server_side=True)
                with self._lock:
                    if me in self._asking:  # not made room for meanwhile
                        self._asking[me] = sock
            assoc = association.accept(
                sock, (address[0], address[1]), self.aet, lambda request: self._judge(request, caller),
                storage_choice, self.timeout, artim=self.limits.artim_timeout,
                on_refused=lambda why: self._event("closed", f"{address[0]}: {why}"))
            with self._lock:
                self._asking.pop(me, None)
            if assoc is not None:
                self._associated(assoc, caller["node"])
        except OSError as e:  # TLS handshake refused, connection reset
            self._event("rejected", f"{address[0]}: {e}")
            sock.close()
        finally:
            with self._lock:
                self._asking.pop(me, None)
                self._threads.discard(me)
                if assoc is not None:
                    self._active.discard(assoc)

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

    def _sink(self, assoc: Association, context_id: int, command: dict) -> Optional[dimse.MemorySink]:
        if command.get("CommandField") != dimse.C_STORE_RQ or context_id not in assoc.contexts:
            return None
        assert self._folder is not None
        return dimse.MemorySink(self._folder, command.get("AffectedSOPClassUID", ""),
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
