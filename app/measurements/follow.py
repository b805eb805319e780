"""Measurements that follow their images out of a study (the Synapse rule,
shared/CLI.md): a report split in two, as data sets; no files, no rows.

A reallocated series' measurement groups leave the source's report: the
report is rebuilt without them (:func:`without`), its derived parts
recomputed from the groups that stay: the Image Library lists only the
images they are drawn on, the evidence sequences only those images. The
groups that leave either go into a new report in the destination
(:func:`new_report`, written with :func:`app.measurements.sr.build_report`)
or nowhere (the journal keeps the old report for undo).

A group belongs to a series when every image it names is an image of that
series; a group on images of several series of which only some move (not
something StudyDesk draws) can stay on neither side and is counted removed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Optional

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as Seq

from app.measurements import codes
from app.measurements.sr import ReportSeries, build_report

EVIDENCE = ("PertinentOtherEvidenceSequence", "CurrentRequestedProcedureEvidenceSequence")


@dataclass
class Group:
    """One Measurement Group of a report: its content item, the images it is
    drawn on (SOP Instance UIDs) and its values (as `measurements` lists them)."""

    item: Dataset
    images: set[str] = field(default_factory=set)
    values: int = 0


def groups_of(ds: Dataset) -> list[Group]:
    """The report's Measurement Groups, in document order."""
    out = []
    for container in _children(ds, codes.IMAGING_MEASUREMENTS):
        for item in _children(container, codes.MEASUREMENT_GROUP):
            out.append(Group(item, set(image_refs(item)), _values(item)))
    return out


def _children(item: Dataset, code: codes.Code) -> list[Dataset]:
    return [child for child in item.get("ContentSequence") or [] if codes.is_(child, code)]


def _values(group: Dataset) -> int:
    """NUM items with a value: what app.measurements.sr_read lists."""
    count = 0
    for child in group.get("ContentSequence") or []:
        measured = (child.get("MeasuredValueSequence") or [None])[0] \
            if child.get("ValueType") == "NUM" else None
        if measured is not None and "NumericValue" in measured:
            count += 1
    return count


def image_refs(item: Dataset) -> dict[str, str]:
    """Every image an item names, at any depth: {SOP Instance UID: SOP Class UID}."""
    found: dict[str, str] = {}
    if item.get("ValueType") in ("IMAGE", "COMPOSITE"):
        for ref in item.get("ReferencedSOPSequence") or []:
            found[str(ref.ReferencedSOPInstanceUID)] = str(ref.get("ReferencedSOPClassUID", ""))
    for child in item.get("ContentSequence") or []:
        found.update(image_refs(child))
    return found


@dataclass
class Split:
    """A report's groups as a move of *moving* images sorts them."""

    stay: list[Group] = field(default_factory=list)     # on images that stay
    move: list[Group] = field(default_factory=list)     # on moving images only
    broken: list[Group] = field(default_factory=list)   # on both: kept on neither side

    @property
    def touched(self) -> bool:
        return bool(self.move or self.broken)

    def values(self, which: str) -> int:
        return sum(g.values for g in getattr(self, which))


def split(ds: Dataset, moving: set[str]) -> Split:
    out = Split()
    for group in groups_of(ds):
        inside = group.images & moving
        if not inside:
            out.stay.append(group)
        elif inside == group.images:
            out.move.append(group)
        else:
            out.broken.append(group)
    return out


def without(ds: Dataset, keep: list[Group], now: Optional[datetime] = None) -> Dataset:
    """A copy of the report holding only the groups in *keep*, its Image
    Library and evidence narrowed to their images, its content time now."""
    out = copy.deepcopy(ds)
    kept = {id(g.item) for g in keep}
    images: set[str] = set()
    for g in keep:
        images |= g.images
    for container, copied in zip(_children(ds, codes.IMAGING_MEASUREMENTS),
                                 _children(out, codes.IMAGING_MEASUREMENTS)):
        copied.ContentSequence = Seq([
            c for c, original in zip(copied.ContentSequence, container.ContentSequence)
            if not codes.is_(original, codes.MEASUREMENT_GROUP) or id(original) in kept])
    _narrow_library(out, images)
    for keyword in EVIDENCE:
        if keyword in out:
            _narrow_evidence(out, keyword, images)
    now = now or datetime.now()
    out.ContentDate, out.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    return out


def _narrow_library(ds: Dataset, images: set[str]) -> None:
    for library in _children(ds, codes.IMAGE_LIBRARY):
        entries = []
        for entry in library.get("ContentSequence") or []:
            if codes.is_(entry, codes.IMAGE_LIBRARY_GROUP):
                entry.ContentSequence = Seq([c for c in entry.get("ContentSequence") or []
                                             if not _names_other(c, images)])
                if not any(image_refs(c) for c in entry.ContentSequence):
                    continue
            elif _names_other(entry, images):
                continue
            entries.append(entry)
        library.ContentSequence = Seq(entries)


def _names_other(item: Dataset, images: set[str]) -> bool:
    """An IMAGE library entry for an image no kept group is drawn on."""
    refs = image_refs(item) if item.get("ValueType") in ("IMAGE", "COMPOSITE") else {}
    return bool(refs) and not set(refs) & images


def _narrow_evidence(ds: Dataset, keyword: str, images: set[str]) -> None:
    studies = []
    for study in ds.get(keyword) or []:
        series_items = []
        for series in study.get("ReferencedSeriesSequence") or []:
            series.ReferencedSOPSequence = Seq([
                r for r in series.get("ReferencedSOPSequence") or []
                if str(r.ReferencedSOPInstanceUID) in images])
            if series.ReferencedSOPSequence:
                series_items.append(series)
        study.ReferencedSeriesSequence = Seq(series_items)
        if series_items:
            studies.append(study)
    setattr(ds, keyword, Seq(studies))


def library_entries(ds: Dataset, images: set[str]) -> list[Dataset]:
    """Copies of the report's Image Library entries for *images* (with
    whatever acquisition context the writer gave them)."""
    out = []
    for library in _children(ds, codes.IMAGE_LIBRARY):
        for entry in library.get("ContentSequence") or []:
            items = entry.get("ContentSequence") or [] \
                if codes.is_(entry, codes.IMAGE_LIBRARY_GROUP) else [entry]
            out += [copy.deepcopy(c) for c in items
                    if c.get("ValueType") in ("IMAGE", "COMPOSITE") and set(image_refs(c)) & images]
    return out


def new_report(attrs: dict[str, str], groups: Iterable[Dataset], library: list[Dataset],
               series: ReportSeries, observer: str, series_of: dict[str, str],
               now: Optional[datetime] = None) -> Dataset:
    """A new report in the study that *attrs* (Patient and Study keywords)
    describe, holding copies of *groups*; its Image Library lists *library*
    (one entry an image) and its evidence the images, by series (*series_of*:
    SOP Instance UID -> Series Instance UID)."""
    source = Dataset()
    for keyword, value in attrs.items():
        setattr(source, keyword, value)
    ds = build_report(source, [], series, observer, now)
    groups = [copy.deepcopy(g) for g in groups]
    (container,) = _children(ds, codes.IMAGING_MEASUREMENTS)
    container.ContentSequence = Seq(groups)
    images: dict[str, str] = {}
    for g in groups:
        images.update(image_refs(g))
    entries, seen = [], set()
    for entry in library:
        sop = next(iter(image_refs(entry)))
        if sop in images and sop not in seen:
            seen.add(sop)
            entries.append(entry)
    entries += [_image(sop, images[sop]) for sop in images if sop not in seen]
    (library_item,) = _children(ds, codes.IMAGE_LIBRARY)
    (library_group,) = _children(library_item, codes.IMAGE_LIBRARY_GROUP)
    library_group.ContentSequence = Seq(entries)
    ds.PertinentOtherEvidenceSequence = evidence(str(ds.StudyInstanceUID), images, series_of)
    return ds


def _image(sop: str, sop_class: str) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = sop_class, sop
    item = Dataset()
    item.RelationshipType, item.ValueType = "CONTAINS", "IMAGE"
    item.ReferencedSOPSequence = Seq([ref])
    return item


def evidence(study_uid: str, images: dict[str, str], series_of: dict[str, str]) -> Seq:
    """The Hierarchical SOP Instance Reference Macro for *images* ({SOP: class})."""
    by_series: dict[str, list[tuple[str, str]]] = {}
    for sop, sop_class in images.items():
        by_series.setdefault(series_of[sop], []).append((sop, sop_class))
    study = Dataset()
    study.StudyInstanceUID = study_uid
    study.ReferencedSeriesSequence = Seq()
    for series_uid, refs in by_series.items():
        item = Dataset()
        item.SeriesInstanceUID = series_uid
        item.ReferencedSOPSequence = Seq()
        for sop, sop_class in refs:
            ref = Dataset()
            ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = sop_class, sop
            item.ReferencedSOPSequence.append(ref)
        study.ReferencedSeriesSequence.append(item)
    return Seq([study])


def observer_of(ds: Dataset) -> str:
    """The report's Person Observer Name (its first), '' when it names none."""
    for child in ds.get("ContentSequence") or []:
        if child.get("ValueType") == "PNAME" and codes.is_(child, codes.PERSON_OBSERVER_NAME):
            return str(child.get("PersonName", ""))
    return ""
