"""Reading the measurements back from a TID 1500 report: StudyDesk's own,
and other software's where they follow the same templates (a NUM whose
concept is not one of ours is listed by its Code Meaning).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterator, Optional

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from app.measurements import codes


@dataclass
class Found:
    """One value of one measurement group, as `measurements` lists it."""

    report_uid: str
    image_uid: str
    kind: str
    value: float
    unit: str
    label: str
    frame: Optional[int] = None
    graphic_type: str = ""
    points: Optional[list[tuple[float, float]]] = None
    tracking_uid: str = ""

    def to_json(self, full: bool = False) -> dict:
        out = asdict(self)
        if not full:
            out = {k: out[k] for k in ("report_uid", "image_uid", "kind", "value", "unit", "label")}
        return out


def is_measurement_report(ds: Dataset) -> bool:
    """A TID 1500 Imaging Measurement Report (its root concept says so)."""
    return (str(ds.get("SOPClassUID", "")) in codes.REPORT_CLASSES
            and ds.get("ValueType") == "CONTAINER" and codes.is_(ds, codes.MEASUREMENT_REPORT))


def read_measurements(ds: Dataset) -> list[Found]:
    """Every NUM of every Measurement Group of the report, in document order."""
    if not is_measurement_report(ds):
        return []
    report_uid = str(ds.SOPInstanceUID)
    out: list[Found] = []
    for container in _children(ds, codes.IMAGING_MEASUREMENTS):
        for group in _children(container, codes.MEASUREMENT_GROUP):
            out.extend(_group(report_uid, group))
    return out


def _children(item: Dataset, code: codes.Code) -> Iterator[Dataset]:
    for child in item.get("ContentSequence") or []:
        if codes.is_(child, code):
            yield child


def _group(report_uid: str, group: Dataset) -> Iterator[Found]:
    label, tracking, region = "", "", None
    for child in group.get("ContentSequence") or []:
        kind = child.get("ValueType")
        if kind == "TEXT" and codes.is_(child, codes.TRACKING_IDENTIFIER):
            label = str(child.get("TextValue", ""))
        elif kind == "UIDREF" and codes.is_(child, codes.TRACKING_UID):
            tracking = str(child.get("UID", ""))
        elif kind == "SCOORD" and region is None:
            region = child
    for child in group.get("ContentSequence") or []:
        if child.get("ValueType") != "NUM":
            continue
        measured = (child.get("MeasuredValueSequence") or [None])[0]
        if measured is None or "NumericValue" not in measured:
            continue
        scoord = next((c for c in child.get("ContentSequence") or []
                       if c.get("ValueType") == "SCOORD"), region)
        units = (measured.get("MeasurementUnitsCodeSequence") or [Dataset()])[0]
        found = Found(report_uid, "", _kind(child), float(measured.NumericValue),
                      codes.key(units)[0], label, tracking_uid=tracking)
        if scoord is not None:
            _where(found, scoord)
        yield found


def _kind(num: Dataset) -> str:
    kind = codes.KIND_OF.get(codes.concept(num))
    if kind:
        return kind
    names = num.get("ConceptNameCodeSequence")
    return str(names[0].get("CodeMeaning", "")) if names else ""


def _where(found: Found, scoord: Dataset) -> None:
    data = [float(v) for v in scoord.get("GraphicData") or []]
    found.graphic_type = str(scoord.get("GraphicType", ""))
    found.points = list(zip(data[0::2], data[1::2]))
    for child in scoord.get("ContentSequence") or []:
        refs = child.get("ReferencedSOPSequence") if child.get("ValueType") == "IMAGE" else None
        if refs:
            found.image_uid = str(refs[0].get("ReferencedSOPInstanceUID", ""))
            frames = refs[0].get("ReferencedFrameNumber")
            if frames not in (None, ""):
                found.frame = int(frames[0] if isinstance(frames, MultiValue) else frames)
            return
