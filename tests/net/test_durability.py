"""Nothing acknowledged is lost: `studydesk listen` is killed (SIGKILL) at
moments chosen while senders store to it, and every instance a sender got
Success for is in the cache afterwards, with its complete file. The
senders are pynetdicom associations, so the test knows exactly which
C-STORE got which answer."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time

import pydicom
import pytest

from tests.factories import write_series
from tests.net.conftest import _env, wait_for_port

pytestmark = pytest.mark.network

PEER = "MODALITY"


def start_listener(home, port: int) -> subprocess.Popen:
    env = {k: v for k, v in _env().items() if not k.startswith("STUDYDESK_")}
    proc = subprocess.Popen([sys.executable, "-m", "app", "--home", str(home), "listen", "--port", str(port),
                             "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env)
    wait_for_port(port, proc, "studydesk listen")
    return proc


class Sender(threading.Thread):
    """One association storing *paths* in turn; ``acknowledged`` holds the
    SOP Instance UIDs answered Success, in order."""

    def __init__(self, port: int, paths, on_success):
        super().__init__(daemon=True)
        self.port, self.paths, self.on_success = port, paths, on_success
        self.acknowledged: list[str] = []

    def run(self) -> None:
        from pynetdicom import AE
        from pynetdicom.sop_class import CTImageStorage

        ae = AE(ae_title=PEER)
        ae.add_requested_context(CTImageStorage, ["1.2.840.10008.1.2.1"])
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 5
        assoc = ae.associate("127.0.0.1", self.port, ae_title="STUDYDESK")
        if not assoc.is_established:
            return
        try:
            for path in self.paths:
                ds = pydicom.dcmread(path)
                try:
                    status = assoc.send_c_store(ds)
                except Exception:  # noqa: BLE001 - the listener was killed under us
                    return
                if not assoc.is_established or not status or status.get("Status") != 0x0000:
                    return
                self.acknowledged.append(ds.SOPInstanceUID)
                self.on_success()
        finally:
            if assoc.is_established:
                assoc.release()


def studydesk(home, *args) -> str:
    """The command in its own process: this test holds no session of the
    home, so what a killed listener left is the next open's to sweep (a
    live session that began earlier would keep the sweep waiting)."""
    env = {k: v for k, v in _env().items() if not k.startswith("STUDYDESK_")}
    run = subprocess.run([sys.executable, "-m", "app", "--home", str(home), *map(str, args)],
                         capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


def kept(home_path) -> dict[str, tuple[str, str]]:
    """SOP Instance UID -> (file, SHA-256) of the cache, after the home is
    opened again by a command (which runs its recovery)."""
    import sqlite3

    studydesk(home_path, "studies", "--json")
    db = sqlite3.connect(f"file:{home_path / 'cache.sqlite'}?mode=ro", uri=True)
    try:
        return {sop: (str(home_path / path), sha) for sop, path, sha in
                db.execute("SELECT sop_instance_uid, path, sha256 FROM instances")}
    finally:
        db.close()


@pytest.mark.timeout(180)
def test_every_instance_answered_success_survives_a_kill_of_the_listener(tmp_path, free_port):
    pytest.importorskip("pynetdicom")
    home = tmp_path / "home"
    studydesk(home, "node", "add", "modality", "--aet", PEER, "--host", "127.0.0.1", "--port", "104")
    originals: dict[str, bytes] = {}
    # kill points: after so many Success answers in all (two senders at once)
    for round_, kill_after in enumerate((1, 4, 9, 15, 22)):
        paths = write_series(tmp_path / f"in{round_}", 24, patient_id=f"DUR{round_}", study=f"d{round_}",
                             size=256)
        for path in paths:
            originals[pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID] = \
                pydicom.dcmread(path).PixelData
        port = free_port()
        proc = start_listener(home, port)
        lock, count = threading.Lock(), [0]

        def counted():
            with lock:
                count[0] += 1
                if count[0] == kill_after:
                    os.kill(proc.pid, signal.SIGKILL)  # at once, while the other sender is mid-instance

        senders = [Sender(port, paths[0::2], counted), Sender(port, paths[1::2], counted)]
        try:
            for sender in senders:
                sender.start()
            for sender in senders:
                sender.join(60)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        acknowledged = [sop for s in senders for sop in s.acknowledged]
        assert len(acknowledged) >= kill_after
        cache = kept(home)
        lost = [sop for sop in acknowledged if sop not in cache]
        assert lost == [], f"round {round_}: {len(lost)} of {len(acknowledged)} acknowledged instances lost"
        for sop in acknowledged:
            assert pydicom.dcmread(cache[sop][0]).PixelData == originals[sop]
        for path, sha in cache.values():  # every row's file whole, nothing half-written left
            assert hashlib.sha256(open(path, "rb").read()).hexdigest() == sha
        assert not [p for p in (home / "tmp").rglob("*") if p.is_file()]
        # and no file without a row: what the kill left unrecorded is swept at open
        assert {str(f) for f in (home / "store").rglob("*.dcm")} == {path for path, _ in cache.values()}
