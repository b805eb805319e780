"""Retrieve by C-GET from an archive that misbehaves mid-transfer: a data set
cut short inside its pixel data, a sender that aborts in the middle of one.
The archive is a few lines on our own association code (Orthanc cannot be
made to fail this way); nothing of a broken data set may stay behind."""

from __future__ import annotations

import hashlib
import socket
import threading

import pydicom
import pytest
from pydicom.dataset import Dataset

from app import store
from app.errors import StudyDeskError
from app.net import association, dimse, nodes
from app.net.retrieve import study as net_retrieve
from app.net.client import STUDY_ROOT_FIND, STUDY_ROOT_GET
from tests.factories import write_series

pytestmark = pytest.mark.network

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"


class Archive:
    """A Study Root C-FIND/C-GET SCP on loopback serving one study. ``modes``
    says how each instance is sent: ``ok``, ``short`` (the data set's last
    1,000 bytes left out, the fragment still marked last) or ``abort``
    (half the data set, then A-ABORT)."""

    def __init__(self, paths, modes):
        self.instances = []
        for path, mode in zip(paths, modes):
            offset, meta = dimse.read_meta(path)
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            self.instances.append((ds, path.read_bytes()[offset:], mode))
        self.study = str(self.instances[0][0].StudyInstanceUID)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept() (closing alone does not)
        self.server.close()
        self.thread.join()

    def _serve(self) -> None:
        while True:
            try:
                sock, address = self.server.accept()
            except OSError:
                return
            assoc = association.accept(sock, address, "ARCHIVE", lambda request: None,
                                       lambda abstract, proposed: EXPLICIT if EXPLICIT in proposed else proposed[0])
            if assoc is None:
                continue
            try:
                while (message := dimse.receive(assoc)) is not None:
                    if message.field == dimse.C_FIND_RQ:
                        self._find(assoc, message)
                    elif message.field == dimse.C_GET_RQ and not self._get(assoc, message):
                        break
            except StudyDeskError:
                pass
            finally:
                assoc.wire.close()

    def _find(self, assoc, message) -> None:
        ts = assoc.contexts[message.context_id][1]
        level = dimse.decode_dataset(message.dataset, ts).QueryRetrieveLevel
        answers = []
        if level == "STUDY":
            ds = Dataset()
            ds.QueryRetrieveLevel, ds.StudyInstanceUID = "STUDY", self.study
            ds.NumberOfStudyRelatedInstances = str(len(self.instances))
            ds.SOPClassesInStudy = CT
            answers.append(ds)
        else:
            for instance, _, _ in self.instances:
                ds = Dataset()
                ds.QueryRetrieveLevel, ds.StudyInstanceUID = "IMAGE", self.study
                ds.SeriesInstanceUID, ds.SOPInstanceUID = instance.SeriesInstanceUID, instance.SOPInstanceUID
                ds.SOPClassUID = CT
                answers.append(ds)
        reply = {"CommandField": dimse.C_FIND_RSP, "AffectedSOPClassUID": STUDY_ROOT_FIND,
                 "MessageIDBeingRespondedTo": message.command["MessageID"]}
        for ds in answers:
            dimse.send(assoc, message.context_id, dict(reply, Status=0xFF00),
                       dataset=dimse.encode_dataset(ds, ts))
        dimse.send(assoc, message.context_id, dict(reply, Status=dimse.SUCCESS))

    def _get(self, assoc, message) -> bool:
        """Send every instance; False once the association was aborted."""
        cid = assoc.context_for(CT, EXPLICIT)
        for n, (ds, data, mode) in enumerate(self.instances, start=1):
            command = {"CommandField": dimse.C_STORE_RQ, "MessageID": n, "Priority": 0,
                       "AffectedSOPClassUID": CT, "AffectedSOPInstanceUID": str(ds.SOPInstanceUID)}
            if mode == "abort":
                command = dimse.encode_command(dict(command, CommandDataSetType=dimse.HAS_DATASET))
                assoc.wire.send(b"".join(assoc.wire.pdata(cid, 0x03, command)
                                         + assoc.wire.pdata(cid, 0x00, data[:len(data) // 2])))
                assoc.abort()
                return False
            dimse.send(assoc, cid, command, dataset=data if mode == "ok" else data[:-1000])
            dimse.receive(assoc)  # its C-STORE response
        dimse.send(assoc, message.context_id, {
            "CommandField": dimse.C_GET_RSP, "AffectedSOPClassUID": STUDY_ROOT_GET,
            "MessageIDBeingRespondedTo": message.command["MessageID"], "Status": dimse.SUCCESS,
            "NumberOfCompletedSuboperations": len(self.instances), "NumberOfFailedSuboperations": 0,
            "NumberOfWarningSuboperations": 0, "NumberOfRemainingSuboperations": 0})
        return True


@pytest.fixture
def archive(home, admin, tmp_path, request):
    paths = write_series(tmp_path / "archive", 3, patient_id="FAULT", size=128)
    served = Archive(paths, request.param)
    db = home.connect()
    nodes.add_node(db, admin, "archive", "ARCHIVE", "127.0.0.1", served.port, purposes=["query-retrieve"])
    db.close()
    yield served
    served.close()


def cached(home) -> dict[str, tuple[str, str]]:
    db = home.connect()
    try:
        return {sop: (path, sha) for sop, path, sha in
                db.execute("SELECT sop_instance_uid, path, sha256 FROM instances")}
    finally:
        db.close()


def leftovers(home) -> list:
    return [p for p in home.tmp.rglob("*") if p.is_file()]


@pytest.mark.parametrize("archive", [("ok", "short", "ok")], indirect=True)
def test_a_data_set_cut_short_is_refused_and_the_rest_kept(home, admin, archive):
    result = net_retrieve.retrieve(home, admin, "archive", [archive.study])
    short = str(archive.instances[1][0].SOPInstanceUID)
    assert result.retrieved == 2
    assert [f["sop_instance_uid"] for f in result.failed] == [short]
    assert result.failed[0]["reason"].startswith("truncated")
    rows = cached(home)
    assert short not in rows and len(rows) == 2
    for sop, (path, sha) in rows.items():  # the file on disk is what was received, and hashed
        on_disk = store.absolute(home, path).read_bytes()
        assert hashlib.sha256(on_disk).hexdigest() == sha
        assert pydicom.dcmread(store.absolute(home, path)).SOPInstanceUID == sop
    stored = list((home.root / "store").rglob("*.dcm"))
    assert len(stored) == 2 and not leftovers(home)


@pytest.mark.parametrize("archive", [("ok", "abort", "ok")], indirect=True)
def test_an_abort_in_the_middle_of_a_data_set_leaves_nothing_half_written(home, admin, archive):
    with pytest.raises(StudyDeskError):
        net_retrieve.retrieve(home, admin, "archive", [archive.study])
    rows = cached(home)
    assert list(rows) == [str(archive.instances[0][0].SOPInstanceUID)]  # the complete one is kept
    assert len(list((home.root / "store").rglob("*.dcm"))) == 1 and not leftovers(home)
