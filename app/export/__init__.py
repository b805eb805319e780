"""ZIP export of studies, plain or de-identified (``studydesk export``).

``export_zip`` is a job (progress, cancel). Files stream into a ZIP written
under a temporary name beside the destination: members PATIENT/STUDY/SERIES/
with safe names, an optional DICOMDIR, and, when anonymised, the
verification report (JSON and HTML). The ZIP is renamed into place only when
every instance is in it (instances in = instances out) and, when anonymised,
the residual-identifier scan found nothing or the user gave a reason to
export anyway; otherwise the partial file is removed and the job fails.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional

import pydicom

from app import audit, parallel
from app.accounts import User
from app.db import transaction
from app.deid import Deidentifier, Needle, Needles, Profile
from app.deid.engine import VOCABULARY
from app.deid.report_html import render_html
from app.errors import BadInput, RuleRefused, StudyDeskError
from app.export import dicomdir as dicomdir_module
from app.export import plan, worker
from app.export.names import Namer
from app.export.target import ZipTarget
from app.home import Home
from app.jobs import CancelToken, Progress, Throttled, no_progress

CHUNK = 16          # files per worker task
WINDOW_CHUNKS = 8   # chunks handed out per worker at a time (about 64 MB of CT per worker)
PARALLEL_MIN = 48   # fewer files than this are not worth starting processes
REPORT_JSON = "DEIDENTIFICATION_REPORT.json"
REPORT_HTML = "DEIDENTIFICATION_REPORT.html"


class ExportIncomplete(StudyDeskError):
    """Instances in != instances out: the ZIP was not kept."""


class ResidualIdentifiers(RuleRefused):
    """The residual scan found identifying values and no override was given."""

    def __init__(self, message: str, report: dict):
        hits = report["residual_scan"]["hits"]
        detail = "\n".join(f"  {h['file']}: a {h['kind']} (from {h['attribute']}) in the {h['where']}"
                           for h in hits[:20])
        super().__init__(message, detail)
        self.report = report


@dataclass
class ExportResult:
    zip: str
    studies: list[str]
    instances_in: int
    instances_out: int
    anonymized: bool
    options: list[str] = field(default_factory=list)
    dicomdir: bool = False
    size: int = 0
    report: Optional[dict] = None

    def to_json(self) -> dict:
        out = {"zip": self.zip, "studies": self.studies, "instances": self.instances_out,
               "instances_in": self.instances_in, "anonymized": self.anonymized,
               "options": self.options, "dicomdir": self.dicomdir, "size": self.size}
        if self.report is not None:
            scan = self.report["residual_scan"]
            out["residual_scan"] = {"passed": scan["passed"], "hits": len(scan["hits"]),
                                    "override_reason": scan.get("override_reason", "")}
            out["burned_in_risk"] = self.report["burned_in_risk"]["count"]
        return out


def export_zip(home: Home, user: User, study_uids: Iterable[str], destination, *,
               anonymize: bool = False, options: Iterable[str] = (), dicomdir: bool = False,
               override_reason: str = "", secret: Optional[bytes] = None,
               progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None,
               workers: Optional[int] = None) -> ExportResult:
    """Export *study_uids* (whole UIDs or prefixes) as a ZIP at *destination*."""
    user.require("export", "export studies")
    options = list(options)
    if options and not anonymize:
        raise BadInput("--option: options apply to an anonymised export (add --anonymize)")
    profile = Profile(options) if anonymize else None
    destination = Path(destination).expanduser().resolve()
    if destination.is_dir() or not destination.parent.is_dir():
        raise BadInput(f"--zip {destination}: not a file in an existing folder")
    progress = Throttled(progress or no_progress)
    cancel = cancel or CancelToken()
    db = home.connect()
    uids: list[str] = []
    outcome, detail = audit.SERIOUS_FAILURE, "failed"
    try:
        uids = plan.resolve(db, list(study_uids))
        if not uids:
            raise BadInput("export: no study given")
        items = plan.items(home, db, uids)
        if not items:
            raise BadInput("export: the studies hold no instances")
        target = ZipTarget(destination, fixed_times=anonymize)
        try:
            if profile is not None:
                result = _anonymised(items, target, profile, secret, dicomdir, override_reason,
                                     progress, cancel, workers)
            else:
                result = _plain(items, target, dicomdir, progress, cancel)
            result.studies = uids
            result.size = target.commit().stat().st_size
            result.zip = str(destination)
        finally:
            target.discard()
        outcome = audit.SUCCESS
        detail = _detail(destination, result, override_reason)
        return result
    except StudyDeskError as e:
        detail = f"ZIP {destination.name}: {e}"
        raise
    finally:
        try:
            with transaction(db):
                audit.record(db, user.name, "export", audit.EXPORT, outcome=outcome,
                             objects=uids, detail=detail)
        finally:
            db.close()


def _detail(destination: Path, result: ExportResult, override_reason: str) -> str:
    kind = "anonymised" if result.anonymized else "plain"
    text = f"ZIP {destination}: {result.instances_out} instances, {kind}"
    if result.options:
        text += " (" + ", ".join(result.options) + ")"
    if result.report and result.report["residual_scan"]["hits"]:
        text += f"; residual scan hits exported anyway, reason: {override_reason}"
    return text


def _check_count(items: list, written: int, errors: list[str]) -> None:
    if written != len(items):
        first = f"; first: {errors[0]}" if errors else ""
        raise ExportIncomplete(f"export: {written} of {len(items)} instances written, "
                               f"{len(items) - written} could not be read{first}",
                               "\n".join(errors[:20]))


# -- plain -----------------------------------------------------------------------------------


def _plain(items: list[plan.Item], target: ZipTarget, dicomdir: bool, progress, cancel) -> ExportResult:
    namer = Namer(dicomdir)
    entries: list[tuple[str, dict]] = []
    errors: list[str] = []
    written = 0
    for done, item in enumerate(items, start=1):
        cancel.check()
        name = namer.name(item.patient_id, item.patient_label, item.study_instance_uid,
                          item.study_label, item.series_instance_uid, item.series_label)
        try:
            if dicomdir:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    header = pydicom.dcmread(item.path, stop_before_pixels=True, force=True)
                entries.append((name, dicomdir_module.record_fields(header)))
            target.add_file(name, Path(item.path))
            written += 1
        except (OSError, ValueError, pydicom.errors.InvalidDicomError) as e:
            errors.append(f"{item.sop_instance_uid}: {type(e).__name__}: {e}")
        progress(done / len(items), f"Exporting {done} of {len(items)}")
    _check_count(items, written, errors)
    if dicomdir:
        target.add_bytes("DICOMDIR", dicomdir_module.build(entries, pydicom.uid.generate_uid()))
    return ExportResult("", [], len(items), written, False, [], dicomdir)


# -- anonymised ------------------------------------------------------------------------------


def _anonymised(items: list[plan.Item], target: ZipTarget, profile: Profile,
                secret: Optional[bytes], dicomdir: bool, override_reason: str, progress,
                cancel, workers: Optional[int]) -> ExportResult:
    deid = Deidentifier(profile, secret)
    namer = Namer(dicomdir)
    entries: list[tuple[str, dict]] = []
    errors: list[str] = []
    written = 0
    for chunk in _chunks_done(items, deid, dicomdir, cancel, workers):
        names: dict[str, str] = {}
        for outcome in chunk["files"]:
            item = items[outcome["index"]]
            if "error" in outcome:
                errors.append(f"{item.sop_instance_uid}: {outcome['error']}")
                continue
            name = namer.name(outcome["patient"], outcome["patient"], item.study_instance_uid,
                              outcome["study_date"] or "STUDY", item.series_instance_uid,
                              outcome["series"])
            target.add_bytes(name, outcome.pop("data"))
            names[str(item.index)] = name
            if dicomdir:
                entries.append((name, outcome["fields"]))
            written += 1
        deid.report.merge(_relabel(chunk["report"], names))
        done = min(len(items), (chunk["files"][-1]["index"] + 1) if chunk["files"] else 0)
        progress(done / len(items), f"Anonymising {done} of {len(items)}")
    _check_count(items, written, errors)
    needles = _all_needles(items)
    if dicomdir:
        data = dicomdir_module.build(entries, deid.keys.uid("DICOMDIR:" + items[0].path))
        deid.report.scanned("DICOMDIR", needles, needles.scan(data))
        target.add_bytes("DICOMDIR", data)
    for name in target.members:
        if needles.found_in(name.replace("/", " ")):
            deid.report.hits.append({"file": name, "attribute": "member name", "kind": "name",
                                     "offset": 0, "where": "member name"})
    report = deid.report.to_json(counts={"instances_in": len(items),
                                         "studies": len({i.study_instance_uid for i in items})})
    if report["residual_scan"]["hits"]:
        if not override_reason.strip():
            raise ResidualIdentifiers(
                f"export: the residual-identifier scan found {len(report['residual_scan']['hits'])}"
                " identifying value(s) in the output; nothing was kept (give a reason to export"
                " anyway)", report)
        report["residual_scan"]["override_reason"] = override_reason.strip()
    target.add_bytes(REPORT_JSON, json.dumps(report, indent=2).encode("utf-8"))
    target.add_bytes(REPORT_HTML, render_html(report).encode("utf-8"))
    return ExportResult("", [], len(items), written, True, profile.names, dicomdir, report=report)


def _chunks_done(items: list[plan.Item], deid: Deidentifier, dicomdir: bool, cancel,
                 workers: Optional[int]) -> Iterator[dict]:
    """Chunk results in order, from worker processes, a bounded window at a time."""
    chunks = [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]
    count = 1 if len(items) < PARALLEL_MIN else (workers or parallel.worker_count())
    yield from parallel.map_chunks(worker.process_chunk, chunks, cancel, count, worker.init,
                                   (deid.state(), dicomdir), ahead=WINDOW_CHUNKS * count)


def _relabel(state: dict, names: dict[str, str]) -> dict:
    for key in ("hits", "burned_in"):
        state[key] = [{**entry, "file": names.get(entry["file"], entry["file"])}
                      for entry in state.get(key, [])]
    return state


def _all_needles(items: list[plan.Item]) -> Needles:
    found = []
    for item in {i.study_instance_uid: i for i in items}.values():
        found.extend(worker.extra_needles(item))
    return Needles(found, vocabulary=VOCABULARY)


__all__ = ["ExportIncomplete", "ExportResult", "ResidualIdentifiers", "export_zip", "Needle"]
