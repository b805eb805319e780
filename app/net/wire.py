"""The DICOM upper layer on one TCP (or TLS) socket: PDUs in, PDUs out.

Blocking and single-threaded on purpose: one association is one socket read
and written by one thread, with no reactor thread and no queues between the
job and the wire. (shared/FACTS.md: pynetdicom's threaded reactor tops out at
a few dozen files/s; DCMTK does several hundred.) Association negotiation
PDUs are encoded and decoded with pynetdicom's PDU classes
(:mod:`app.net.association`); P-DATA-TF, which carries every byte of every
image, is framed here by hand (PS3.8 9.3.5).

Every socket gets ``TCP_NODELAY``: without it Nagle's algorithm holds each
small PDU (a C-STORE response) for ~40 ms on loopback.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Callable, Optional

from app.errors import StudyDeskError

# PDU types (PS3.8 9.3.1)
ASSOCIATE_RQ, ASSOCIATE_AC, ASSOCIATE_RJ = 0x01, 0x02, 0x03
P_DATA, RELEASE_RQ, RELEASE_RP, ABORT = 0x04, 0x05, 0x06, 0x07

RELEASE_RQ_PDU = b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00"
RELEASE_RP_PDU = b"\x06\x00\x00\x00\x00\x04\x00\x00\x00\x00"
ABORT_PDU = b"\x07\x00\x00\x00\x00\x04\x00\x00\x00\x00"  # source: service user

# A-ABORT from the service provider (source 2, PS3.8 Table 9-26): the reasons
ABORT_UNRECOGNISED_PDU, ABORT_UNEXPECTED_PDU, ABORT_INVALID_PARAMETER = 1, 2, 6

OUR_MAX_PDU = 1 << 20          # what we announce we can receive
LARGEST_PDU = 4 * OUR_MAX_PDU  # tolerated from a peer that ignores it; beyond, the peer is wrong
UNLIMITED_SEND = 1 << 20       # fragment size when the peer announces 0 (no limit)
# Before an association is accepted the peer is nobody: its reads get a small
# buffer, and the one PDU it may send (A-ASSOCIATE-RQ) at most this many bytes.
# 128 presentation contexts each proposing all 45 transfer syntaxes pynetdicom
# knows come to ~145 KiB; real requests are a few KiB.
ASSOCIATE_RQ_LIMIT = 256 * 1024
SMALL_BUFFER = 8 * 1024
POLL = 0.25                    # seconds between cancel checks while waiting
_HEADER = struct.Struct(">BxL")
_PDV = struct.Struct(">LBB")
_PDATA_HEAD = struct.Struct(">BxLLBB")


class NetworkError(StudyDeskError):
    """The peer went away, refused, timed out or broke the protocol."""

    exit_code = 1


class Aborted(NetworkError):
    """The peer (or we) aborted the association."""


class Expired(NetworkError):
    """The ARTIM timer ran out before the peer's request arrived."""


class TooLong(NetworkError):
    """The peer announced a PDU longer than this wire accepts."""


def provider_abort(reason: int) -> bytes:
    """An A-ABORT PDU whose source is the service provider (PS3.8 9.3.8)."""
    return struct.pack(">BxLBBBB", ABORT, 4, 0, 0, 2, reason)


def tune(sock: socket.socket) -> None:
    """Options every DICOM socket gets (see the module docstring)."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Wire:
    """A socket with a read buffer, PDU framing and an idle timeout.

    ``timeout`` is how long the peer may stay silent while we wait for a
    PDU; ``on_idle`` is called every :data:`POLL` seconds of silence (the
    place where a job checks its cancel token and sends C-CANCEL).

    ``largest`` is the longest PDU accepted (longer ones raise
    :class:`TooLong` before a byte of their body is read) and ``buffer`` the
    size of the read buffer to start with. An acceptor starts small
    (:data:`SMALL_BUFFER`, :data:`ASSOCIATE_RQ_LIMIT`) with a ``deadline``
    (``time.monotonic()`` by which the request must have arrived whole: the
    ARTIM timer, PS3.8 9.1.5, which a peer trickling bytes does not reset),
    and calls :meth:`expand` once the association is accepted.
    """

    def __init__(self, sock: socket.socket, timeout: float = 30.0, *, largest: int = LARGEST_PDU,
                 buffer: int = OUR_MAX_PDU + 4096, deadline: Optional[float] = None):
        tune(sock)
        sock.settimeout(POLL)
        self.sock = sock
        self.timeout = timeout
        self.largest = largest
        self.deadline = deadline
        self.on_idle: Optional[Callable[[], None]] = None
        self._buf = bytearray(buffer)
        self._view = memoryview(self._buf)
        self._start = 0
        self._end = 0
        self.closed = False

    # -- reading ---------------------------------------------------------------------

    def has_buffered(self) -> bool:
        """Whether bytes of the peer's next PDU are already read from the socket."""
        return self._end > self._start

    def _fill(self, need: int) -> None:
        """Make at least *need* bytes available at ``_start``."""
        if self._end - self._start >= need:
            return
        if self._start + need > len(self._buf):
            have = self._end - self._start
            if need > len(self._buf):  # a PDU larger than we announced: tolerate it
                bigger = bytearray(need + 4096)
                bigger[:have] = self._view[self._start:self._end]
                self._view.release()
                self._buf, self._view = bigger, memoryview(bigger)
            else:
                self._buf[:have] = bytes(self._view[self._start:self._end])  # may overlap
            self._start, self._end = 0, have
        silent_since = time.monotonic()
        while self._end - self._start < need:
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise Expired("the peer did not complete its association request in time (ARTIM)")
            try:
                got = self.sock.recv_into(self._view[self._end:])
            except (socket.timeout, TimeoutError):
                if time.monotonic() - silent_since > self.timeout:
                    raise NetworkError(f"the peer sent nothing for {self.timeout:g} s") from None
                if self.on_idle is not None:
                    self.on_idle()
                continue
            except OSError as e:
                raise NetworkError(f"connection lost: {e.strerror or e}") from e
            if got == 0:
                raise Aborted("the peer closed the connection")
            self._end += got
            silent_since = time.monotonic()

    def peek_header(self) -> tuple[int, int]:
        """The next PDU's type and announced length, without consuming it."""
        self._fill(6)
        return _HEADER.unpack_from(self._buf, self._start)

    def read_pdu(self) -> tuple[int, memoryview]:
        """The next PDU: its type and its body (a view valid until the next read)."""
        pdu_type, length = self.peek_header()
        if length > self.largest:
            raise TooLong(f"protocol error: a PDU of {length} bytes "
                          f"(we accept {min(self.largest, OUR_MAX_PDU)})")
        self._start += 6
        self._fill(length)
        body = self._view[self._start:self._start + length]
        self._start += length
        return pdu_type, body

    def pdvs(self, body: memoryview):
        """The PDV items of a P-DATA-TF body: (context id, control header, data view)."""
        pos, size = 0, len(body)
        while pos + 6 <= size:
            length, context_id, control = _PDV.unpack_from(body, pos)
            if length < 2 or pos + 4 + length > size:
                raise NetworkError("malformed P-DATA-TF PDU (PDV item length)")
            yield context_id, control, body[pos + 6:pos + 4 + length]
            pos += 4 + length

    def expand(self) -> None:
        """The association is accepted: full-size buffer, data-phase limits, no deadline."""
        self.largest, self.deadline = LARGEST_PDU, None
        if len(self._buf) >= OUR_MAX_PDU + 4096:
            return
        have = self._end - self._start
        bigger = bytearray(OUR_MAX_PDU + 4096)
        bigger[:have] = self._view[self._start:self._end]
        self._view.release()
        self._buf, self._view = bigger, memoryview(bigger)
        self._start, self._end = 0, have

    # -- writing ---------------------------------------------------------------------

    def send(self, data) -> None:
        try:
            self.sock.settimeout(self.timeout)
            self.sock.sendall(data)
        except (socket.timeout, TimeoutError):
            raise NetworkError(f"the peer took nothing for {self.timeout:g} s") from None
        except OSError as e:
            raise NetworkError(f"connection lost: {e.strerror or e}") from e
        finally:
            try:
                self.sock.settimeout(POLL)
            except OSError:
                pass

    @staticmethod
    def pdata(context_id: int, control: int, data) -> list:
        """One P-DATA-TF PDU holding one PDV (as buffers to join or send)."""
        n = len(data)
        return [_PDATA_HEAD.pack(P_DATA, n + 6, n + 2, context_id, control), data]

    def interrupt(self) -> None:
        """From another thread: make the owner's next read or write fail, so
        that it ends the association itself."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._view.release()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def connect(host: str, port: int, timeout: float, tls_context=None) -> socket.socket:
    """A connected socket (TLS-wrapped when *tls_context* is given)."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        raise NetworkError(f"cannot connect to {host}:{port}: {e.strerror or e}") from e
    tune(sock)
    if tls_context is None:
        return sock
    try:
        return tls_context.wrap_socket(sock, server_hostname=host)
    except OSError as e:
        sock.close()
        raise NetworkError(f"TLS handshake with {host}:{port} failed: {e}") from e
