"""IOCM mode (IHE Imaging Object Change Management) for a reallocation.

With the setting ``iocm`` on, corrected instances are new objects: each moved
series gets a new Series Instance UID and each instance a new SOP Instance
UID. One UID map (old -> new: series, instances, and the source study ->
the destination study) is applied to every UI element of every moved file,
nested sequences and the file meta MediaStorageSOPInstanceUID included, so
references between the moved objects (RTSTRUCT -> CT, RTPLAN -> RTSTRUCT,
RTDOSE -> RTPLAN, SEG -> images) still hold. A Key Object Selection
rejection note (document title 113038 "Incorrect Modality Worklist Entry",
or 113037 "Rejected for Patient Safety Reasons") in the source study lists
the old instances. The corrected instances and the note are queued in the
outbox for the node the study came from.

How it rides on the journal: :func:`renew` turns a reallocation plan into an
IOCM plan. The new files are written (by app.changes.rewrite, the one file
rewriter, with the UID map) to ``staging/p<pid>-<token>/`` first;
the plan then *moves* them into place, so the change commits, recovers after
a crash and undoes like any other (an undo moves them back to staging, where
:func:`sweep_staging` removes them once nothing can need them). The old files
are never touched, and the old rows come back on undo. The measurements
drawn on the renewed images follow them by the same UID map
(app.changes.reports).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Optional

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from app import parallel, store
from app.net.outbox import queue as outbox
from app.changes.journal import PARALLEL_MIN, FileOp, Plan
from app.changes.rewrite import rewrite_chunk
from app.dicom.meta import file_meta_dataset
from app.home import Home
from app.jobs import CancelToken, Progress, no_progress

STAGING = "staging"
KOS_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.88.59"
REJECTION_TITLES = {
    "113038": "Incorrect Modality Worklist Entry",
    "113037": "Rejected for Patient Safety Reasons",
}
DEFAULT_TITLE = "113038"
CHUNK = 16
_ACTIVE: set[str] = set()   # staging folders this process is filling or applying now


@dataclass
class Renewal:
    """What :func:`renew` did to a plan (for the user and the tests)."""

    uid_map: dict[str, str] = field(default_factory=dict)   # old -> new
    renewed: list[str] = field(default_factory=list)        # old SOP Instance UIDs
    notes: list[tuple[str, str, str]] = field(default_factory=list)  # (SOP UID, study, path)
    node: Optional[str] = None
    queued: int = 0
    staged: list[Path] = field(default_factory=list)        # to discard if the change fails
    folder: str = ""                                         # its staging folder's name
    rejected: dict[str, list[dict]] = field(default_factory=dict)  # source study -> old rows

    def describe(self) -> str:
        where = f"queued for {self.node}" if self.node else \
            "held in the outbox (the study came from no node)"
        return (f"IOCM: {len(self.renewed)} instances renewed (new Series and SOP Instance UIDs), "
                f"{len(self.notes)} rejection note(s); {self.queued} objects {where}")

    def discard(self) -> None:
        for path in self.staged:
            path.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        """The change is applied (or failed): its staging folder may be swept."""
        release_folder(self.folder)


def release_folder(name: str) -> None:
    """A staging folder no change in progress needs any more (it may be swept)."""
    _ACTIVE.discard(name)


# -- the rejection note --------------------------------------------------------------------


def _code(value: str, meaning: str, scheme: str = "DCM") -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def rejection_note(patient: dict, study: dict, instances: list[dict], title: str,
                   reason: str = "") -> Dataset:
    """A Key Object Selection Document (TID 2010) in *study* listing *instances*
    (rows with sop_instance_uid, series_instance_uid, sop_class_uid, rows)."""
    now = datetime.now()
    sop_uid = generate_uid(prefix=None)
    ds = Dataset()
    ds.file_meta = file_meta_dataset(KOS_SOP_CLASS, sop_uid, ExplicitVRLittleEndian)
    texts = [patient["patient_name"], study["study_description"], reason]
    if not all(t.isascii() for t in texts if t):
        ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID, ds.SOPInstanceUID = KOS_SOP_CLASS, sop_uid
    ds.InstanceCreationDate, ds.InstanceCreationTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.PatientName = patient["patient_name"]
    ds.PatientID = patient["patient_id"]
    if patient.get("issuer_of_patient_id"):
        ds.IssuerOfPatientID = patient["issuer_of_patient_id"]
    ds.PatientBirthDate = patient["patient_birth_date"]
    ds.PatientSex = patient["patient_sex"]
    ds.StudyInstanceUID = study["study_instance_uid"]
    ds.StudyDate, ds.StudyTime = study["study_date"], study["study_time"]
    ds.ReferringPhysicianName = study["referring_physician_name"]
    ds.StudyID = study["study_id"]
    ds.AccessionNumber = study["accession_number"]
    ds.Modality = "KO"
    ds.SeriesInstanceUID = generate_uid(prefix=None)
    ds.SeriesNumber = 999
    ds.SeriesDescription = "Rejection note"
    ds.ReferencedPerformedProcedureStepSequence = []
    ds.Manufacturer = "StudyDesk"
    ds.InstanceNumber = 1
    ds.ContentDate, ds.ContentTime = ds.InstanceCreationDate, ds.InstanceCreationTime
    by_series: dict[str, list[dict]] = {}
    for row in instances:
        by_series.setdefault(row["series_instance_uid"], []).append(row)
    evidence = Dataset()
    evidence.StudyInstanceUID = study["study_instance_uid"]
    evidence.ReferencedSeriesSequence = []
    for series_uid, rows in by_series.items():
        item = Dataset()
        item.SeriesInstanceUID = series_uid
        item.ReferencedSOPSequence = [_sop_ref(r) for r in rows]
        evidence.ReferencedSeriesSequence.append(item)
    ds.CurrentRequestedProcedureEvidenceSequence = [evidence]
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = [_code(title, REJECTION_TITLES[title])]
    ds.ContinuityOfContent = "SEPARATE"
    template = Dataset()
    template.MappingResource, template.TemplateIdentifier = "DCMR", "2010"
    ds.ContentTemplateSequence = [template]
    content = []
    if reason:
        text = Dataset()
        text.RelationshipType, text.ValueType = "CONTAINS", "TEXT"
        text.ConceptNameCodeSequence = [_code("113012", "Key Object Description")]
        text.TextValue = reason[:1024]
        content.append(text)
    for row in instances:
        item = Dataset()
        item.RelationshipType = "CONTAINS"
        item.ValueType = "IMAGE" if row.get("rows") else "COMPOSITE"
        item.ReferencedSOPSequence = [_sop_ref(row)]
        content.append(item)
    ds.ContentSequence = content
    return ds


def _sop_ref(row: dict) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = row["sop_class_uid"]
    item.ReferencedSOPInstanceUID = row["sop_instance_uid"]
    return item


# -- turning a reallocation plan into an IOCM plan -------------------------------------------


def staging_folder(home: Home) -> str:
    """A new folder under staging/ named after this process, marked in use
    until :func:`release_folder`; its relative path (app.changes.reports
    stages its reports the same way)."""
    name = f"p{os.getpid()}-{uuid.uuid4().hex[:8]}"
    _ACTIVE.add(name)
    (home.root / STAGING / name).mkdir(parents=True, exist_ok=True)
    return f"{STAGING}/{name}"


def renew(home: Home, plan: Plan, destination: str, title: str = DEFAULT_TITLE,
          progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None) -> Renewal:
    """Rewrite *plan* (a reallocation to *destination*) in place for IOCM;
    write the new files to staging (through app.changes.rewrite, the UID map
    applied) and queue them. The measurement reports on the renewed images
    follow them afterwards (app.changes.reports, with the UID map), and
    :func:`reject` then adds the rejection notes. *title*: the notes' title,
    checked here, before any work. The caller sweeps staging first, applies
    the plan, and calls ``discard()`` on the result if that fails."""
    if title not in REJECTION_TITLES:
        raise ValueError(f"rejection note title {title}: one of {', '.join(REJECTION_TITLES)}")
    progress = progress or no_progress
    cancel = cancel or CancelToken()
    ops = [op for op in plan.files if op.kind == "rewrite"]
    moved_series = plan.after["series"]
    old_instances = {r["sop_instance_uid"]: r for r in plan.before["instances"]}
    new_rows = {r["sop_instance_uid"]: r for r in plan.after["instances"]}
    sources = {s["study_instance_uid"] for s in plan.before["series"]
               if s["series_instance_uid"] in {m["series_instance_uid"] for m in moved_series}}
    result = Renewal()
    uid_map = result.uid_map
    for row in moved_series:
        uid_map[row["series_instance_uid"]] = generate_uid(prefix=None)
    for op in ops:
        uid_map[op.sop] = generate_uid(prefix=None)
    result.renewed = [op.sop for op in ops]
    for uid in sources:
        uid_map[uid] = destination
    relative = staging_folder(home)
    result.folder = relative.split("/")[1]
    tasks, files, instances = [], [], []
    for n, op in enumerate(ops):
        row = dict(new_rows[op.sop])
        row["sop_instance_uid"] = uid_map[op.sop]
        row["series_instance_uid"] = uid_map[row["series_instance_uid"]]
        row["path"] = store.relative_path(destination, row["series_instance_uid"],
                                          row["sop_instance_uid"]).as_posix()
        row["linked"] = 0
        staged = f"{relative}/{n}.dcm"
        result.staged.append(home.root / staged)
        tasks.append((str(store.absolute(home, op.old)), str(home.root / staged), op.attrs, uid_map))
        files.append(FileOp("move", row["sop_instance_uid"], staged, row["path"]))
        instances.append(row)
    try:
        workers = parallel.worker_count() if len(tasks) >= PARALLEL_MIN else 1
        chunks = [tasks[i:i + CHUNK] for i in range(0, len(tasks), CHUNK)]
        done = 0
        for results in parallel.map_chunks(rewrite_chunk, chunks, cancel, workers):
            for size, sha in results:
                instances[done]["size"], instances[done]["sha256"] = size, sha
                done += 1
            progress(0.8 * done / max(1, len(tasks)), f"Renewing {done} of {len(tasks)}")
    except BaseException:
        result.discard()
        raise
    series_study = {s["series_instance_uid"]: s["study_instance_uid"] for s in plan.before["series"]}
    for sop in result.renewed:
        row = old_instances[sop]
        result.rejected.setdefault(series_study[row["series_instance_uid"]], []).append(row)
    plan.after["series"] = [dict(s, series_instance_uid=uid_map[s["series_instance_uid"]])
                            for s in moved_series]
    plan.after["instances"] = instances
    plan.files = [op for op in plan.files if op.kind != "rewrite"] + files
    result.node = _node_of(plan, sorted(sources) + [destination])
    queue = [outbox.entry(outbox.STORE, result.node, destination, sop=row["sop_instance_uid"],
                          reason="IOCM: corrected instance") for row in instances]
    plan.after["outbox"] = plan.after.get("outbox", []) + queue
    result.queued = len(queue)
    plan.objects += [("series", uid_map[s["series_instance_uid"]]) for s in moved_series]
    plan.objects += [("instance", row["sop_instance_uid"]) for row in instances]
    return result


def reject(home: Home, plan: Plan, result: Renewal, patients: dict[int, dict],
           title: str = DEFAULT_TITLE, superseded: Optional[list[tuple[str, dict]]] = None,
           renewed: Optional[list[tuple[str, str]]] = None) -> None:
    """Finish an IOCM plan once the measurements have followed the renewed
    images (app.changes.reports): one rejection note per source study, listing
    the renewed images' old instances and `superseded` ((study, row) of the
    reports the measurements left: removed, or rebuilt under a new UID), staged
    and moved to the outbox folder; the notes and the `renewed` ((SOP Instance
    UID, study) of the rebuilt reports) queued for the node, so the archive
    drops the old versions and gets the new ones."""
    if title not in REJECTION_TITLES:
        raise ValueError(f"rejection note title {title}: one of {', '.join(REJECTION_TITLES)}")
    for study_uid, row in superseded or []:
        result.rejected.setdefault(study_uid, []).append(row)
    relative = f"{STAGING}/{result.folder}"
    studies = {s["study_instance_uid"]: s for s in plan.before["studies"]}
    queue = []
    for study_uid in sorted(result.rejected):
        study = studies[study_uid]
        note = rejection_note(patients[study["patient_pk"]], study, result.rejected[study_uid],
                              title, plan.reason)
        staged = f"{relative}/note-{len(result.notes)}.dcm"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            note.save_as(home.root / staged, enforce_file_format=True)
        store.sync_file(home.root / staged)
        result.staged.append(home.root / staged)
        final = f"{outbox.FOLDER}/{store.safe_uid(str(note.SOPInstanceUID))}.dcm"
        plan.files.append(FileOp("move", str(note.SOPInstanceUID), staged, final))
        result.notes.append((str(note.SOPInstanceUID), study_uid, final))
        queue.append(outbox.entry(outbox.STORE, result.node, study_uid, sop=str(note.SOPInstanceUID),
                                  path=final, reason="IOCM: rejection note"))
    queue += [outbox.entry(outbox.STORE, result.node, study_uid, sop=sop,
                           reason="IOCM: measurement report rebuilt without the moved images")
              for sop, study_uid in renewed or []]
    plan.after["outbox"] = plan.after.get("outbox", []) + queue
    result.queued += len(queue)
    plan.summary += "; " + result.describe()


def _node_of(plan: Plan, study_uids: list[str]) -> Optional[str]:
    """The node the study came from (the first source that has one)."""
    nodes = {s["study_instance_uid"]: s["source_node"] for s in plan.before["studies"]}
    return next((nodes[uid] for uid in study_uids if nodes.get(uid)), None)


def sweep_staging(home: Home, db) -> int:
    """Remove what undone or failed IOCM changes left in staging: the folders
    of processes that are gone, and this process's own that no change in
    progress uses, unless a pending change still names their files (recovery
    rolls it back first). Folders of other live processes may be in use and
    stay."""
    root = home.root / STAGING
    if not root.exists():
        return 0
    pending = set()
    for (plan,) in db.execute("SELECT plan FROM changes WHERE state = 'pending'"):
        for op in json.loads(plan).get("files", []):
            pending.update(PurePosixPath(op[k]).parts[1] for k in ("old", "new")
                           if op[k].startswith(STAGING + "/") and len(PurePosixPath(op[k]).parts) > 2)
    removed = 0
    for folder in root.iterdir():
        pid = folder.name[1:].split("-")[0]
        if folder.name in pending or folder.name in _ACTIVE or not pid.isdigit():
            continue
        if int(pid) != os.getpid() and parallel.process_alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed
