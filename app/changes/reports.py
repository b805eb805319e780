"""The Synapse rule in a reallocation (shared/CLI.md, issue #15 item 6):
what happens to the measurements drawn on the images that move.

A study holding at least one measurement report is an Advanced Reporting
study. The measurement groups on moved images leave the source's reports
(each report rebuilt without them, its Image Library and evidence narrowed
to what stays, or removed when nothing stays; app.measurements.follow).
Into an Advanced Reporting destination they move: one new report, written
with app.measurements.sr in the destination's StudyDesk measurement series
(a new one when it has none), holds them, referring to the moved images
by their UIDs after the move (IOCM's new ones too). Into any other
destination they are removed; the journal keeps the old report (its row
and its file) so an undo brings them back.

Planned once (:func:`survey`, in the reallocation's read), applied by
:func:`follow` on the journal plan: the new and rebuilt reports are written
to a staging folder (synced) and *moved* into the store by the change's own
commit, as IOCM's renewed files are (app.changes.iocm), so a kill leaves
either the old reports or the new ones; the removed reports' files go to
the trash, their rows out of the cache, and back on undo.
"""

from __future__ import annotations

import copy
import hashlib
import io
import warnings
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Optional

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from app import store
from app.changes import iocm
from app.changes.journal import FileOp, Plan, snapshot
from app.changes.plans import rewritten_path, rows_in
from app.changes.rewrite import remap
from app.clock import now_iso
from app.errors import RuleRefused
from app.home import Home
from app.measurements import follow, index
from app.measurements.codes import REPORT_CLASSES
from app.measurements.record import report_series
from app.measurements.sr_read import is_measurement_report


@dataclass
class SourceReport:
    """A report of a source study drawn on images that may move."""

    row: dict                        # its instance row
    study: str                       # the source study
    values: dict[str, int]           # series that may move -> values drawn on its images


@dataclass
class Survey:
    """The measurements a reallocation touches, as planned."""

    destination_ar: bool = False
    reports: list[SourceReport] = field(default_factory=list)
    series_rows: dict[str, dict] = field(default_factory=dict)       # the reports' series
    series_members: dict[str, list[str]] = field(default_factory=dict)

    def count(self, moving: list[str]) -> int:
        """Values drawn on images of *moving* (what `measurements` lists)."""
        return sum(n for r in self.reports for uid, n in r.values.items() if uid in moving)


def read_report(home: Home, path: str) -> Optional[Dataset]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(store.absolute(home, path))
    except Exception:  # noqa: BLE001 - an unreadable file is no report to anyone
        return None
    return ds if is_measurement_report(ds) else None


def report_rows(db, studies: list[str]) -> list[dict]:
    """The instance rows of every candidate report (SR classes that can hold
    TID 1500) of *studies*: what the plan's fingerprint covers."""
    if not studies:
        return []
    return snapshot(db, "instances", "sop_class_uid IN ({}) AND series_instance_uid IN (SELECT"
                    " series_instance_uid FROM series WHERE study_instance_uid IN ({}))".format(
                        ",".join("?" * len(REPORT_CLASSES)), ",".join("?" * len(studies))),
                    [*REPORT_CLASSES, *studies])


def survey(home: Home, db, sources: list[str], destination: str,
           instances: dict[str, list[dict]], may_move: list[str]) -> Survey:
    """Read the sources' reports once: which hold measurements on images of
    *may_move* (series -> rows in *instances*), and how many."""
    out = Survey(destination_ar=index.is_advanced_reporting(db, destination))
    series_of = {row["sop_instance_uid"]: uid for uid in may_move for row in instances.get(uid, [])}
    for study in sources:
        for row in report_rows(db, [study]):
            ds = read_report(home, row["path"])
            if ds is None:
                continue
            if row["series_instance_uid"] in may_move:  # it moves as it is: its images must too
                _check_moves_whole(ds, row, study, series_of)
                continue
            values: dict[str, int] = {}
            for group in follow.groups_of(ds):
                touched = {series_of[sop] for sop in group.images if sop in series_of}
                for uid in touched:
                    values[uid] = values.get(uid, 0) + group.values
            if values:
                out.reports.append(SourceReport(row, study, values))
    series = sorted({r.row["series_instance_uid"] for r in out.reports})
    out.series_rows = {row["series_instance_uid"]: row for row in rows_in(
        db, "series", "series_instance_uid", series)}
    for uid in series:
        out.series_members[uid] = [s for (s,) in db.execute(
            "SELECT sop_instance_uid FROM instances WHERE series_instance_uid = ?", [uid])]
    return out


def _check_moves_whole(ds: Dataset, row: dict, study: str, moving: dict[str, str]) -> None:
    """A report series moved by itself would refer to images left behind."""
    outside = {sop for g in follow.groups_of(ds) for sop in g.images} - set(moving)
    if outside:
        raise RuleRefused(
            f"series {row['series_instance_uid']} holds measurement report {row['sop_instance_uid']} "
            f"drawn on {len(outside)} image(s) that stay in study {study}: a measurement follows its "
            "image, never the other way. Reallocate the images' series instead (its measurements "
            "follow it), or both together")


@dataclass
class Followed:
    """What :func:`follow` did to the plan."""

    moved: int = 0
    removed: int = 0
    report_uids: list[str] = field(default_factory=list)  # the destination's new reports
    rewritten: list[str] = field(default_factory=list)   # source reports rebuilt
    dropped: list[str] = field(default_factory=list)     # source reports removed
    removed_series: list[str] = field(default_factory=list)
    # IOCM: (study, old row) of the source reports left or rebuilt, for the
    # rejection note; (new SOP Instance UID, study) of those rebuilt
    superseded: list[tuple[str, dict]] = field(default_factory=list)
    renewed: list[tuple[str, str]] = field(default_factory=list)
    staged: list = field(default_factory=list)
    folder: str = ""

    def describe(self, destination_ar: bool) -> str:
        if not (self.moved or self.removed):
            return ""
        parts = []
        if self.moved:
            parts.append(f"{self.moved} measurements moved into report "
                         f"{', '.join(self.report_uids)} of the destination (an Advanced "
                         "Reporting study)")
        if self.removed:
            why = "" if destination_ar else ": the destination is not an Advanced Reporting study"
            parts.append(f"{self.removed} measurements removed from the source's reports{why}"
                         " (kept in the journal; undo brings them back)")
        if self.dropped:
            parts.append(f"source report {', '.join(self.dropped)} left empty and removed")
        return "measurements: " + "; ".join(parts)

    def discard(self) -> None:
        for path in self.staged:
            path.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        iocm.release_folder(self.folder)


def follow_plan(home: Home, db, plan: Plan, survey_: Survey, moving: list[str],
                instances: dict[str, list[dict]], destination: str, attrs: dict[str, str],
                uid_map: dict[str, str], user: str, renew: bool = False) -> Followed:
    """Add to *plan* what the rule does to the reports (see the module
    docstring); *uid_map*: IOCM's renewed UIDs (empty without IOCM).
    *renew* (IOCM): a source report rebuilt without the moved measurements
    is a new object with a new SOP Instance UID, and the old versions are
    listed in ``superseded`` for the rejection note (app.changes.iocm.reject)."""
    result = Followed()
    moving_rows = [row for uid in moving for row in instances.get(uid, [])]
    moving_sops = {row["sop_instance_uid"] for row in moving_rows}
    touched = [r for r in survey_.reports if any(uid in moving for uid in r.values)]
    if not touched:
        return result
    relative = iocm.staging_folder(home)
    result.folder = relative.split("/")[1]
    try:
        by_observer = _leave_sources(home, plan, touched, moving_sops, survey_, relative, result,
                                     renew)
        if survey_.destination_ar and by_observer:
            series_of = {uid_map.get(r["sop_instance_uid"], r["sop_instance_uid"]):
                         uid_map.get(r["series_instance_uid"], r["series_instance_uid"])
                         for r in moving_rows}
            series = report_series(db, destination)
            # one report a person: the observer context of TID 1500 holds for its whole tree
            for n, (observer, (groups, library)) in enumerate(by_observer.items()):
                _into_destination(home, db, plan, groups, library, observer or user, series_of,
                                  destination, attrs, uid_map, relative, result,
                                  replace(series, instance_number=series.instance_number + n))
    except BaseException:
        result.discard()
        raise
    return result


def _leave_sources(home: Home, plan: Plan, touched: list[SourceReport], moving_sops: set[str],
                   survey_: Survey, relative: str, result: Followed, renew: bool):
    """Take the moved measurements out of the source reports; returns those
    moving into the destination by their observer: {observer: (groups,
    Image Library entries)}."""
    by_observer: dict[str, tuple[list[Dataset], list[Dataset]]] = {}
    gone: dict[str, set[str]] = {}
    for report in touched:
        row = report.row
        ds = read_report(home, row["path"])
        if ds is None:  # its row is as planned (the fingerprint), its file is not
            raise RuleRefused(f"measurement report {row['sop_instance_uid']}: its file can no longer "
                              "be read. Nothing was changed")
        parts = follow.split(ds, moving_sops)
        if not parts.touched:
            continue
        sop = row["sop_instance_uid"]
        plan.before.setdefault("instances", []).append(row)
        plan.objects += [("instance", sop), ("series", row["series_instance_uid"])]
        if renew:
            result.superseded.append((report.study, row))
        if parts.stay:
            rebuilt = follow.without(ds, parts.stay)
            new = dict(row, path=rewritten_path(row, report.study), linked=0)
            if renew:  # a new object: the archive keeps the old one until the note rejects it
                new["sop_instance_uid"] = generate_uid(prefix=None)
                rebuilt.SOPInstanceUID = new["sop_instance_uid"]
                rebuilt.file_meta.MediaStorageSOPInstanceUID = new["sop_instance_uid"]
                new["path"] = store.relative_path(report.study, row["series_instance_uid"],
                                                  new["sop_instance_uid"]).as_posix()
                plan.objects.append(("instance", new["sop_instance_uid"]))
                result.renewed.append((new["sop_instance_uid"], report.study))
            name = f"r{len(result.staged)}.dcm"
            new["size"], new["sha256"] = _stage(home, rebuilt, relative, name, result)
            plan.files.append(FileOp("move", new["sop_instance_uid"], f"{relative}/{name}",
                                     new["path"]))
            plan.after.setdefault("instances", []).append(new)
            result.rewritten.append(sop)
        else:
            if not row["linked"]:
                trash = PurePosixPath("trash", "measurements", store.safe_uid(row["series_instance_uid"]),
                                      PurePosixPath(row["path"]).name)
                plan.files.append(FileOp("move", sop, row["path"], str(trash)))
            gone.setdefault(row["series_instance_uid"], set()).add(sop)
            result.dropped.append(sop)
        moved = survey_.destination_ar
        result.moved += parts.values("move") if moved else 0
        result.removed += parts.values("broken") + (0 if moved else parts.values("move"))
        if moved and parts.move:
            groups, library = by_observer.setdefault(follow.observer_of(ds), ([], []))
            groups += [g.item for g in parts.move]
            images = set().union(*(g.images for g in parts.move))
            library += follow.library_entries(ds, images)
    for series_uid, sops in gone.items():
        if set(survey_.series_members[series_uid]) <= sops:
            plan.before.setdefault("series", []).append(survey_.series_rows[series_uid])
            result.removed_series.append(series_uid)
    return by_observer


def _into_destination(home: Home, db, plan: Plan, groups: list[Dataset], library: list[Dataset],
                      observer: str, series_of: dict[str, str], destination: str,
                      attrs: dict[str, str], uid_map: dict[str, str], relative: str,
                      result: Followed, series) -> None:
    if uid_map:
        groups = [_remapped(g, uid_map) for g in groups]
        library = [_remapped(e, uid_map) for e in library]
    ds = follow.new_report(attrs, groups, library, series, observer, series_of)
    sop = str(ds.SOPInstanceUID)
    name = f"d{len(result.staged)}.dcm"
    size, sha = _stage(home, ds, relative, name, result)
    final = store.relative_path(destination, series.uid, sop).as_posix()
    plan.files.append(FileOp("move", sop, f"{relative}/{name}", final))
    if not db.execute("SELECT 1 FROM series WHERE series_instance_uid = ?", [series.uid]).fetchone() \
            and not any(r["series_instance_uid"] == series.uid for r in plan.after.get("series", [])):
        plan.after.setdefault("series", []).append({
            "series_instance_uid": series.uid, "study_instance_uid": destination, "modality": "SR",
            "series_number": series.number, "series_description": str(ds.SeriesDescription),
            "body_part_examined": "", "frame_of_reference_uid": "", "series_date": str(ds.SeriesDate),
            "instance_count": 0})
    plan.after.setdefault("instances", []).append({
        "sop_instance_uid": sop, "series_instance_uid": series.uid,
        "sop_class_uid": str(ds.SOPClassUID), "transfer_syntax_uid": ExplicitVRLittleEndian,
        "instance_number": series.instance_number, "rows": None, "columns": None,
        "number_of_frames": None, "size": size, "path": final, "linked": 0, "sha256": sha,
        "imported_at": now_iso()})
    plan.objects += [("series", series.uid), ("instance", sop)]
    result.report_uids.append(sop)


def _remapped(item: Dataset, uid_map: dict[str, str]) -> Dataset:
    out = copy.deepcopy(item)
    remap(out, uid_map)
    return out


def _stage(home: Home, ds: Dataset, relative: str, name: str, result: Followed) -> tuple[int, str]:
    """Write a report into the staging folder, synced: (size, SHA-256)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    path = home.root / relative / name
    result.staged.append(path)
    path.write_bytes(data)
    store.sync_file(path)
    return len(data), hashlib.sha256(data).hexdigest()
