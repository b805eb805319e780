"""The SCU side that asks and answers: C-ECHO and C-FIND (studies, series,
instances) on a configured node.

Remote matching follows the local worklist's rules (app/worklist/query.py): the
query sent to the node is a superset (a person name pattern is widened so
that it may match any name component; a text pattern with lower-case
letters is left to us, since archives match most text case-sensitively),
and the answers are then filtered here with exactly the local rules.
"""

from __future__ import annotations

import re
import time
from dataclasses import fields
from typing import Iterator, Optional

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from app.accounts import audit
from app.db import transaction
from app.dicom.columns import name_norm, name_parts
from app.errors import BadInput, Cancelled
from app.jobs import CancelToken
from app.net import association, dimse, tls
from app.net.association import Association, Proposal, Rejected
from app.net.nodes import Node, get_node, local_ae
from app.net.wire import NetworkError
from app.worklist.query import Query

VERIFICATION = "1.2.840.10008.1.1"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
STUDY_ROOT_GET = "1.2.840.10008.5.1.4.1.2.2.3"
MWL_FIND = "1.2.840.10008.5.1.4.31"
UNCOMPRESSED = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
TIMEOUT = 30.0
CANCEL_GRACE = 10.0  # seconds a peer has to end an operation after C-CANCEL


def open_association(home, node: Node, proposals: list[Proposal],
                     timeout: float = TIMEOUT) -> Association:
    """An association from our AE to *node* (over TLS when the node says so)."""
    if node.web:  # a service with no DICOMweb counterpart here (a modality worklist, C-MOVE)
        raise BadInput(f"node {node.name} is a DICOMweb node ({node.url}): this needs a DICOM node "
                       "(AE title, host, port)")
    aet, _ = local_ae(home)
    context = tls.client_context(home) if node.tls else None
    try:
        return association.request(node.host, node.port, aet, node.aet, proposals, timeout, context)
    except NetworkError as e:
        e.message = f"node {node.name}: {e.message}"
        e.args = (e.message,)
        raise


def require_context(assoc: Association, abstract: str, what: str) -> int:
    cid = assoc.context_for(abstract)
    if cid is None:
        raise Rejected(f"{assoc.called_aet} does not accept {what} from {assoc.calling_aet}")
    return cid


def echo(home, node_name: str) -> float:
    """C-ECHO (a QIDO-RS search that matches nothing for a DICOMweb node);
    the round-trip in milliseconds (association included)."""
    db = home.connect()
    try:
        node = get_node(db, node_name)
    finally:
        db.close()
    started = time.perf_counter()
    if node.web:
        from app.net.web.client import session

        session(node, home).ping()
        return (time.perf_counter() - started) * 1000.0
    with open_association(home, node, [Proposal(VERIFICATION, UNCOMPRESSED)]) as assoc:
        cid = require_context(assoc, VERIFICATION, "C-ECHO")
        mid = assoc.next_message_id()
        dimse.send(assoc, cid, {"CommandField": dimse.C_ECHO_RQ, "MessageID": mid,
                                "AffectedSOPClassUID": VERIFICATION})
        answer = dimse.receive(assoc)
        if answer is None or answer.status != dimse.SUCCESS:
            status = "no answer" if answer is None else f"status 0x{answer.status:04X}"
            raise NetworkError(f"node {node.name}: C-ECHO failed ({status})")
    return (time.perf_counter() - started) * 1000.0


class Operation:
    """One request and its stream of responses, with C-CANCEL on request."""

    def __init__(self, assoc: Association, context_id: int, message_id: int,
                 cancel: Optional[CancelToken]):
        self.assoc, self.context_id, self.message_id = assoc, context_id, message_id
        self.cancel = cancel
        self.cancel_sent_at: Optional[float] = None
        assoc.wire.on_idle = self.check_cancel

    def check_cancel(self) -> None:
        if self.cancel is None or not self.cancel.cancelled:
            return
        if self.cancel_sent_at is None:
            self.cancel_sent_at = time.monotonic()
            dimse.send(self.assoc, self.context_id, {
                "CommandField": dimse.C_CANCEL_RQ, "MessageIDBeingRespondedTo": self.message_id})
        elif time.monotonic() - self.cancel_sent_at > CANCEL_GRACE:
            self.assoc.abort()
            raise Cancelled("cancelled (the node did not end the operation; association aborted)")

    def done(self) -> None:
        self.assoc.wire.on_idle = None


def find(assoc: Association, model: str, identifier: Dataset,
         cancel: Optional[CancelToken] = None) -> Iterator[Dataset]:
    """C-FIND: the matches, as they come. Cancelling sends C-CANCEL, waits for
    the node's last response, then raises :class:`Cancelled`. Read it to the
    end: a caller that stops early leaves the operation open, so the
    association is aborted."""
    cid = require_context(assoc, model, "this C-FIND model")
    ts = assoc.contexts[cid][1]
    mid = assoc.next_message_id()
    dimse.send(assoc, cid, {"CommandField": dimse.C_FIND_RQ, "MessageID": mid, "Priority": 0,
                            "AffectedSOPClassUID": model},
               dataset=dimse.encode_dataset(identifier, ts))
    op = Operation(assoc, cid, mid, cancel)
    finished = False
    try:
        while True:
            answer = dimse.receive(assoc)
            if answer is None:
                raise NetworkError(f"{assoc.called_aet} released the association during C-FIND")
            if answer.field != dimse.C_FIND_RSP:
                continue
            category = dimse.status_category(answer.status)
            if category == "pending":
                if answer.dataset is not None and op.cancel_sent_at is None:
                    yield dimse.decode_dataset(answer.dataset, ts)
                op.check_cancel()
                continue
            if category == "cancel" or op.cancel_sent_at is not None:
                raise Cancelled("query cancelled")
            if category == "failure":
                comment = answer.command.get("ErrorComment", "")
                raise NetworkError(f"{assoc.called_aet}: C-FIND failed (status 0x{answer.status:04X}"
                                   f"{': ' + comment if comment else ''})")
            finished = True
            return
    finally:
        op.done()
        if not finished:
            assoc.abort()


# -- studies, series, instances ------------------------------------------------------------


def _pattern(text: str) -> re.Pattern:
    """A DICOM wildcard pattern ('*', '?') as a case-insensitive regex."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text.strip().upper())
    return re.compile(body, re.DOTALL)


def _text_matches(value: str, pattern: str) -> bool:
    if not pattern.strip() or pattern.strip() == "*":
        return True
    return _pattern(pattern).fullmatch((value or "").upper()) is not None


def _name_matches(name: str, pattern: str) -> bool:
    if not pattern.strip() or pattern.strip() == "*":
        return True
    rx = _pattern(pattern)
    return bool(rx.fullmatch(name_norm(name or ""))) or any(rx.fullmatch(p) for p in name_parts(name or ""))


def matches(row: dict, q: Query) -> bool:
    """The local worklist's rules (app/worklist/query.py where_clause) on a row."""
    if not (_text_matches(row["patient_id"], q.patient_id) and _name_matches(row["patient_name"], q.patient_name)
            and _text_matches(row["accession_number"], q.accession)
            and _text_matches(row["description"], q.description)):
        return False
    if q.modality.strip() and q.modality.strip() != "*":
        if not any(_text_matches(m, q.modality) for m in row["modalities"]):
            return False
    date = row["study_date"]
    if q.date_from and date < q.date_from:
        return False
    return not (q.date_to and (not date or date > q.date_to))


def _sent(text: str) -> str:
    """What the node gets for a text filter: the pattern, or universal
    matching when case could make the node miss what we would match."""
    value = text.strip()
    if not value or value == "*" or any(c.islower() for c in value):
        return ""
    return value


def _sent_name(text: str) -> str:
    value = text.strip()
    if not value or value == "*" or any(c in value for c in "^="):
        return value if value != "*" else ""
    return f"*{value.strip('*')}*"  # any component may match (PN matching is case-insensitive in most archives)


def study_identifier(q: Query) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = ""
    ds.PatientID = _sent(q.patient_id)
    ds.PatientName = _sent_name(q.patient_name)
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyDate = f"{q.date_from}-{q.date_to}" if (q.date_from or q.date_to) else ""
    ds.StudyTime = ""
    ds.AccessionNumber = _sent(q.accession)
    ds.StudyDescription = _sent(q.description)
    wild = any(c in q.modality for c in "*?")
    ds.ModalitiesInStudy = "" if wild else q.modality.strip().upper()
    ds.ReferringPhysicianName = ""
    ds.StudyID = ""
    ds.NumberOfStudyRelatedSeries = ""
    ds.NumberOfStudyRelatedInstances = ""
    return ds


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _int(ds: Dataset, keyword: str) -> Optional[int]:
    try:
        return int(str(ds.get(keyword, "")).strip())
    except ValueError:
        return None


def study_row(ds: Dataset, node_name: str) -> dict:
    return {
        "study_instance_uid": _text(ds, "StudyInstanceUID"), "patient_id": _text(ds, "PatientID"),
        "patient_name": _text(ds, "PatientName"), "study_date": _text(ds, "StudyDate"),
        "study_time": _text(ds, "StudyTime"), "accession_number": _text(ds, "AccessionNumber"),
        "modalities": [m for m in _text(ds, "ModalitiesInStudy").split("\\") if m],
        "description": _text(ds, "StudyDescription"),
        "series_count": _int(ds, "NumberOfStudyRelatedSeries"),
        "instance_count": _int(ds, "NumberOfStudyRelatedInstances"),
        "assigned_to": None, "locked_by": None, "staged": False,
        "patient_birth_date": _text(ds, "PatientBirthDate"), "patient_sex": _text(ds, "PatientSex"),
        "referring_physician": _text(ds, "ReferringPhysicianName"), "node": node_name,
    }


def _open_node(home, user, node_name: str, what: str):
    user.require("network", what)
    db = home.connect()
    try:
        return db, get_node(db, node_name)
    except BaseException:
        db.close()
        raise


def _via(node: Node) -> str:
    return "QIDO-RS" if node.web else "C-FIND"


def _found(home, node: Node, path: tuple[str, ...], identifier: Dataset,
           cancel: Optional[CancelToken]) -> list[Dataset]:
    """The matches of a Study Root C-FIND, or of the same search by QIDO-RS
    under *path* for a DICOMweb node (app/net/web/qido.py)."""
    if node.web:
        from app.net.web import qido

        return qido.find(home, node, path, identifier, cancel)
    with open_association(home, node, [Proposal(STUDY_ROOT_FIND, UNCOMPRESSED)]) as assoc:
        return list(find(assoc, STUDY_ROOT_FIND, identifier, cancel))


def query_studies(home, user, node_name: str, q: Query, cancel: Optional[CancelToken] = None) -> list[dict]:
    """C-FIND (QIDO-RS for a DICOMweb node) at study level; rows shaped like
    the local worklist's, newest first, each with ``in_cache`` (instances of
    it we already hold)."""
    if q.assigned_to:
        raise BadInput("--assigned-to: assignments are local; not a remote query key")
    db, node = _open_node(home, user, node_name, "query DICOM nodes")
    try:
        rows = [study_row(ds, node.name) for ds in _found(home, node, ("studies",), study_identifier(q), cancel)]
        rows = [r for r in rows if r["study_instance_uid"] and matches(r, q)]
        rows.sort(key=lambda r: (r["study_date"], r["study_time"], r["study_instance_uid"]), reverse=True)
        for row in rows:
            row["in_cache"] = db.execute(
                "SELECT count(*) FROM instances i JOIN series s USING (series_instance_uid)"
                " WHERE s.study_instance_uid = ?", [row["study_instance_uid"]]).fetchone()[0]
        asked = {f.name: getattr(q, f.name) for f in fields(q) if getattr(q, f.name)}
        with transaction(db):
            audit.record(db, user.name, "query", audit.QUERY, objects=[node.name],
                         detail=f"{_via(node)} studies on {node}: {asked or 'all'}: {len(rows)} studies")
        return rows
    finally:
        db.close()


def query_series(home, user, node_name: str, study_uid: str,
                 cancel: Optional[CancelToken] = None) -> list[dict]:
    """C-FIND at series level within one study (a study expanded in the window)."""
    db, node = _open_node(home, user, node_name, "query DICOM nodes")
    try:
        ds = Dataset()
        ds.QueryRetrieveLevel = "SERIES"
        ds.StudyInstanceUID = study_uid
        for keyword in ("SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription",
                        "NumberOfSeriesRelatedInstances", "BodyPartExamined", "SeriesDate"):
            setattr(ds, keyword, "")
        found = _found(home, node, ("studies", study_uid, "series"), ds, cancel)
        rows = [{"series_instance_uid": _text(r, "SeriesInstanceUID"), "modality": _text(r, "Modality"),
                 "number": _int(r, "SeriesNumber"), "description": _text(r, "SeriesDescription"),
                 "instance_count": _int(r, "NumberOfSeriesRelatedInstances"),
                 "body_part": _text(r, "BodyPartExamined"), "series_date": _text(r, "SeriesDate")}
                for r in found]
        rows.sort(key=lambda r: (r["number"] is None, r["number"] or 0, r["series_instance_uid"]))
        with transaction(db):
            audit.record(db, user.name, "query", audit.QUERY, objects=[node.name, study_uid],
                         detail=f"{_via(node)} series of {study_uid} on {node}: {len(rows)} series")
        return rows
    finally:
        db.close()


def instances_in_study(assoc: Association, study_uid: str,
                       cancel: Optional[CancelToken] = None) -> list[tuple[str, str, str]]:
    """(series UID, SOP Instance UID, SOP Class UID) of every instance of a
    study on the node (C-FIND at IMAGE level)."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "IMAGE"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = ""
    ds.SOPInstanceUID = ""
    ds.SOPClassUID = ""
    return [(_text(r, "SeriesInstanceUID"), _text(r, "SOPInstanceUID"), _text(r, "SOPClassUID"))
            for r in find(assoc, STUDY_ROOT_FIND, ds, cancel) if _text(r, "SOPInstanceUID")]
