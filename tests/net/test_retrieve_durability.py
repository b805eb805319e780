"""A C-GET into the cache answers each C-STORE sub-operation only once the
instance is durable. The archive is pynetdicom (a C-FIND/C-GET SCP on
loopback) watching every C-STORE response it receives: when a Success
arrives, its instance must be in the cache with its file already. The
retrieve is also killed (SIGKILL) after some answers, and what was
answered Success is there when the home is opened again."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading

import pydicom
import pytest
from pydicom.dataset import Dataset

from tests.factories import write_series
from tests.net.conftest import _env

pytestmark = pytest.mark.network

pynetdicom = pytest.importorskip("pynetdicom")

CT = "1.2.840.10008.5.1.4.1.1.2"


class Archive:
    """Study Root C-FIND (study level) and C-GET of one study.
    ``on_success(sop)`` runs as each C-STORE response with status Success
    arrives, before the next sub-operation is sent."""

    def __init__(self, paths, on_success):
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import (CTImageStorage, StudyRootQueryRetrieveInformationModelFind,
                                          StudyRootQueryRetrieveInformationModelGet)

        self.datasets = [pydicom.dcmread(p) for p in paths]
        self.study = str(self.datasets[0].StudyInstanceUID)
        self.on_success = on_success
        ae = AE(ae_title="ARCHIVE")
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
        ae.add_supported_context(CTImageStorage, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"],
                                 scu_role=True, scp_role=True)
        ae.network_timeout = ae.dimse_timeout = ae.acse_timeout = 10
        self.server = ae.start_server(("127.0.0.1", 0), block=False,
                                      evt_handlers=[(evt.EVT_C_FIND, self._find), (evt.EVT_C_GET, self._get),
                                                    (evt.EVT_DIMSE_RECV, self._received)])
        self.port = self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()

    def _find(self, event):
        ds = Dataset()
        ds.QueryRetrieveLevel = "STUDY"
        ds.StudyInstanceUID = self.study
        ds.NumberOfStudyRelatedInstances = str(len(self.datasets))
        ds.SOPClassesInStudy = CT
        yield 0xFF00, ds

    def _get(self, event):
        yield len(self.datasets)
        for ds in self.datasets:
            yield 0xFF00, ds

    def _received(self, event):
        command = event.message.command_set
        if command.get("CommandField") == 0x8001 and command.get("Status") == 0x0000:
            self.on_success(str(command.AffectedSOPInstanceUID))


def studydesk(home, *args) -> str:
    """The command in its own process (this test holds no session of the
    home, so what a killed retrieve left is the next open's to sweep)."""
    env = {k: v for k, v in _env().items() if not k.startswith("STUDYDESK_")}
    run = subprocess.run([sys.executable, "-m", "app", "--home", str(home), *map(str, args)],
                         capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


def in_cache(home_path) -> dict[str, tuple[str, str]]:
    studydesk(home_path, "studies", "--json")  # opening the home runs its recovery
    db = read_only(home_path)
    try:
        return {sop: (str(home_path / path), sha) for sop, path, sha in
                db.execute("SELECT sop_instance_uid, path, sha256 FROM instances")}
    finally:
        db.close()


def home_for(tmp_path, archive):
    home = tmp_path / "home"
    studydesk(home, "node", "add", "archive", "--aet", "ARCHIVE", "--host", "127.0.0.1",
              "--port", str(archive.port))
    return home


def test_each_sub_operation_is_answered_after_its_instance_is_in_the_cache(tmp_path):
    import json

    paths = write_series(tmp_path / "in", 12, patient_id="GETDUR", size=128)
    not_yet: list[str] = []
    home = None

    answered = []

    def check(sop):
        answered.append(sop)
        db = read_only(home)
        try:
            row = db.execute("SELECT path FROM instances WHERE sop_instance_uid = ?", [sop]).fetchone()
            if row is None or not (home / row[0]).is_file():
                not_yet.append(sop)
        finally:
            db.close()

    archive = Archive(paths, check)
    try:
        home = home_for(tmp_path, archive)
        got = json.loads(studydesk(home, "retrieve", "archive", archive.study, "--json"))
    finally:
        archive.close()
    assert got["retrieved"] == 12 and got["failed"] == []
    assert len(answered) == 12 and not_yet == []


def read_only(home):
    import sqlite3

    return sqlite3.connect(f"file:{home / 'cache.sqlite'}?mode=ro", uri=True)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kill_after", [1, 6])
def test_a_killed_retrieve_keeps_every_instance_it_answered(tmp_path, kill_after):
    paths = write_series(tmp_path / "in", 12, patient_id=f"GETKILL{kill_after}", size=256)
    answered: list[str] = []
    proc = None
    lock = threading.Lock()

    def note(sop):
        with lock:
            answered.append(sop)
            if len(answered) >= kill_after and proc is not None and proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)

    archive = Archive(paths, note)
    try:
        home = home_for(tmp_path, archive)
        env = {k: v for k, v in _env().items() if not k.startswith("STUDYDESK_")}
        with lock:
            proc = subprocess.Popen([sys.executable, "-m", "app", "--home", str(home), "retrieve", "archive",
                                     archive.study], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        proc.wait(60)
    finally:
        archive.close()
    assert proc.returncode == -signal.SIGKILL
    assert len(answered) >= kill_after
    cache = in_cache(home)
    assert [sop for sop in answered if sop not in cache] == []
    for path, sha in cache.values():
        assert hashlib.sha256(open(path, "rb").read()).hexdigest() == sha
    assert not [p for p in (home / "tmp").rglob("*") if p.is_file()]
    # and no file without a row: what the kill left unrecorded is swept at open
    assert {str(f) for f in (home / "store").rglob("*.dcm")} == {path for path, _ in cache.values()}
