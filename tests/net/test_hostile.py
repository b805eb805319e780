"""The storage listener against hostile and careless peers: the called AE
title is checked, a caller costs little until it is accepted, silent and
slow callers are closed after the ARTIM time (PS3.8 9.1.5), connections
over the cap are turned away, and the listener still answers afterwards.

The peers are raw sockets, pynetdicom and DCMTK, never the project's own
association code.
"""

from __future__ import annotations

import io
import socket
import struct
import subprocess
import sys
import time

import pytest
from pynetdicom import AE, evt
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ, P_DATA_TF
from pynetdicom.pdu_primitives import A_ASSOCIATE, MaximumLengthNotification
from pynetdicom.presentation import build_context

from app.accounts import audit
from app.errors import BadInput
from app.net import nodes
from app.net.listener import Limits, Listener
from tests.net.conftest import _env, _need, stop, wait_for_port
from tests.factories import write_series
from tests.net.test_listener import Events, cached, stored_files, temporary_files

pytestmark = pytest.mark.network

VERIFICATION = "1.2.840.10008.1.1"


def start(home, admin, port, **limits) -> Listener:
    """A listener on loopback that knows MODALITY at 127.0.0.1, with *limits*."""
    db = home.connect()
    try:
        if nodes.caller_node(db, "MODALITY", "127.0.0.1") is None:
            nodes.add_node(db, admin, "ct-room", "MODALITY", "127.0.0.1", 104, purposes=["store"])
    finally:
        db.close()
    events = Events()
    listener = Listener(home, admin.name, port, host="127.0.0.1", on_event=events.add,
                        limits=Limits(**limits) if limits else None)
    listener.events = events
    return listener.start()


def pynetdicom_echo(port: int, called: str = "STUDYDESK", calling: str = "MODALITY"):
    """Associate and echo with pynetdicom: (established, status, A-ASSOCIATE-RJ PDU or None)."""
    ae = AE(ae_title=calling)
    ae.acse_timeout = ae.network_timeout = 10
    ae.add_requested_context(VERIFICATION)
    received = []
    assoc = ae.associate("127.0.0.1", port, ae_title=called,
                         evt_handlers=[(evt.EVT_PDU_RECV, lambda event: received.append(event.pdu))])
    if not assoc.is_established:
        rejections = [pdu for pdu in received if pdu.pdu_type == 0x03]
        return False, None, rejections[0] if rejections else None
    status = assoc.send_c_echo()
    assoc.release()
    return True, status.Status, None


def echoscu(port: int, called: str = "STUDYDESK", calling: str = "MODALITY") -> subprocess.CompletedProcess:
    _need("echoscu")
    return subprocess.run(["echoscu", "-v", "-aet", calling, "-aec", called, "127.0.0.1", str(port)],
                          capture_output=True, text=True, env=_env(), timeout=30)


def associate_rq(called: str = "STUDYDESK", calling: str = "MODALITY", abstract: str = VERIFICATION,
                 transfer_syntax: str = "1.2.840.10008.1.2") -> bytes:
    """An A-ASSOCIATE-RQ PDU, encoded by pynetdicom."""
    primitive = A_ASSOCIATE()
    primitive.application_context_name = "1.2.840.10008.3.1.1.1"
    primitive.calling_ae_title, primitive.called_ae_title = calling, called
    cx = build_context(abstract, [transfer_syntax])
    cx.context_id = 1
    primitive.presentation_context_definition_list = [cx]
    max_length = MaximumLengthNotification()
    max_length.maximum_length_received = 16384
    primitive.user_information = [max_length]
    pdu = A_ASSOCIATE_RQ()
    pdu.from_primitive(primitive)
    return pdu.encode()


def read_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """All the listener sends until it closes the connection, and when it did
    (time.monotonic()); fails if it is still open after *timeout* s."""
    sock.settimeout(timeout)
    got = b""
    try:
        while chunk := sock.recv(4096):
            got += chunk
    except ConnectionResetError:
        pass
    except (socket.timeout, TimeoutError):
        pytest.fail(f"the listener kept the connection open for {timeout} s (sent {got!r})")
    return got, time.monotonic()


def until(condition, timeout: float = 10.0) -> bool:
    """Wait for *condition()* (the listener's own state), at most *timeout* s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# -- the called AE title ------------------------------------------------------------------


def test_a_wrong_called_ae_title_is_rejected_with_reason_7(home, admin, free_port):
    port = free_port()
    listener = start(home, admin, port)
    try:
        established, _, rejection = pynetdicom_echo(port, called="WRONG")
        assert not established and rejection is not None
        assert (rejection.result, rejection.source, rejection.reason_diagnostic) == (1, 1, 7)
        run = echoscu(port, called="WRONG")
        assert run.returncode != 0
        assert "Called AE Title Not Recognized" in run.stdout + run.stderr
        assert pynetdicom_echo(port) == (True, 0, None)  # the right title still works
        assert echoscu(port).returncode == 0
    finally:
        listener.stop()
    assert listener.rejected == 2
    assert sum("called AE title 'WRONG'" in text for kind, text in listener.events if kind == "rejected") == 2
    db = home.connect()
    try:
        refused = [e for e in audit.entries(db) if e["action"] == "association-rejected"]
    finally:
        db.close()
    assert len(refused) == 2
    assert all(e["outcome"] == audit.MINOR_FAILURE and e["event_code"] == audit.SECURITY_ALERT
               and "called AE title not recognised" in e["detail"] and "WRONG" in e["detail"] for e in refused)


def test_the_called_ae_title_check_is_a_setting(home, admin, free_port):
    assert home.get_setting("listener.check_called_aet") is True  # on by default
    with pytest.raises(BadInput, match="listener.check_called_aet"):
        home.set_setting("listener.check_called_aet", "maybe")
    with pytest.raises(BadInput, match="listener.max_connections"):
        home.set_setting("listener.max_connections", "0")
    home.set_setting("listener.check_called_aet", "false")
    port = free_port()
    listener = start(home, admin, port)
    try:
        assert pynetdicom_echo(port, called="ANYTHING") == (True, 0, None)
    finally:
        listener.stop()


def test_an_unknown_caller_is_still_refused_with_reason_3(home, admin, free_port):
    port = free_port()
    listener = start(home, admin, port)
    try:
        established, _, rejection = pynetdicom_echo(port, calling="INTRUDER")
        assert not established
        assert (rejection.result, rejection.source, rejection.reason_diagnostic) == (1, 1, 3)
    finally:
        listener.stop()


# -- hostile bytes ------------------------------------------------------------------------------


@pytest.fixture
def guarded(home, admin, free_port):
    """A listener with a 1.5 s ARTIM time and room for 4 connections."""
    listener = start(home, admin, free_port(), artim_timeout=1.5, max_connections=4)
    yield listener
    listener.stop()


def connect(listener) -> socket.socket:
    return socket.create_connection(("127.0.0.1", listener.port), timeout=5)


def test_garbage_gets_an_abort_and_the_listener_answers_after(guarded):
    with connect(guarded) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: studydesk\r\n\r\n" * 50)
        got, _ = read_until_closed(sock, 10)
    assert got[:1] == b"\x07" and got[8:10] == b"\x02\x01"  # A-ABORT, provider, unrecognised PDU
    assert pynetdicom_echo(guarded.port) == (True, 0, None)
    assert any(kind == "closed" and "PDU type 0x47" in text for kind, text in guarded.events)


def test_a_huge_announced_length_is_aborted_at_once(guarded):
    for length in (0xFFFFFFFF, 300 * 1024):
        with connect(guarded) as sock:
            sock.sendall(struct.pack(">BxL", 0x01, length) + b"\x00\x01\x00\x00")
            got, _ = read_until_closed(sock, 10)
        # A-ABORT (provider, invalid parameter) at once, not a silent close at the ARTIM time
        assert got[:1] == b"\x07" and got[8:10] == b"\x02\x06"
    assert echoscu(guarded.port).returncode == 0


@pytest.mark.parametrize("behaviour", ["silent", "half a request", "trickle"])
def test_a_caller_that_does_not_finish_its_request_is_closed_after_artim(guarded, behaviour):
    request = associate_rq()
    with connect(guarded) as sock:
        began = time.monotonic()
        if behaviour == "half a request":
            sock.sendall(request[:len(request) // 2])
        elif behaviour == "trickle":  # a byte every 0.2 s never lets the request complete in time
            sock.settimeout(0.2)
            for byte in request[:30]:
                sock.sendall(bytes([byte]))
                try:
                    if sock.recv(1) == b"":
                        break
                except (socket.timeout, TimeoutError):
                    continue
                except ConnectionResetError:
                    break
        got, closed = read_until_closed(sock, 10)
    assert got == b""
    assert 1.2 <= closed - began <= 5.0, closed - began
    assert guarded.events.wait_for("closed")
    assert any(kind == "closed" and "ARTIM" in text for kind, text in guarded.events)
    assert until(lambda: guarded.connections == 0)
    assert echoscu(guarded.port).returncode == 0


def test_idle_connections_at_the_cap_make_room_for_a_real_peer(home, admin, free_port):
    listener = start(home, admin, free_port(), artim_timeout=30, max_connections=4)
    idle = [connect(listener) for _ in range(6)]  # two more than the cap: the oldest make room
    try:
        got, _ = read_until_closed(idle[0], 5)
        assert got == b""
        assert until(lambda: listener.connections == 4)
        assert echoscu(listener.port).returncode == 0  # while the cap is full of idle sockets
        assert pynetdicom_echo(listener.port) == (True, 0, None)
        assert listener.connections <= 4
        assert any(kind == "closed" and "make room" in text for kind, text in listener.events)
        assert listener.rejected == 0
    finally:
        for sock in idle:
            sock.close()
        listener.stop()


def test_connections_over_a_cap_of_associations_are_turned_away(home, admin, free_port):
    listener = start(home, admin, free_port(), artim_timeout=30, max_connections=4)
    peers = []
    try:
        for _ in range(4):
            ae = AE(ae_title="MODALITY")
            ae.add_requested_context(VERIFICATION)
            peers.append(ae.associate("127.0.0.1", listener.port, ae_title="STUDYDESK"))
        assert all(assoc.is_established for assoc in peers)
        established, _, rejection = pynetdicom_echo(listener.port)  # the fifth
        assert not established and rejection is not None
        assert (rejection.result, rejection.source, rejection.reason_diagnostic) == (2, 3, 2)
        run = echoscu(listener.port)
        assert run.returncode != 0 and "Local Limit Exceeded" in run.stdout + run.stderr
        for _ in range(60):  # a flood: each is answered and closed at once, none is kept
            with connect(listener) as sock:
                got, _ = read_until_closed(sock, 5)
            assert got[:1] == b"\x03"
        assert listener.connections == 4
        assert sum("local limit exceeded" in text for kind, text in listener.events if kind == "rejected") == 62
        assert listener.rejected == 62
        for assoc in peers:
            assoc.release()
        assert until(lambda: listener.connections == 0)
        assert echoscu(listener.port).returncode == 0  # the listener recovers
    finally:
        for assoc in peers:
            if assoc.is_established:
                assoc.abort()
        listener.stop()


# -- memory of the listen command ---------------------------------------------------------------


def _status(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_strangers_cost_the_listen_command_little_memory(tmp_path, free_port):
    """`studydesk listen` with 40 idle connections and 80 that announce long
    requests and stop: its peak resident memory stays within 32 MiB of its
    own size, and every connection is closed by the ARTIM time."""
    home, port = tmp_path / "listening", free_port()
    env = {k: v for k, v in _env().items() if not k.startswith("STUDYDESK_")}

    def sd(*args):
        subprocess.run([sys.executable, "-m", "app", "--home", str(home), *args], check=True,
                       capture_output=True, env=env, timeout=60)

    sd("node", "add", "modality", "--aet", "MODALITY", "--host", "127.0.0.1", "--port", "104")
    sd("config", "set", "listener.artim_timeout", "3")
    sd("config", "set", "listener.max_connections", "200")
    proc = subprocess.Popen([sys.executable, "-m", "app", "--home", str(home), "listen", "--port", str(port),
                             "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=env)
    socks = []
    try:
        wait_for_port(port, proc, "studydesk listen")
        threads = _status(proc.pid, "Threads")
        assert until(lambda: _status(proc.pid, "Threads") == threads)  # the port probe is done with
        baseline = _status(proc.pid, "VmRSS")
        try:
            with open(f"/proc/{proc.pid}/clear_refs", "w") as f:
                f.write("5")  # the peak (VmHWM) starts again from here
        except OSError as e:
            pytest.skip(f"cannot reset the process's peak memory: {e}")
        began = time.monotonic()
        for n in range(120):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            if n >= 40:  # an A-ASSOCIATE-RQ header announcing 250 KiB (within the limit) or 1 GiB, and a little more
                length = 250 * 1024 if n < 80 else 1 << 30
                sock.sendall(struct.pack(">BxL", 0x01, length) + b"\x00\x01" + b"\x00" * 64)
            socks.append(sock)
        for n, sock in enumerate(socks):
            got, closed = read_until_closed(sock, 15)
            if n >= 80:
                assert got[:1] == b"\x07"  # aborted at once
            else:
                assert got == b"" and closed - began <= 3 + 5
        peak = _status(proc.pid, "VmHWM")
        assert (peak - baseline) / 1024 < 32, f"peak {peak / 1024:.1f} MiB over a baseline of {baseline / 1024:.1f}"
        assert echoscu(port).returncode == 0  # still answering
    finally:
        for sock in socks:
            sock.close()
        stop(proc)
        proc.communicate(timeout=30)


def test_an_aborted_transfer_leaves_nothing(home, admin, free_port, tmp_path):
    """A raw-socket peer associates, sends a C-STORE command and half its data
    set (PDUs encoded by pynetdicom), then A-ABORT: nothing is kept."""
    from pynetdicom.dimse_messages import C_STORE_RQ
    from pynetdicom.dimse_primitives import C_STORE

    from app.net import dimse

    ct, explicit = "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.1"
    (path,) = write_series(tmp_path / "in", 1, patient_id="HOST1", size=256)
    offset, meta = dimse.read_meta(path)
    listener = start(home, admin, free_port())
    try:
        with connect(listener) as sock:
            sock.sendall(associate_rq(abstract=ct, transfer_syntax=explicit))
            header = sock.recv(6, socket.MSG_WAITALL)
            body = sock.recv(struct.unpack(">xxL", header)[0], socket.MSG_WAITALL)
            ac = A_ASSOCIATE_AC()
            ac.decode(header + body)
            assert [cx.result for cx in ac.to_primitive().presentation_context_definition_results_list] == [0]
            request = C_STORE()
            request.MessageID, request.Priority = 1, 0
            request.AffectedSOPClassUID = ct
            request.AffectedSOPInstanceUID = meta["MediaStorageSOPInstanceUID"]
            request.DataSet = io.BytesIO(path.read_bytes()[offset:])
            message = C_STORE_RQ()
            message.primitive_to_message(request)
            pdus = []
            for primitive in message.encode_msg(1, 16384):
                pdu = P_DATA_TF()
                pdu.from_primitive(primitive)
                pdus.append(pdu.encode())
            assert len(pdus) >= 4
            sock.sendall(b"".join(pdus[:len(pdus) // 2]))  # the command and half the data set
            sock.sendall(b"\x07\x00\x00\x00\x00\x04\x00\x00\x00\x00")  # A-ABORT
            assert listener.events.wait_for("aborted")
    finally:
        listener.stop()
    assert cached(home) == 0 and not stored_files(home) and not temporary_files(home)


def test_stopping_does_not_wait_for_callers_still_asking(home, admin, free_port):
    listener = start(home, admin, free_port(), artim_timeout=60)
    idle = [connect(listener) for _ in range(3)]
    try:
        assert until(lambda: listener.connections == 3)
        began = time.monotonic()
        listener.stop()
        assert time.monotonic() - began < 5
        assert listener.connections == 0
    finally:
        for sock in idle:
            sock.close()
