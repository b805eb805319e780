"""Making measurements and keeping them: the report is written the way an
import writes any instance (app.importing.importer: Preparer stages a
complete copy in the home's temporary area, Recorder makes it durable and
then inserts its row and renames it into the store in one transaction), and
the creation is audited. So a report exports, burns, sends, anonymises and
moves like any other instance of its study.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from pydicom.uid import generate_uid

from app import store
from app.accounts import audit
from app.accounts.accounts import User, require_user
from app.db import transaction
from app.errors import BadInput, RuleRefused
from app.home import Home
from app.importing.importer import ImportResult, Prepared, Preparer, Recorder
from app.measurements import measure
from app.measurements.image import Image, image_of
from app.measurements.sr import (SERIES_DESCRIPTION, ImageRef, Measurement, ReportSeries, Value,
                                 build_report)

Point = tuple[float, float]


def measure_length(home: Home, user: User, series_uid: str, number: int, p1: Point, p2: Point,
                   label: str = "", frame: Optional[int] = None) -> dict:
    """A length between two points of image *number* (1-based) of the series,
    stored as a new report: ``{"report_uid", "length_mm"}``."""
    image = _image(home, user, series_uid, number, frame)
    measure.check_inside([p1, p2], image.rows, image.columns)
    if tuple(p1) == tuple(p2):
        raise BadInput(f"{_name(image)}: a length needs two different points, got "
                       f"{p1[0]:g},{p1[1]:g} twice")
    spacing = measure.require_spacing(image.ds, image.frame_index, _name(image))
    length = measure.length_mm(p1, p2, spacing)
    m = Measurement(_ref(image), "POLYLINE", [p1, p2], [Value("length", length, "mm")], label)
    return {"report_uid": save_report(home, user, image, [m]), "length_mm": length}


def measure_angle(home: Home, user: User, series_uid: str, number: int, p1: Point, vertex: Point,
                  p2: Point, label: str = "", frame: Optional[int] = None) -> dict:
    """The angle at *vertex* (degrees): ``{"report_uid", "angle_deg"}``."""
    image = _image(home, user, series_uid, number, frame)
    measure.check_inside([p1, vertex, p2], image.rows, image.columns)
    angle = measure.angle_deg(p1, vertex, p2, measure.spacing_of(image.ds, image.frame_index))
    m = Measurement(_ref(image), "POLYLINE", [p1, vertex, p2], [Value("angle", angle, "deg")], label)
    return {"report_uid": save_report(home, user, image, [m]), "angle_deg": angle}


def measure_region(home: Home, user: User, series_uid: str, number: int, shape: str,
                   points: Sequence[Point], label: str = "", frame: Optional[int] = None) -> dict:
    """Statistics of an ``ellipse`` (its four SCOORD points: major axis ends,
    minor axis ends) or a ``polygon`` in modality units, and its area in mm2
    when the image has a pixel spacing: ``{"report_uid", "mean", "std",
    "min", "max", "area_mm2", "unit"}``."""
    if shape == "ellipse":
        measure.check_ellipse(points)
    image = _image(home, user, series_uid, number, frame)
    values, unit = image.modality_values()
    spacing = measure.spacing_of(image.ds, image.frame_index)
    stats = measure.region_stats(values, shape, points, spacing)
    found = [Value(kind, getattr(stats, kind), unit) for kind in ("mean", "std", "min", "max")]
    if stats.area_mm2 is not None:
        found.insert(0, Value("area", stats.area_mm2, "mm2"))
    graphic = "ELLIPSE" if shape == "ellipse" else "POLYLINE"
    m = Measurement(_ref(image), graphic, list(points), found, label, region=True)
    report_uid = save_report(home, user, image, [m])
    return {"report_uid": report_uid, "mean": stats.mean, "std": stats.std, "min": stats.min,
            "max": stats.max, "area_mm2": stats.area_mm2, "unit": unit}


def _image(home: Home, user: User, series_uid: str, number: int, frame: Optional[int]) -> Image:
    require_user(user, "measure").require("import", "save a measurement report in the cache")
    db = home.connect()
    try:
        return image_of(db, home, series_uid, number, frame)
    finally:
        db.close()


def _name(image: Image) -> str:
    return f"image {image.number} of series {image.series_uid}"


def _ref(image: Image) -> ImageRef:
    return ImageRef(image.sop_class_uid, image.sop_instance_uid, image.series_uid, image.frame)


def save_report(home: Home, user: User, image: Image, measurements: Sequence[Measurement]) -> str:
    """Write one report holding *measurements* (made on images of *image*'s
    study) into that study; returns its SOP Instance UID."""
    if not measurements:
        raise BadInput("a measurement report needs at least one measurement")
    db = home.connect()
    try:
        _check_unlocked(db, user, image.study_uid)
        series = _report_series(db, image.study_uid)
    finally:
        db.close()
    ds = build_report(image.ds, measurements, series, user.name)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    _record(home, user.name, buffer.getvalue(), str(ds.SOPInstanceUID), image.study_uid)
    return str(ds.SOPInstanceUID)


def _check_unlocked(db, user: User, study_uid: str) -> None:
    """A study another user holds locked takes no new report (the rule
    app.changes.rules.check_locks holds for every change)."""
    row = db.execute("SELECT user FROM locks WHERE study_instance_uid = ?", [study_uid]).fetchone()
    if row and row[0] != user.name:
        raise RuleRefused(f"study {study_uid}: locked by {row[0]}; they or an admin must unlock it "
                          "before a measurement report is added")


def _report_series(db, study_uid: str) -> ReportSeries:
    """The study's StudyDesk measurement series when it has one (the next
    instance number in it), else a new series numbered after the others."""
    row = db.execute("SELECT series_instance_uid, series_number FROM series WHERE"
                     " study_instance_uid = ? AND modality = 'SR' AND series_description = ?"
                     " ORDER BY series_number LIMIT 1", [study_uid, SERIES_DESCRIPTION]).fetchone()
    if row is not None:
        last = db.execute("SELECT max(instance_number) FROM instances WHERE series_instance_uid = ?",
                          [row[0]]).fetchone()[0]
        return ReportSeries(row[0], row[1] or 1, (last or 0) + 1)
    highest = db.execute("SELECT max(series_number) FROM series WHERE study_instance_uid = ?",
                         [study_uid]).fetchone()[0]
    return ReportSeries(generate_uid(prefix=None), max(int(highest or 0) + 1, 1), 1)


report_series = _report_series  # public: a reallocation's report lands there too (app.changes.reports)


def _record(home: Home, user: str, data: bytes, report_uid: str, study_uid: str) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="measure-", dir=store.scratch(home)))
    result = ImportResult()
    recorder = Recorder(home, "copy", result, None)
    preparer = Preparer("copy", scratch, home.db_path)
    outcome, detail = audit.SERIOUS_FAILURE, f"measurement report {report_uid}"
    try:
        prepared = preparer.prepare_data(f"measurement report {report_uid}", data)
        if not isinstance(prepared, Prepared):
            raise RuleRefused(f"measurement report {report_uid}: not kept ({prepared})")
        recorder.record([prepared])
        if result.rejected:
            raise RuleRefused(f"measurement report {report_uid}: not kept "
                              f"({result.rejected[0]['reason']})")
        outcome = audit.SUCCESS
    except RuleRefused as e:
        detail = str(e)
        raise
    finally:
        preparer.close()
        with transaction(recorder.db):
            audit.record(recorder.db, user, "measure", audit.INSTANCES_ACCESSED, outcome=outcome,
                         objects=[study_uid, report_uid], detail=detail)
        recorder.close()
        shutil.rmtree(scratch, ignore_errors=True)
