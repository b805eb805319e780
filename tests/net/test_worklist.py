"""Modality Worklist against DCMTK wlmscpfs with worklist files written here:
the scheduled steps become the patient's upcoming appointments."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from app.importing.importer import import_paths
from app.net import mwl, nodes
from app.worklist.query import patient_card
from tests.factories import uid, write_series

pytestmark = pytest.mark.network


def worklist_item(folder, name: str, patient_id: str, patient_name: str, date: str, time: str,
                  description: str, modality: str, location: str) -> None:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.AccessionNumber = f"ACC-{name}"
    ds.RequestedProcedureID = f"RP-{name}"
    ds.RequestedProcedureDescription = description
    ds.StudyInstanceUID = uid("mwl", name)
    step = Dataset()
    step.Modality = modality
    step.ScheduledStationAETitle = "SCANNER1"
    step.ScheduledProcedureStepStartDate = date
    step.ScheduledProcedureStepStartTime = time
    step.ScheduledProcedureStepDescription = description
    step.ScheduledStationName = "ROOM 3"
    step.ScheduledProcedureStepLocation = location
    step.ScheduledProcedureStepID = f"SPS-{name}"
    step.ScheduledPerformingPhysicianName = ""
    ds.ScheduledProcedureStepSequence = [step]
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.31"
    ds.file_meta.MediaStorageSOPInstanceUID = uid("mwl-item", name)
    ds.save_as(folder / f"{name}.wl", enforce_file_format=True)


@pytest.fixture
def scheduled(home, admin, tmp_path, worklist_server):
    port, folder = worklist_server
    worklist_item(folder, "a", "MWL1", "PLAN^PAULA", "20990105", "0830", "CT THORAX", "CT", "BUILDING A")
    worklist_item(folder, "b", "MWL1", "PLAN^PAULA", "20990212", "1400", "MR KNEE", "MR", "")
    worklist_item(folder, "c", "MWL2", "OTHER^OTTO", "20990301", "0900", "US ABDOMEN", "US", "WARD 5")
    write_series(tmp_path / "cached", 1, patient_id="MWL1", patient_name="PLAN^PAULA")
    import_paths(home, [tmp_path / "cached"], admin.name)
    db = home.connect()
    nodes.add_node(db, admin, "ris", "WLM", "127.0.0.1", port, purposes=["worklist"])
    db.close()
    return home


def test_worklist_fills_the_patient_card(scheduled, admin):
    steps = mwl.fetch_worklist(scheduled, admin, "ris")
    assert {(s["patient_id"], s["date"], s["modality"]) for s in steps} == {
        ("MWL1", "20990105", "CT"), ("MWL1", "20990212", "MR"), ("MWL2", "20990301", "US")}
    card = patient_card(scheduled.connect(), "MWL1")
    assert card["appointments"] == [
        {"date": "20990105", "time": "0830", "description": "CT THORAX", "modality": "CT",
         "location": "BUILDING A"},
        {"date": "20990212", "time": "1400", "description": "MR KNEE", "modality": "MR",
         "location": "ROOM 3"},  # no location: the station name stands in
    ]


def test_worklist_for_one_patient_refreshes_only_that_patient(scheduled, admin, worklist_server):
    mwl.fetch_worklist(scheduled, admin, "ris")
    _, folder = worklist_server
    (folder / "b.wl").unlink()  # the MR appointment was cancelled at the RIS
    steps = mwl.fetch_worklist(scheduled, admin, "ris", patient_id="MWL1")
    assert [s["modality"] for s in steps] == ["CT"]
    db = scheduled.connect()
    assert [a["modality"] for a in patient_card(db, "MWL1")["appointments"]] == ["CT"]
    assert db.execute("SELECT count(*) FROM appointments WHERE patient_id = 'MWL2'").fetchone()[0] == 1
