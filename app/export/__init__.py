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

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import pydicom

from app.accounts import audit
from app.accounts.accounts import User
from app.db import transaction
from app.deid import Deidentifier, Needle, Profile, pipeline
from app.deid.pipeline import REPORT_HTML, REPORT_JSON, ResidualIdentifiers  # noqa: F401
from app.dicom.records import record_fields
from app.errors import BadInput, StudyDeskError
from app.export import dicomdir as dicomdir_module
from app.export import plan
from app.export.names import Namer
from app.export.target import ZipTarget
from app.home import Home
from app.jobs import CancelToken, Progress, Throttled, no_progress



ExportIncomplete = pipeline.Incomplete  # instances in != instances out: the ZIP was not kept


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
        try:
            target = ZipTarget(destination, fixed_times=anonymize)
        except OSError as e:
            raise BadInput(f"--zip {destination}: cannot write there "
                           f"({e.strerror or type(e).__name__})") from None
        try:
            if profile is not None:
                result = _anonymised(items, target, profile, secret, dicomdir, override_reason,
                                     progress, cancel, workers)
            else:
                result = _plain(items, target, dicomdir, progress, cancel)
            result.studies = uids
            result.size = target.commit().stat().st_size
            result.zip = str(destination)
        except OSError as e:  # the disk filled, the folder went away...
            raise StudyDeskError(f"--zip {destination}: writing failed "
                                 f"({e.strerror or type(e).__name__}); nothing was kept") from None
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
                entries.append((name, record_fields(header)))
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

    def write(item: plan.Item, data: bytes, outcome: dict) -> str:
        name = namer.name(outcome["patient"], outcome["patient"], item.study_instance_uid,
                          outcome["study_date"] or "STUDY", item.series_instance_uid,
                          outcome["series"])
        target.add_bytes(name, data)
        if dicomdir:
            entries.append((name, outcome["fields"]))
        return name

    run = pipeline.run(items, deid, write, want=("fields",) if dicomdir else (),
                       progress=progress, cancel=cancel, workers=workers)
    if dicomdir:
        data = dicomdir_module.build(entries, deid.keys.uid("DICOMDIR:" + items[0].path))
        run.scan_extra("DICOMDIR", data)
        target.add_bytes("DICOMDIR", data)
    for name in target.members:
        run.check_name(name)
    report = run.verdict(override_reason, studies=len({i.study_instance_uid for i in items}))
    for name, data in pipeline.report_files(report).items():
        target.add_bytes(name, data)
    return ExportResult("", [], len(items), run.written, True, profile.names, dicomdir, report=report)


__all__ = ["ExportIncomplete", "ExportResult", "ResidualIdentifiers", "export_zip", "Needle"]
