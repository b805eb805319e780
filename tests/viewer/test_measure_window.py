"""Measuring in the viewer window as a radiologist does: pick a tool, draw
on the image with the left mouse button, read the value while drawing; on
release the measurement is kept as a DICOM SR in the image's study (the
`measurements` command lists it), the list beside the image shows it, and
the series reopened draws it again on the same image. A region's numbers
are checked against numpy over the pixels whose centres are inside; an
image without Pixel Spacing refuses a length, says so in the window, and
keeps nothing.

A real window under Xvfb over a home imported by the core; mouse positions
are computed from the image pixels through the viewport's transform; every
wait is on a signal or on what the user would see.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, generate_uid  # noqa: E402
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from shiboken6 import isValid  # noqa: E402

from app.cli import main  # noqa: E402
from app.db import transaction  # noqa: E402
from app.home import os_login  # noqa: E402
from app.importing.importer import import_paths  # noqa: E402
from app.measurements.index import measurements_of, reports_of  # noqa: E402
from app.startup import open_home  # noqa: E402

CT = "1.2.840.10008.5.1.4.1.1.2"
ROW_MM, COLUMN_MM = 0.7, 0.9  # Pixel Spacing: between rows, between columns
SIZE = 64
LEFT = Qt.MouseButton.LeftButton


def hounsfield(index: int) -> np.ndarray:
    """Slice *index*'s values: no two neighbours alike, so a mean tells
    which pixels were counted."""
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    return ((x * 7 + y * 13 + index * 5) % 211 - 100).astype(np.int16)


def _slice(study: str, series: str, number: int, index: int, spacing: bool) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CT, meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "MESS^URE", "M001", "19600101", "M"
    ds.StudyInstanceUID, ds.StudyDate, ds.StudyTime = study, "20240601", "090000"
    ds.StudyDescription, ds.AccessionNumber, ds.StudyID = "CT ABDOMEN", "MACC1", "1"
    ds.ReferringPhysicianName = ""
    ds.SeriesInstanceUID, ds.SeriesNumber, ds.Modality = series, number, "CT"
    ds.SeriesDescription = "Axial" if spacing else "No spacing"
    ds.InstanceNumber = index + 1
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [0.0, 0.0, -5.0 * index]
    if spacing:
        ds.PixelSpacing = [ROW_MM, COLUMN_MM]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = SIZE
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.WindowCenter, ds.WindowWidth = 0, 400
    ds.PixelData = (hounsfield(index).astype(np.int32) + 1024).astype("<i2").tobytes()
    return ds


@pytest.fixture(scope="module")
def measure_home(tmp_path_factory):
    """A home with one CT study: a 3-slice series with Pixel Spacing and a
    2-slice series without. Returns (home, study UID, {name: series UID})."""
    folder = tmp_path_factory.mktemp("measure-src")
    study = generate_uid()
    series = {"axial": generate_uid(), "nospacing": generate_uid()}
    for number, (name, uid) in enumerate(series.items(), start=1):
        for i in range(3 if name == "axial" else 2):
            _slice(study, uid, number, i, spacing=name == "axial").save_as(
                folder / f"{name}{i}.dcm", enforce_file_format=True)
    home = open_home(tmp_path_factory.mktemp("measure-home") / "home")
    result = import_paths(home, [folder], os_login())
    assert not result.rejected, result.rejected
    return home, study, series


@pytest.fixture
def viewer(qtbot, qapp, measure_home):
    """``viewer(name, image, who)`` -> the window on that series for user
    *who* (the home's first user when None), the image painted."""
    from app.accounts import accounts
    from ui.app import apply_theme
    from ui.jobs import JobRunner
    from ui.viewer import open_viewer

    apply_theme(qapp)
    home, _study, series = measure_home
    runner = JobRunner()
    db = home.connect()
    user = accounts.get_user(db, os_login())
    db.close()

    windows = []

    def opener(name: str, image: int = 1, who=None):
        window = open_viewer(None, home, who or user, runner, series[name], image)
        windows.append(window)
        viewport = window.panes[0].viewport
        qtbot.waitUntil(lambda: viewport.current() is not None
                        and viewport.state.index == image - 1, timeout=10000)
        return window

    yield opener
    for window in windows:  # a test may have closed one (deleted on close)
        if isValid(window):
            window.close()
    runner.shutdown()


def at(viewport, x: float, y: float) -> QPoint:
    """The widget pixel showing image point (column, row)."""
    from ui.viewer.view_state import image_transform

    entry = viewport.current()
    h, w = entry.display.pixels.shape[:2]
    transform = image_transform(viewport.state, w, h, entry.display.aspect, viewport.width(),
                                viewport.height())[0]
    p = transform.map(QPointF(x, y))
    return QPoint(round(p.x()), round(p.y()))


def drag(qtbot, viewport, start: QPoint, end: QPoint) -> None:
    qtbot.mousePress(viewport, LEFT, pos=start)
    qtbot.mouseMove(viewport, (start + end) / 2)
    qtbot.mouseMove(viewport, end)
    qtbot.mouseRelease(viewport, LEFT, pos=end)


def found_of(home, study: str) -> list:
    db = home.connect()
    try:
        return measurements_of(db, study)
    finally:
        db.close()


def test_a_length_drawn_is_kept_listed_and_drawn_again(qtbot, viewer, measure_home, capsys):
    from ui.cache_events import events_of
    from ui.viewer.measure_layer import MeasureLayer

    home, study, series = measure_home
    before = {f.report_uid for f in found_of(home, study)}
    window = viewer("axial", image=2)
    viewport, tools = window.panes[0].viewport, window.measures
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(viewport, Qt.Key.Key_L)  # the Length tool
    assert tools.tool == "length" and tools.actions["length"].isChecked()
    tools.panel.label.setText("liver span")
    layer = tools.layer_of(viewport)
    assert isinstance(layer, MeasureLayer)

    a, b = (10.5, 20.5), (40.5, 44.5)  # pixel centres: 30 columns, 24 rows apart
    start, end = at(viewport, *a), at(viewport, *b)
    qtbot.mousePress(viewport, LEFT, pos=start)
    qtbot.mouseMove(viewport, end)
    live = layer.live_text(viewport, viewport.current())  # shown while the mouse is down
    assert live.endswith(" mm")
    assert float(live.split()[0]) == pytest.approx(math.hypot(30 * COLUMN_MM, 24 * ROW_MM), abs=0.15)
    with qtbot.waitSignals([tools.saved, tools.read], timeout=20000), \
            qtbot.waitSignal(events_of(home).cache_changed, timeout=20000,
                             check_params_cb=lambda c: study in c.study_uids):
        qtbot.mouseRelease(viewport, LEFT, pos=end)

    new = [f for f in found_of(home, study) if f.report_uid not in before]
    assert len(new) == 1 and new[0].kind == "length" and new[0].label == "liver span"
    (x1, y1), (x2, y2) = new[0].points
    assert np.allclose([(x1, y1), (x2, y2)], [a, b], atol=0.1)
    assert new[0].value == pytest.approx(math.hypot((x2 - x1) * COLUMN_MM, (y2 - y1) * ROW_MM),
                                         rel=1e-6)
    assert new[0].unit == "mm"
    image_uid = viewport.loader.images[1][0].sop_instance_uid
    assert new[0].image_uid == image_uid

    capsys.readouterr()
    assert main(["--home", str(home.root), "--json", "measurements", study]) == 0
    listed = [r for r in json.loads(capsys.readouterr().out) if r["report_uid"] == new[0].report_uid]
    assert [(r["kind"], r["image_uid"], r["label"]) for r in listed] == [
        ("length", image_uid, "liver span")]
    assert listed[0]["value"] == pytest.approx(new[0].value)

    qtbot.waitUntil(lambda: any(f"{new[0].value:.2f} mm" in t and "liver span" in t
                                for t in tools.panel.texts()), timeout=5000)
    assert tools.panel.isVisible()
    window.close()
    qtbot.waitUntil(lambda: not isValid(window), timeout=5000)  # deleted on close

    again = viewer("axial", image=2)
    viewport, tools = again.panes[0].viewport, again.measures
    qtbot.waitUntil(lambda: any(s.report_uid == new[0].report_uid
                                for s in tools.shown_on(viewport, 1)), timeout=10000)
    shown = next(s for s in tools.shown_on(viewport, 1) if s.report_uid == new[0].report_uid)
    assert shown.tool == "length" and shown.points == new[0].points
    assert not any(s.report_uid == new[0].report_uid for s in tools.shown_on(viewport, 0))
    assert any("Im 2  Length" in t and "liver span" in t for t in tools.panel.texts())


def test_an_ellipse_gives_the_statistics_of_the_pixels_inside(qtbot, viewer, measure_home):
    home, study, _series = measure_home
    before = {f.report_uid for f in found_of(home, study)}
    window = viewer("axial", image=3)
    viewport, tools = window.panes[0].viewport, window.measures
    tools.set_tool("ellipse")
    with qtbot.waitSignal(tools.read, timeout=20000), \
            qtbot.waitSignal(tools.saved, timeout=20000) as saved:
        drag(qtbot, viewport, at(viewport, 12.0, 20.0), at(viewport, 44.0, 36.0))
    result = saved.args[0]
    new = [f for f in found_of(home, study) if f.report_uid not in before]
    values = {f.kind: f for f in new}
    assert set(values) == {"area", "mean", "std", "min", "max"}
    assert values["mean"].unit == "[hnsf'U]" and values["mean"].graphic_type == "ELLIPSE"

    # the ellipse's box as stored (major axis ends, then minor), pixel centres inside it
    (l, cy), (r, _), (cx, t), (_, btm) = values["mean"].points
    a, b = (r - l) / 2, (btm - t) / 2
    y, x = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    inside = ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1
    hu = hounsfield(2)[inside].astype(float)
    assert result["mean"] == pytest.approx(hu.mean()) == pytest.approx(values["mean"].value)
    assert values["std"].value == pytest.approx(hu.std())
    assert (values["min"].value, values["max"].value) == (hu.min(), hu.max())
    assert values["area"].value == pytest.approx(math.pi * a * b * ROW_MM * COLUMN_MM, rel=1e-6)
    qtbot.waitUntil(lambda: any(t.startswith("Im 3  Ellipse  mean") for t in tools.panel.texts()),
                    timeout=5000)


def test_a_polygon_closed_by_a_double_click(qtbot, viewer, measure_home):
    home, study, _series = measure_home
    before = {f.report_uid for f in found_of(home, study)}
    window = viewer("axial", image=1)
    viewport, tools = window.panes[0].viewport, window.measures
    tools.set_tool("polygon")
    corners = [(8.0, 8.0), (30.0, 8.0), (30.0, 24.0), (8.0, 24.0)]
    for x, y in corners[:-1]:
        qtbot.mouseClick(viewport, LEFT, pos=at(viewport, x, y))
    with qtbot.waitSignals([tools.saved, tools.read], timeout=20000):
        qtbot.mouseClick(viewport, LEFT, pos=at(viewport, *corners[-1]))
        qtbot.mouseDClick(viewport, LEFT, pos=at(viewport, *corners[-1]))
    values = {f.kind: f for f in found_of(home, study) if f.report_uid not in before}
    points = values["mean"].points
    assert len(points) == 5 and points[0] == points[-1]  # a closed POLYLINE
    assert np.allclose(points[:4], corners, atol=0.1)
    (x0, y0), (x1, _), (_, y2) = points[0], points[1], points[2]
    inside = hounsfield(0)[round(y0):round(y2), round(x0):round(x1)].astype(float)
    assert values["mean"].value == pytest.approx(inside.mean())
    assert values["area"].value == pytest.approx((x1 - x0) * (y2 - y0) * ROW_MM * COLUMN_MM)


def test_a_length_without_pixel_spacing_is_refused_in_the_window(qtbot, viewer, measure_home):
    home, study, _series = measure_home
    db = home.connect()
    reports_before = len(reports_of(db, study))
    instances_before = db.execute("SELECT count(*) FROM instances").fetchone()[0]
    db.close()
    window = viewer("nospacing")
    viewport, tools = window.panes[0].viewport, window.measures
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    tools.set_tool("length")
    layer = tools.layer_of(viewport)
    start, end = at(viewport, 5.5, 5.5), at(viewport, 50.5, 40.5)
    qtbot.mousePress(viewport, LEFT, pos=start)
    qtbot.mouseMove(viewport, end)
    assert "no pixel spacing" in layer.live_text(viewport, viewport.current())
    with qtbot.waitSignal(tools.refused, timeout=20000) as blocker:
        qtbot.mouseRelease(viewport, LEFT, pos=end)
    assert "Pixel Spacing" in blocker.args[0]
    assert layer.message == blocker.args[0]  # over the image
    assert tools.panel.message.isVisible() and "Pixel Spacing" in tools.panel.message.text()
    assert not tools.shown_on(viewport, 0)  # the shape being saved is gone
    db = home.connect()
    assert len(reports_of(db, study)) == reports_before
    assert db.execute("SELECT count(*) FROM instances").fetchone()[0] == instances_before
    db.close()
    qtbot.keyClick(viewport, Qt.Key.Key_Escape)  # Esc ends the tool
    qtbot.waitUntil(lambda: tools.tool is None, timeout=5000)


def test_a_study_locked_by_someone_else_takes_no_measurement(qtbot, viewer, measure_home):
    home, study, _series = measure_home
    db = home.connect()
    with transaction(db):
        db.execute("INSERT INTO locks (study_instance_uid, user, time) VALUES (?, 'someone',"
                   " '2024-06-01T10:00:00')", [study])
    reports_before = len(reports_of(db, study))
    db.close()
    try:
        window = viewer("axial")
        viewport, tools = window.panes[0].viewport, window.measures
        tools.set_tool("angle")
        with qtbot.waitSignal(tools.refused, timeout=20000) as blocker:
            for x, y in ((10.5, 10.5), (30.5, 30.5), (50.5, 10.5)):
                qtbot.mouseClick(viewport, LEFT, pos=at(viewport, x, y))
        assert "locked by someone" in blocker.args[0]
        assert tools.layer_of(viewport).message == blocker.args[0]
    finally:
        db = home.connect()
        with transaction(db):
            db.execute("DELETE FROM locks WHERE study_instance_uid = ?", [study])
        assert len(reports_of(db, study)) == reports_before
        db.close()


def test_a_user_without_the_import_privilege_keeps_no_measurement(qtbot, viewer, measure_home):
    from app.accounts.accounts import User

    home, study, _series = measure_home
    db = home.connect()
    reports_before = len(reports_of(db, study))
    db.close()
    window = viewer("axial", who=User("reader", frozenset({"researcher"})))
    viewport, tools = window.panes[0].viewport, window.measures
    tools.set_tool("ellipse")
    with qtbot.waitSignal(tools.refused, timeout=20000) as blocker:
        drag(qtbot, viewport, at(viewport, 10.0, 10.0), at(viewport, 30.0, 20.0))
    assert "needs the import privilege" in blocker.args[0]
    assert tools.panel.message.text() == blocker.args[0]
    db = home.connect()
    assert len(reports_of(db, study)) == reports_before
    db.close()
