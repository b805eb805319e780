"""Modality Worklist (C-FIND on the MWL information model, PS3.4 K): the
scheduled procedure steps become the patients' upcoming appointments, shown
on the patient card (``appointments`` table, read by app/worklist/query.py).

The node's worklist is the truth for what it schedules: a query without a
patient filter replaces every appointment that came from the node; with
``patient_id`` only that patient's.
"""

from __future__ import annotations

from typing import Optional

from pydicom.dataset import Dataset

from app.accounts import audit
from app.accounts.accounts import User
from app.clock import now_iso
from app.db import transaction
from app.jobs import CancelToken
from app.net.association import Proposal
from app.net.client import MWL_FIND, UNCOMPRESSED, find, open_association
from app.net.nodes import get_node

_SPS_KEYWORDS = ("Modality", "ScheduledStationAETitle", "ScheduledProcedureStepStartDate",
                 "ScheduledProcedureStepStartTime", "ScheduledProcedureStepDescription",
                 "ScheduledStationName", "ScheduledProcedureStepLocation", "ScheduledProcedureStepID")


def mwl_identifier(patient_id: str = "") -> Dataset:
    ds = Dataset()
    ds.PatientName = ""
    ds.PatientID = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.AccessionNumber = ""
    ds.RequestedProcedureDescription = ""
    ds.RequestedProcedureID = ""
    ds.StudyInstanceUID = ""
    step = Dataset()
    for keyword in _SPS_KEYWORDS:
        setattr(step, keyword, "")
    ds.ScheduledProcedureStepSequence = [step]
    return ds


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    return "" if value is None else str(value).strip()


def appointments_of(ds: Dataset) -> list[dict]:
    """One appointment per scheduled procedure step of a worklist item."""
    out = []
    for step in ds.get("ScheduledProcedureStepSequence", None) or [Dataset()]:
        location = (_text(step, "ScheduledProcedureStepLocation") or _text(step, "ScheduledStationName")
                    or _text(step, "ScheduledStationAETitle"))
        out.append({
            "patient_id": _text(ds, "PatientID"), "patient_name": _text(ds, "PatientName"),
            "date": _text(step, "ScheduledProcedureStepStartDate"),
            "time": _text(step, "ScheduledProcedureStepStartTime"),
            "description": (_text(step, "ScheduledProcedureStepDescription")
                            or _text(ds, "RequestedProcedureDescription")),
            "modality": _text(step, "Modality"), "location": location,
            "station_aet": _text(step, "ScheduledStationAETitle"),
            "accession_number": _text(ds, "AccessionNumber"),
        })
    return out


def fetch_worklist(home, user: User, node_name: str, patient_id: str = "",
                   cancel: Optional[CancelToken] = None) -> list[dict]:
    """Query the node's worklist and store the steps as appointments."""
    user.require("network", "query a modality worklist")
    db = home.connect()
    try:
        node = get_node(db, node_name)
        with open_association(home, node, [Proposal(MWL_FIND, UNCOMPRESSED)]) as assoc:
            items = list(find(assoc, MWL_FIND, mwl_identifier(patient_id.strip()), cancel))
        steps = [a for ds in items for a in appointments_of(ds) if a["patient_id"]]
        fetched = now_iso()
        with transaction(db):
            if patient_id.strip():
                db.execute("DELETE FROM appointments WHERE node = ? AND patient_id = ?",
                           [node.name, patient_id.strip()])
            else:
                db.execute("DELETE FROM appointments WHERE node = ?", [node.name])
            db.conn.executemany(
                "INSERT INTO appointments (patient_id, date, time, description, modality, location,"
                " node, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(a["patient_id"], a["date"], a["time"], a["description"], a["modality"],
                  a["location"], node.name, fetched) for a in steps])
            audit.record(db, user.name, "worklist", audit.QUERY, objects=[node.name],
                         detail=f"Modality Worklist C-FIND on {node}"
                                f"{' for patient ' + patient_id if patient_id else ''}: "
                                f"{len(items)} items, {len(steps)} scheduled steps")
        return steps
    finally:
        db.close()
