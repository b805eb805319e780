"""Writing a measurement report: a Comprehensive SR (PS3.3 A.35.3) holding
a TID 1500 Imaging Measurement Report (PS3.16).

The report belongs to the image's study (Patient and General Study modules
copied from the image's header) in a series of its own (Modality SR). Each
measurement is a Measurement Group: a length or an angle follows TID 1501
(a NUM whose value is INFERRED FROM an open SCOORD POLYLINE), a region
follows TID 1410 (an SCOORD Image Region, ELLIPSE or closed POLYLINE, and
NUM items for its area and statistics). Every SCOORD is SELECTED FROM an
IMAGE item naming the image by SOP Class and Instance UID (and the frame of
a multi-frame image), and the images are listed again in the Image Library
and in the Pertinent Other Evidence Sequence: every reference is a UI
element, which is what lets a UID map (de-identification, IOCM) reach them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional, Sequence

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as Seq
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from app import __version__
from app.dicom.meta import file_meta_dataset
from app.measurements import codes
from app.measurements.codes import Code, code_item

SERIES_DESCRIPTION = "StudyDesk measurements"
MANUFACTURER = "StudyDesk"

# copied from the image: the Patient and General Study modules (and the
# Patient Study module's few descriptive attributes)
PATIENT_STUDY_KEYWORDS = (
    "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
    "StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID",
    "AccessionNumber", "StudyDescription", "PatientAge", "PatientSize", "PatientWeight",
)
TYPE_2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate",
          "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber")


@dataclass(frozen=True)
class ImageRef:
    sop_class_uid: str
    sop_instance_uid: str
    series_uid: str
    frame: Optional[int] = None  # 1-based, for a multi-frame image


@dataclass
class Value:
    kind: str      # a key of codes.KINDS
    value: float
    unit: str      # a key of codes.UNITS


@dataclass
class Measurement:
    """One measurement group: what was drawn on which image, and the values."""

    image: ImageRef
    graphic_type: str                 # POLYLINE or ELLIPSE
    points: list[tuple[float, float]]  # (column, row) image coordinates
    values: list[Value]
    label: str = ""
    region: bool = False              # TID 1410 (an Image Region) rather than TID 1501
    tracking_uid: str = field(default_factory=lambda: generate_uid(prefix=None))


@dataclass(frozen=True)
class ReportSeries:
    uid: str
    number: int
    instance_number: int


def build_report(source: Dataset, measurements: Sequence[Measurement], series: ReportSeries,
                 observer: str, now: Optional[datetime] = None) -> Dataset:
    """The report's data set (with its File Meta Information), ready to write."""
    now = now or datetime.now()
    date, time = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"  # the label and copied names in UTF-8
    ds.SOPClassUID = codes.COMPREHENSIVE_SR
    ds.SOPInstanceUID = generate_uid(prefix=None)
    ds.InstanceCreationDate, ds.InstanceCreationTime = date, time
    for keyword in PATIENT_STUDY_KEYWORDS:
        if keyword in source and source[keyword].value not in (None, ""):
            setattr(ds, keyword, source[keyword].value)
        elif keyword in TYPE_2:
            setattr(ds, keyword, "")
    ds.Modality = "SR"
    ds.SeriesInstanceUID = series.uid
    ds.SeriesNumber = series.number
    ds.SeriesDescription = SERIES_DESCRIPTION
    ds.SeriesDate, ds.SeriesTime = date, time
    ds.ReferencedPerformedProcedureStepSequence = Seq()
    ds.Manufacturer = MANUFACTURER
    ds.SoftwareVersions = __version__
    ds.InstanceNumber = series.instance_number
    ds.ContentDate, ds.ContentTime = date, time
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    ds.PerformedProcedureCodeSequence = Seq()
    ds.PertinentOtherEvidenceSequence = _evidence(str(source.StudyInstanceUID), measurements)
    _content(ds, measurements, observer)
    ds.file_meta = file_meta_dataset(ds.SOPClassUID, ds.SOPInstanceUID, ExplicitVRLittleEndian)
    return ds


def _evidence(study_uid: str, measurements: Sequence[Measurement]) -> Seq:
    """The referenced images, by series (the Hierarchical SOP Instance
    Reference Macro, PS3.3 C.17.2.1)."""
    by_series: dict[str, dict[str, str]] = {}
    for m in measurements:
        by_series.setdefault(m.image.series_uid, {})[m.image.sop_instance_uid] = m.image.sop_class_uid
    study = Dataset()
    study.StudyInstanceUID = study_uid
    study.ReferencedSeriesSequence = Seq()
    for series_uid, instances in by_series.items():
        item = Dataset()
        item.SeriesInstanceUID = series_uid
        item.ReferencedSOPSequence = Seq()
        for sop_uid, class_uid in instances.items():
            ref = Dataset()
            ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = class_uid, sop_uid
            item.ReferencedSOPSequence.append(ref)
        study.ReferencedSeriesSequence.append(item)
    return Seq([study])


def _content(ds: Dataset, measurements: Sequence[Measurement], observer: str) -> None:
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = Seq([code_item(codes.MEASUREMENT_REPORT)])
    ds.ContinuityOfContent = "SEPARATE"
    ds.ContentTemplateSequence = Seq([_template(codes.TID["report"])])
    images = list({m.image: None for m in measurements})
    library = _container("CONTAINS", codes.IMAGE_LIBRARY, [
        _container("CONTAINS", codes.IMAGE_LIBRARY_GROUP,
                   [_image("CONTAINS", image) for image in images])])
    groups = _container("CONTAINS", codes.IMAGING_MEASUREMENTS, [_group(m) for m in measurements])
    ds.ContentSequence = Seq([
        _code("HAS CONCEPT MOD", codes.LANGUAGE, codes.ENGLISH_US),
        _code("HAS OBS CONTEXT", codes.OBSERVER_TYPE, codes.PERSON),
        _item("HAS OBS CONTEXT", "PNAME", codes.PERSON_OBSERVER_NAME, PersonName=_person(observer)),
        _code("HAS CONCEPT MOD", codes.PROCEDURE_REPORTED, codes.IMAGING_PROCEDURE),
        library,
        groups,
    ])


def _person(login: str) -> str:
    """A login name as a Person Name: the family name component (a value
    without a component separator is the retired form dciodvfy warns of)."""
    login = login or "UNKNOWN"
    return login if "^" in login else login + "^"


def _group(m: Measurement) -> Dataset:
    children = [
        _item("HAS OBS CONTEXT", "TEXT", codes.TRACKING_IDENTIFIER,
              TextValue=m.label or m.values[0].kind),
        _item("HAS OBS CONTEXT", "UIDREF", codes.TRACKING_UID, UID=m.tracking_uid),
    ]
    if m.region:
        children.append(_scoord("CONTAINS", m, codes.IMAGE_REGION))
        children.extend(_num(v) for v in m.values)
    else:
        for v in m.values:
            num = _num(v)
            num.ContentSequence = Seq([_scoord("INFERRED FROM", m)])
            children.append(num)
    group = _container("CONTAINS", codes.MEASUREMENT_GROUP, children)
    group.ContentTemplateSequence = Seq([_template(codes.TID["region" if m.region else "group"])])
    return group


def _item(relationship: str, value_type: str, name: Optional[Code], **values) -> Dataset:
    item = Dataset()
    item.RelationshipType = relationship
    item.ValueType = value_type
    if name is not None:
        item.ConceptNameCodeSequence = Seq([code_item(name)])
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def _container(relationship: str, name: Code, children: list[Dataset]) -> Dataset:
    item = _item(relationship, "CONTAINER", name, ContinuityOfContent="SEPARATE")
    item.ContentSequence = Seq(children)
    return item


def _code(relationship: str, name: Code, value: Code) -> Dataset:
    return _item(relationship, "CODE", name, ConceptCodeSequence=Seq([code_item(value)]))


def _template(tid: str) -> Dataset:
    item = Dataset()
    item.MappingResource = "DCMR"
    item.TemplateIdentifier = tid
    return item


def _num(v: Value) -> Dataset:
    measured = Dataset()
    measured.NumericValue = _ds_text(v.value)
    measured.MeasurementUnitsCodeSequence = Seq([code_item((v.unit, "UCUM", codes.UNITS[v.unit]))])
    return _item("CONTAINS", "NUM", codes.KINDS[v.kind], MeasuredValueSequence=Seq([measured]))


def _ds_text(value: float) -> str:
    """A Decimal String of at most 16 characters."""
    for digits in range(10, 0, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    return f"{value:.1e}"


def _scoord(relationship: str, m: Measurement, name: Optional[Code] = None) -> Dataset:
    points = list(m.points)
    if m.region and m.graphic_type == "POLYLINE" and points[0] != points[-1]:
        points.append(points[0])  # a closed polyline encloses the region
    flat = [float(c) for point in points for c in point]
    scoord = _item(relationship, "SCOORD", name, GraphicType=m.graphic_type, GraphicData=flat)
    scoord.ContentSequence = Seq([_image("SELECTED FROM", m.image)])
    return scoord


def _image(relationship: str, image: ImageRef) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = image.sop_class_uid
    ref.ReferencedSOPInstanceUID = image.sop_instance_uid
    if image.frame is not None:
        ref.ReferencedFrameNumber = image.frame
    return _item(relationship, "IMAGE", None, ReferencedSOPSequence=Seq([ref]))
