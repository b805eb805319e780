"""The listener as a Query/Retrieve SCP, asked by tools that are not ours:
DCMTK findscu, getscu and movescu (Study Root and Patient Root, every
level), and Orthanc querying and pulling through its REST API."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pydicom
import pytest

from app.importing.importer import import_paths
from app.net import association, dimse, nodes, wire
from app.net.association import Proposal
from app.net.listener import Listener
from tests.factories import uid, write_series
from tests.net.conftest import OUR_AET, _env, _need
from tests.net.test_listener import Events

pytestmark = pytest.mark.network

PEER = "QRPEER"


def add_node(home, admin, name, aet, port):
    db = home.connect()
    try:
        nodes.add_node(db, admin, name, aet, "127.0.0.1", port)
    finally:
        db.close()


@pytest.fixture
def cache(home, admin, tmp_path):
    """Two patients: DOE^JANE with a CT study of two series and an MR study,
    ROE^RICHARD with one CT study."""
    src = tmp_path / "src"
    write_series(src, 3, patient_id="QRP1", patient_name="DOE^JANE", study="chest", series="ax",
                 accession="QR001", description="CT CHEST", study_date="20240110")
    write_series(src, 2, patient_id="QRP1", patient_name="DOE^JANE", study="chest", series="cor",
                 accession="QR001", description="CT CHEST", study_date="20240110")
    write_series(src, 2, patient_id="QRP1", patient_name="DOE^JANE", study="knee", series="t1",
                 accession="QR002", modality="MR", description="MR KNEE", study_date="20230505")
    write_series(src, 1, patient_id="QRP2", patient_name="ROE^RICHARD", study="head", series="ax",
                 accession="QR003", description="CT HEAD", study_date="20220202")
    import_paths(home, [src], admin.name)
    return {"chest": uid("QRP1", "chest"), "knee": uid("QRP1", "knee"), "head": uid("QRP2", "head"),
            "ax": uid("QRP1", "chest", "ax"), "src": src}


@pytest.fixture
def scp(home, admin, cache, free_port):
    """The listener with a home holding *cache*; the caller PEER is a node."""
    home.set_setting("aet", OUR_AET)
    add_node(home, admin, "peer", PEER, 104)
    events = Events()
    with Listener(home, admin.name, free_port(), host="127.0.0.1", on_event=events.add) as listener:
        listener.events = events
        yield listener


def dcmtk(tool: str, port: int, *args, calling: str = PEER, cwd=None) -> subprocess.CompletedProcess:
    _need(tool)
    return subprocess.run([tool, "-aet", calling, "-aec", OUR_AET, "127.0.0.1", str(port), *args],
                          capture_output=True, text=True, env=_env(), timeout=60, cwd=cwd)


def find(port: int, model: str, level: str, folder: Path, *keys: str) -> list[pydicom.Dataset]:
    """findscu's answers, written by it as files (-X) and read back."""
    folder.mkdir(parents=True, exist_ok=True)
    args = [model, "-X", "-k", f"QueryRetrieveLevel={level}"]
    for key in keys:
        args += ["-k", key]
    run = dcmtk("findscu", port, *args, cwd=folder)
    assert run.returncode == 0, run.stderr + run.stdout
    answers = [pydicom.dcmread(p) for p in sorted(folder.glob("rsp*.dcm"))]
    for p in folder.glob("rsp*.dcm"):
        p.unlink()
    return answers


def test_find_at_every_level_in_study_root(scp, cache, tmp_path):
    studies = find(scp.port, "-S", "STUDY", tmp_path, "PatientName=doe*", "StudyInstanceUID",
                   "StudyDate", "AccessionNumber", "ModalitiesInStudy", "NumberOfStudyRelatedInstances")
    assert sorted(str(d.StudyInstanceUID) for d in studies) == sorted([cache["chest"], cache["knee"]])
    chest = next(d for d in studies if d.StudyInstanceUID == cache["chest"])
    assert chest.AccessionNumber == "QR001" and chest.StudyDate == "20240110"
    assert int(chest.NumberOfStudyRelatedInstances) == 5 and chest.QueryRetrieveLevel == "STUDY"

    in_range = find(scp.port, "-S", "STUDY", tmp_path, "StudyDate=20230101-20241231", "StudyInstanceUID")
    assert sorted(str(d.StudyInstanceUID) for d in in_range) == sorted([cache["chest"], cache["knee"]])
    since = find(scp.port, "-S", "STUDY", tmp_path, "StudyDate=20240101-", "PatientID")
    assert [d.PatientID for d in since] == ["QRP1"]
    by_component = find(scp.port, "-S", "STUDY", tmp_path, "PatientName=RICHARD", "StudyInstanceUID")
    assert [d.StudyInstanceUID for d in by_component] == [cache["head"]]
    uid_list = find(scp.port, "-S", "STUDY", tmp_path, f"StudyInstanceUID={cache['knee']}\\{cache['head']}",
                    "AccessionNumber")
    assert sorted(d.AccessionNumber for d in uid_list) == ["QR002", "QR003"]

    series = find(scp.port, "-S", "SERIES", tmp_path, f"StudyInstanceUID={cache['chest']}",
                  "SeriesInstanceUID", "Modality", "NumberOfSeriesRelatedInstances", "SeriesDescription")
    assert sorted(int(d.NumberOfSeriesRelatedInstances) for d in series) == [2, 3]
    assert {d.SeriesDescription for d in series} == {"CT CHEST ax", "CT CHEST cor"}

    images = find(scp.port, "-S", "IMAGE", tmp_path, f"StudyInstanceUID={cache['chest']}",
                  f"SeriesInstanceUID={cache['ax']}", "SOPInstanceUID", "InstanceNumber",
                  "WindowCenter", "SliceThickness")  # the last two are read from the files
    assert sorted(int(d.InstanceNumber) for d in images) == [1, 2, 3]
    assert all(float(d.WindowCenter) == 40 for d in images)
    assert "SliceThickness" in images[0] and images[0].SliceThickness in (None, "")
    assert scp.events.wait_for("query")


def test_find_in_patient_root_with_wildcards(scp, cache, tmp_path):
    patients = find(scp.port, "-P", "PATIENT", tmp_path, "PatientName", "PatientID",
                    "NumberOfPatientRelatedStudies", "PatientBirthDate")
    assert sorted((d.PatientID, int(d.NumberOfPatientRelatedStudies)) for d in patients) == [
        ("QRP1", 2), ("QRP2", 1)]
    one = find(scp.port, "-P", "PATIENT", tmp_path, "PatientID=QRP?", "PatientName=R*")
    assert [str(d.PatientName) for d in one] == ["ROE^RICHARD"]
    studies = find(scp.port, "-P", "STUDY", tmp_path, "PatientID=QRP1", "StudyInstanceUID",
                   "StudyDescription=*knee*")
    assert [d.StudyInstanceUID for d in studies] == [cache["knee"]]
    series = find(scp.port, "-P", "SERIES", tmp_path, "PatientID=QRP1", f"StudyInstanceUID={cache['knee']}",
                  "Modality", "SeriesInstanceUID")
    assert [d.Modality for d in series] == ["MR"]
    images = find(scp.port, "-P", "IMAGE", tmp_path, "PatientID=QRP1", f"StudyInstanceUID={cache['knee']}",
                  f"SeriesInstanceUID={uid('QRP1', 'knee', 't1')}", "SOPInstanceUID", "SOPClassUID")
    assert len(images) == 2
    none = find(scp.port, "-S", "STUDY", tmp_path, "PatientName=NOBODY*", "StudyInstanceUID")
    assert none == []


def test_a_patient_level_query_in_study_root_is_refused(scp, tmp_path):
    run = dcmtk("findscu", scp.port, "-v", "-S", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID")
    assert "Final Find Response (Error: DataSetDoesNotMatchSOPClass)" in run.stderr


def test_an_unknown_caller_is_refused_at_association(scp, tmp_path):
    run = dcmtk("findscu", scp.port, "-S", "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID",
                calling="STRANGER")
    assert run.returncode != 0
    assert "Association Rejected" in run.stderr + run.stdout
    assert scp.events.wait_for("rejected")


def pixel_data(path: Path) -> bytes:
    return pydicom.dcmread(path).PixelData


def originals(cache) -> dict:
    return {str(pydicom.dcmread(p).SOPInstanceUID): pixel_data(p) for p in cache["src"].glob("*.dcm")}


def test_get_a_study_and_a_series(scp, cache, tmp_path):
    want = originals(cache)
    study = tmp_path / "study"
    study.mkdir()
    run = dcmtk("getscu", scp.port, "-S", "-k", "QueryRetrieveLevel=STUDY", "-k",
                f"StudyInstanceUID={cache['chest']}", "-od", str(study))
    assert run.returncode == 0, run.stderr
    got = {str(pydicom.dcmread(p).SOPInstanceUID): pixel_data(p) for p in study.iterdir()}
    assert len(got) == 5 and all(got[sop] == want[sop] for sop in got)

    series = tmp_path / "series"
    series.mkdir()
    run = dcmtk("getscu", scp.port, "-P", "-k", "QueryRetrieveLevel=SERIES", "-k", "PatientID=QRP1",
                "-k", f"StudyInstanceUID={cache['chest']}", "-k", f"SeriesInstanceUID={cache['ax']}",
                "-od", str(series))
    assert run.returncode == 0, run.stderr
    got = {str(pydicom.dcmread(p).SOPInstanceUID): pixel_data(p) for p in series.iterdir()}
    assert sorted(got) == sorted(uid("QRP1", "chest", "ax", n) for n in (1, 2, 3))
    assert all(got[sop] == want[sop] for sop in got)

    everything = tmp_path / "everything"  # a retrieve must name what it wants
    everything.mkdir()
    run = dcmtk("getscu", scp.port, "-v", "-S", "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=",
                "-od", str(everything))
    assert "DataSetDoesNotMatchSOPClass" in run.stderr and not list(everything.iterdir())


def test_move_to_a_configured_node_and_not_to_an_unknown_one(scp, home, admin, cache, storescp, tmp_path):
    port, folder = storescp
    add_node(home, admin, "archive", "STORESCP", port)
    run = dcmtk("movescu", scp.port, "-v", "-S", "-aem", "STORESCP", "-k", "QueryRetrieveLevel=STUDY",
                "-k", f"StudyInstanceUID={cache['chest']}")
    assert run.returncode == 0, run.stderr
    want = originals(cache)
    got = {str(pydicom.dcmread(p).SOPInstanceUID): pixel_data(p) for p in folder.iterdir() if p.is_file()}
    assert len(got) == 5 and all(got[sop] == want[sop] for sop in got)

    run = dcmtk("movescu", scp.port, "-v", "-S", "-aem", "ELSEWHERE", "-k", "QueryRetrieveLevel=STUDY",
                "-k", f"StudyInstanceUID={cache['knee']}")
    text = (run.stdout + run.stderr).lower()
    assert "final move response (refused: movedestinationunknown)" in text, text
    assert len([p for p in folder.iterdir() if p.is_file()]) == 5


def test_orthanc_queries_and_pulls_from_us(home, admin, cache, orthanc, free_port):
    """Orthanc knows us as modality 'studydesk' (AE STUDYDESK at its
    our_port); we know it as node 'pacs'."""
    home.set_setting("aet", OUR_AET)
    add_node(home, admin, "pacs", orthanc.aet, orthanc.port)
    with Listener(home, admin.name, orthanc.our_port, host="127.0.0.1"):
        query = orthanc.rest("/modalities/studydesk/query", "POST", json.dumps(
            {"Level": "Study", "Query": {"PatientName": "DOE*", "StudyDate": "20240101-",
                                         "AccessionNumber": ""}}).encode())
        answers = orthanc.rest(f"{query['Path']}/answers?expand&simplify")
        assert [a["StudyInstanceUID"] for a in answers] == [cache["chest"]]
        assert answers[0]["AccessionNumber"] == "QR001"
        orthanc.rest(f"{query['Path']}/retrieve", "POST", json.dumps(
            {"TargetAet": orthanc.aet, "Synchronous": True}).encode())
        assert orthanc.instance_count(cache["chest"]) == 5


STUDY_ROOT_FIND, STUDY_ROOT_GET = "1.2.840.10008.5.1.4.1.2.2.1", "1.2.840.10008.5.1.4.1.2.2.3"
CT, EXPLICIT = "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.1"


def identifier(**keys) -> bytes:
    ds = pydicom.Dataset()
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return dimse.encode_dataset(ds, EXPLICIT)


def test_a_cancelled_find_ends_with_status_cancel(scp, cache):
    with association.request("127.0.0.1", scp.port, PEER, OUR_AET,
                             [Proposal(STUDY_ROOT_FIND, [EXPLICIT])]) as assoc:
        cid = assoc.context_for(STUDY_ROOT_FIND)
        ask = {"CommandField": dimse.C_FIND_RQ, "MessageID": 7, "Priority": 0,
               "AffectedSOPClassUID": STUDY_ROOT_FIND}
        cancel = {"CommandField": dimse.C_CANCEL_RQ, "MessageIDBeingRespondedTo": 7}
        # the request and its cancel in one write: the listener sees the
        # cancel before its first answer
        assoc.wire.send(b"".join(
            wire.Wire.pdata(cid, 0x03, dimse.encode_command(dict(ask, CommandDataSetType=dimse.HAS_DATASET)))
            + wire.Wire.pdata(cid, 0x02, identifier(QueryRetrieveLevel="IMAGE", SOPInstanceUID=""))
            + wire.Wire.pdata(cid, 0x03, dimse.encode_command(dict(cancel, CommandDataSetType=dimse.NO_DATASET)))))
        answers = []
        while True:
            answer = dimse.receive(assoc)
            answers.append(answer.status)
            if answer.status not in dimse.PENDING:
                break
    assert answers == [dimse.CANCEL]


def test_a_cancelled_get_stops_between_sub_operations(scp, cache, tmp_path):
    with association.request("127.0.0.1", scp.port, PEER, OUR_AET,
                             [Proposal(STUDY_ROOT_GET, [EXPLICIT]), Proposal(CT, [EXPLICIT], scp_role=True)]
                             ) as assoc:
        cid = assoc.context_for(STUDY_ROOT_GET)
        dimse.send(assoc, cid, {"CommandField": dimse.C_GET_RQ, "MessageID": 3, "Priority": 0,
                                "AffectedSOPClassUID": STUDY_ROOT_GET},
                   dataset=identifier(QueryRetrieveLevel="STUDY", StudyInstanceUID=cache["chest"]))
        store = dimse.receive(assoc)
        assert store.field == dimse.C_STORE_RQ
        dimse.send(assoc, cid, {"CommandField": dimse.C_CANCEL_RQ, "MessageIDBeingRespondedTo": 3})
        dimse.send(assoc, store.context_id, {
            "CommandField": dimse.C_STORE_RSP, "MessageIDBeingRespondedTo": store.command["MessageID"],
            "AffectedSOPClassUID": CT, "AffectedSOPInstanceUID": store.command["AffectedSOPInstanceUID"],
            "Status": dimse.SUCCESS})
        final = dimse.receive(assoc)
    assert final.status == dimse.CANCEL
    assert final.command["NumberOfCompletedSuboperations"] == 1
    assert final.command["NumberOfRemainingSuboperations"] == 4


def test_a_query_to_another_called_ae_title_is_refused(scp):
    _need("findscu")
    run = subprocess.run(["findscu", "-aet", PEER, "-aec", "SOMEONE", "127.0.0.1", str(scp.port), "-S",
                          "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID"],
                         capture_output=True, text=True, env=_env(), timeout=60)
    assert run.returncode != 0 and "Association Rejected" in run.stderr + run.stdout


STUDY_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"


def test_a_move_counts_its_sub_operations_and_honours_cancel(scp, home, admin, cache, storescp):
    port, folder = storescp
    add_node(home, admin, "archive", "STORESCP", port)
    ask = {"CommandField": dimse.C_MOVE_RQ, "Priority": 0, "AffectedSOPClassUID": STUDY_ROOT_MOVE,
           "MoveDestination": "STORESCP"}
    with association.request("127.0.0.1", scp.port, PEER, OUR_AET,
                             [Proposal(STUDY_ROOT_MOVE, [EXPLICIT])]) as assoc:
        cid = assoc.context_for(STUDY_ROOT_MOVE)
        dimse.send(assoc, cid, dict(ask, MessageID=1),
                   dataset=identifier(QueryRetrieveLevel="SERIES", SeriesInstanceUID=cache["ax"]))
        answers = []
        while not answers or answers[-1].status in dimse.PENDING:
            answers.append(dimse.receive(assoc))
        remaining = [a.command["NumberOfRemainingSuboperations"] for a in answers[:-1]]
        completed = [a.command["NumberOfCompletedSuboperations"] for a in answers]
        assert remaining == [2, 1] and completed == [1, 2, 3] and answers[-1].status == dimse.SUCCESS
        assert answers[-1].command["NumberOfFailedSuboperations"] == 0

        # the request and its cancel in one write: nothing is sent
        assoc.wire.send(b"".join(
            wire.Wire.pdata(cid, 0x03, dimse.encode_command(dict(ask, MessageID=2,
                                                                 CommandDataSetType=dimse.HAS_DATASET)))
            + wire.Wire.pdata(cid, 0x02, identifier(QueryRetrieveLevel="STUDY", StudyInstanceUID=cache["knee"]))
            + wire.Wire.pdata(cid, 0x03, dimse.encode_command({
                "CommandField": dimse.C_CANCEL_RQ, "MessageIDBeingRespondedTo": 2,
                "CommandDataSetType": dimse.NO_DATASET}))))
        final = dimse.receive(assoc)
    assert final.status == dimse.CANCEL and final.command["NumberOfRemainingSuboperations"] == 2
    assert len([p for p in folder.iterdir() if p.is_file()]) == 3
