"""The storage listener against DCMTK senders: only configured nodes, raw
writes into the cache, several senders at once, nothing left of an aborted
transfer, TLS."""

from __future__ import annotations

import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from app import store
from app.net import association, dimse, nodes
from app.net.association import Proposal
from app.net.listener import Listener
from app.net.wire import NetworkError
from app.startup import open_home
from tests.factories import uid, write_series
from tests.net.conftest import _env, _need, self_signed

pytestmark = pytest.mark.network

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"


@pytest.fixture
def listening(home, admin, free_port):
    """A listener on loopback that knows one node: MODALITY at 127.0.0.1."""
    db = home.connect()
    nodes.add_node(db, admin, "ct-room", "MODALITY", "127.0.0.1", 104, purposes=["store"])
    db.close()
    events = Events()
    with Listener(home, admin.name, free_port(), host="127.0.0.1", on_event=events.add) as listener:
        listener.events = events
        yield listener


class Events(list):
    """The listener's events, with a way to wait for one."""

    def __init__(self):
        super().__init__()
        self._changed = threading.Condition()

    def add(self, kind: str, text: str) -> None:
        with self._changed:
            self.append((kind, text))
            self._changed.notify_all()

    def wait_for(self, kind: str, timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: any(k == kind for k, _ in self), timeout)


def storescu(port: int, calling: str, *paths, extra=()) -> subprocess.CompletedProcess:
    _need("storescu")
    return subprocess.run(["storescu", "-aet", calling, "-aec", "STUDYDESK", *extra, "127.0.0.1", str(port),
                           *map(str, paths)], capture_output=True, text=True, env=_env(), timeout=60)


def cached(home) -> int:
    db = home.connect()
    try:
        return db.execute("SELECT count(*) FROM instances").fetchone()[0]
    finally:
        db.close()


def stored_files(home) -> list:
    return [p for p in (home.store).rglob("*") if p.is_file()]


def temporary_files(home) -> list:
    return [p for p in home.tmp.rglob("*") if p.is_file()]


def test_an_unknown_caller_is_refused_at_association(listening, home, tmp_path):
    files = write_series(tmp_path / "in", 2, patient_id="LSN1")
    run = storescu(listening.port, "INTRUDER", *files)
    assert run.returncode != 0
    assert "Rejected" in run.stderr or "rejected" in run.stderr.lower()
    listening.intake.flush()
    assert cached(home) == 0 and not stored_files(home) and not temporary_files(home)
    assert listening.rejected == 1
    assert any(kind == "rejected" and "INTRUDER" in text for kind, text in listening.events)


def test_a_known_title_from_another_host_is_refused(home, admin, listening):
    db = home.connect()
    nodes.add_node(db, admin, "far", "FARAWAY", "192.0.2.10", 104)  # TEST-NET: not us
    db.close()
    from pynetdicom import AE

    ae = AE(ae_title="FARAWAY")  # the peer is pynetdicom, not our own association code
    ae.add_requested_context(CT, [EXPLICIT])
    assoc = ae.associate("127.0.0.1", listening.port, ae_title="STUDYDESK")
    assert assoc.is_rejected
    assert any(kind == "rejected" and "FARAWAY" in text for kind, text in listening.events)


def test_a_configured_node_stores_and_echoes(listening, home, tmp_path):
    _need("echoscu")
    echo = subprocess.run(["echoscu", "-aet", "MODALITY", "-aec", "STUDYDESK", "127.0.0.1",
                           str(listening.port)], capture_output=True, text=True, env=_env(), timeout=30)
    assert echo.returncode == 0, echo.stderr
    files = write_series(tmp_path / "in", 3, patient_id="LSN2", study="ok")
    run = storescu(listening.port, "MODALITY", *files)
    assert run.returncode == 0, run.stderr
    listening.intake.flush()
    assert cached(home) == 3
    db = home.connect()
    assert db.execute("SELECT source_node FROM studies").fetchone()[0] == "ct-room"
    sent = {dimse.read_meta(f)[1]["MediaStorageSOPInstanceUID"]: f for f in files}
    for sop, path in db.execute("SELECT sop_instance_uid, path FROM instances"):
        mine, original = store.absolute(home, path), sent[sop]  # the same data set bytes
        assert mine.read_bytes()[dimse.read_meta(mine)[0]:] == original.read_bytes()[dimse.read_meta(original)[0]:]
    assert not temporary_files(home)


def test_several_senders_at_once(listening, home, tmp_path):
    batches = [write_series(tmp_path / f"in{n}", 10, patient_id=f"LSN3{n}", study=f"c{n}") for n in range(4)]
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda files: storescu(listening.port, "MODALITY", *files), batches))
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    listening.intake.flush()
    assert cached(home) == 40


# An aborted transfer, and other hostile peers: tests/net/test_hostile.py


def test_tls_listener_and_client(home, admin, tmp_path, free_port):
    from app.net import send, tls
    from app.importing.importer import import_paths

    cert, key = self_signed(tmp_path)
    home.set_setting("tls.certificate", str(cert))
    home.set_setting("tls.key", str(key))
    home.set_setting("tls.ca", str(cert))
    home.set_setting("aet", "SECURE")
    port = free_port()
    db = home.connect()
    nodes.add_node(db, admin, "loop", "SECURE", "127.0.0.1", port, tls=True)  # ourselves, over TLS
    db.close()
    write_series(tmp_path / "src", 2, patient_id="TLS1", study="t")
    receiver_home = open_home(tmp_path / "receiver")
    receiver_home.set_setting("aet", "SECURE")  # the node "loop" calls it SECURE
    for key_name in ("tls.certificate", "tls.key", "tls.ca"):
        receiver_home.set_setting(key_name, home.get_setting(key_name))
    db = receiver_home.connect()
    nodes.add_node(db, admin, "sender", "SECURE", "127.0.0.1", 104)
    db.close()
    import_paths(home, [tmp_path / "src"], admin.name)
    with Listener(receiver_home, admin.name, port, host="127.0.0.1",
                  tls_context=tls.server_context(receiver_home)) as listener:
        result = send.send_studies(home, admin, [uid("TLS1", "t")], "loop")
        assert result.sent == 2 and not result.failed
        # a plain (non-TLS) caller gets nowhere
        with pytest.raises(NetworkError):
            association.request("127.0.0.1", port, "SECURE", "SECURE", [Proposal(CT, [EXPLICIT])],
                                timeout=5)
        if shutil.which("storescu") and "+tls" in subprocess.run(
                ["storescu", "--help"], capture_output=True, text=True).stdout:
            files = write_series(tmp_path / "dcmtk", 1, patient_id="TLS2")
            run = storescu(port, "SECURE", *files, extra=("+tls", str(key), str(cert), "+cf", str(cert),
                                                          "-aec", "SECURE"))
            assert run.returncode == 0, run.stderr
            expected = 3
        else:
            expected = 2
        listener.intake.flush()
    assert cached(receiver_home) == expected


def test_a_data_set_cut_short_is_answered_with_a_failure_and_nothing_is_kept(listening, home, tmp_path):
    """pynetdicom sends a CT whose pixel data is half what its rows and
    columns need: the answer is 0xC000 (Error: Cannot understand, PS3.4
    B.2.3) with the reason as Error Comment, not Success, and nothing of it
    stays; a whole one after it on the same association is kept."""
    import pydicom
    from pynetdicom import AE
    from pynetdicom.sop_class import CTImageStorage

    short, whole = write_series(tmp_path / "in", 2, patient_id="LSNCUT", size=64)
    cut = pydicom.dcmread(short)
    cut.PixelData = cut.PixelData[:len(cut.PixelData) // 2]
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(CTImageStorage, [EXPLICIT])
    assoc = ae.associate("127.0.0.1", listening.port, ae_title="STUDYDESK")
    assert assoc.is_established
    try:
        refused = assoc.send_c_store(cut)
        kept = assoc.send_c_store(pydicom.dcmread(whole))
    finally:
        assoc.release()
    assert refused.Status == dimse.CANNOT_UNDERSTAND and refused.get("ErrorComment")
    assert kept.Status == dimse.SUCCESS
    assert cached(home) == 1 and len(stored_files(home)) == 1 and not temporary_files(home)
