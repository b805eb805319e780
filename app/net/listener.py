"""The listener (Storage SCP, Verification, Query/Retrieve SCP): what other
nodes send us, where C-MOVE delivers, and where other nodes query and
retrieve from the cache.

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
  (:class:`~app.net.sinks.MemorySink`; a large one goes on into a file),
  never decoded, and handed to one :class:`~app.net.intake.Intake`. Each
  C-STORE is answered only once its instance is durable (file and
  directory synced, row committed; the intake records the instances of
  all associations in shared batches) or refused: 0xC000 for a data set
  that cannot be read or recorded for what it holds, 0xA700 for one that
  could not be written, with the reason as Error Comment.
- A sender that aborts or drops the connection mid-instance leaves nothing:
  the partial file is removed, and only complete files reach the intake.

- The same callers may query and retrieve (:mod:`app.net.qr_scp`): C-FIND
  in the Study Root and Patient Root models, C-GET back on their own
  association, C-MOVE to a configured node only.

This module holds the sockets, threads and limits; what one association
gets (the caller judged, C-ECHO and C-STORE answered) is
:class:`~app.net.storage_scp.StorageSCP`, and C-FIND, C-GET and C-MOVE
:class:`~app.net.qr_scp.QueryRetrieveSCP`.
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from app import store
from app.errors import BadInput
from app.net import association, nodes
from app.net.association import Association
from app.net.intake import Intake
from app.net.qr_scp import QueryRetrieveSCP, choice, roles
from app.net.storage_scp import StorageSCP

log = logging.getLogger("studydesk.net")

_running: dict[int, "Listener"] = {}  # port -> listener of this process
_running_lock = threading.Lock()


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


class Listener(StorageSCP, QueryRetrieveSCP):
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
        log.info("listener on port %s: %s: %s", self.port, kind, text)  # the log file (app/logs.py)
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
        there is no DICOM before the handshake: the connection is just closed.
        Counted and reported first, so that whoever sees the close sees them."""
        with self._lock:
            self.rejected += 1
        self._event("rejected", f"{address[0]}: over the limit of {self.limits.max_connections} "
                                "connections at once (local limit exceeded)")
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
                choice, self.timeout, artim=self.limits.artim_timeout,
                on_refused=lambda why: self._event("closed", f"{address[0]}: {why}"), roles=roles)
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
