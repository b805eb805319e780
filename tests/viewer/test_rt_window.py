"""The radiotherapy overlay in the viewer window, as a coordinator checks a
plan's structures before staging: the demo's planning CT opened in the
viewer shows the GTV in its colour where the structure set has it (at the
place its patient coordinates give, computed here from the CT's geometry,
independently of the overlay), hides it when unticked in the legend, draws
nothing on a slice away from it, and washes the dose with an isodose line at
the prescription (the RT Plan's) on the isocentre slice, where the demo's
dose formula puts it.

A real window under Xvfb on a home the demo was imported into; waits are on
signals.
"""

from __future__ import annotations

import math
import os
from contextlib import closing

import numpy as np
import pydicom
import pytest

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402

from app.demo import phantoms  # noqa: E402
from app.demo.rt import ISOCENTER, PTV  # noqa: E402
from app.home import os_login  # noqa: E402
from app.importing.demo import import_demo  # noqa: E402
from app.startup import open_home  # noqa: E402
from app.viewer.series import series_images  # noqa: E402

RED = (255, 0, 0)  # the demo's GTV colour (ROI Display Color)


@pytest.fixture(scope="module")
def rt_case(tmp_path_factory):
    """The demo's RT study imported: the planning CT's UID, each image's
    header in display order, and the structure set's file."""
    home = open_home(tmp_path_factory.mktemp("rt-viewer") / "home")
    result = import_demo(home, os_login(), patients=1)
    assert not result.rejected
    with closing(home.connect()) as db:
        (ct,) = db.execute("SELECT series_instance_uid FROM series WHERE modality = 'CT' AND"
                           " study_instance_uid IN (SELECT study_instance_uid FROM series"
                           " WHERE modality = 'RTSTRUCT')").fetchone()
        (struct,) = db.execute("SELECT i.path FROM instances i JOIN series s USING"
                               " (series_instance_uid) WHERE s.modality = 'RTSTRUCT'").fetchone()
        headers = [pydicom.dcmread(i.path, stop_before_pixels=True)
                   for i in series_images(home, db, ct)]
    from app import store

    return home, ct, headers, pydicom.dcmread(store.absolute(home, struct))


def _gtv_contours(struct) -> dict[float, np.ndarray]:
    """The GTV's contour points (n, 3) by their z, read from the file."""
    number = next(int(r.ROINumber) for r in struct.StructureSetROISequence if r.ROIName == "GTV")
    item = next(i for i in struct.ROIContourSequence if int(i.ReferencedROINumber) == number)
    assert [int(v) for v in item.ROIDisplayColor] == list(RED)
    return {round(float(c.ContourData[2]), 2): np.asarray(c.ContourData, float).reshape(-1, 3)
            for c in item.ContourSequence}


def _nearest(headers, z: float) -> int:
    return min(range(len(headers)), key=lambda i: abs(float(headers[i].ImagePositionPatient[2]) - z))


@pytest.fixture
def open_rt(qtbot, qapp, rt_case):
    """``open_rt(index)`` -> (window, viewport, layer): the planning CT at
    that 0-based image, its RT found, shown 1:1 and painted."""
    from app.accounts import accounts
    from ui.app import apply_theme
    from ui.jobs import JobRunner
    from ui.viewer import open_viewer

    apply_theme(qapp)
    home, ct, _headers, _struct = rt_case
    runner = JobRunner()
    with closing(home.connect()) as db:
        user = accounts.get_user(db, os_login())

    def opener(index: int):
        window = open_viewer(None, home, user, runner, ct, index + 1)
        qtbot.addWidget(window)
        window.resize(1100, 800)
        with qtbot.waitSignal(window.rt.found, timeout=15000) as found:
            pass  # the job's answer comes through the event loop, after this connects
        uid, layer = found.args
        assert uid == ct and layer is not None
        viewport = window.panes[0].viewport
        qtbot.waitUntil(lambda: viewport.current() is not None, timeout=10000)
        repaint(qtbot, viewport, lambda: viewport.set_zoom(1.0))
        return window, viewport, layer

    yield opener
    runner.shutdown()


def repaint(qtbot, viewport, action=None) -> None:
    """Do ``action`` (or nothing) and wait until the viewport has painted."""
    with qtbot.waitSignal(viewport.shown, timeout=10000):
        (action or (lambda: None))()
        viewport.update()


def screen_of(viewport, header, x: float, y: float) -> tuple[int, int]:
    """The widget pixel showing patient point (x, y) of an axial image at 1:1:
    the image is centred (whole pixels), pixel centres at +0.5."""
    x0, y0 = (float(v) for v in header.ImagePositionPatient[:2])
    row_mm, col_mm = (float(v) for v in header.PixelSpacing)
    assert [float(v) for v in header.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    column, row = (x - x0) / col_mm, (y - y0) / row_mm
    left = round(viewport.width() / 2 - int(header.Columns) / 2)
    top = round(viewport.height() / 2 - int(header.Rows) / 2)
    return math.floor(left + column + 0.5), math.floor(top + row + 0.5)


def colours_around(viewport, point: tuple[int, int], radius: int = 1) -> list[tuple[int, int, int]]:
    image = viewport.grab().toImage()
    x, y = point
    return [(c.red(), c.green(), c.blue()) for dx in range(-radius, radius + 1)
            for dy in range(-radius, radius + 1) for c in [image.pixelColor(x + dx, y + dy)]]


def reddish(colour) -> bool:
    r, g, b = colour
    return r > 200 and g < 70 and b < 70


def test_gtv_contour_on_its_slice_in_its_colour_and_hidden_when_unticked(qtbot, open_rt, rt_case):
    _home, _ct, headers, struct = rt_case
    gtv = _gtv_contours(struct)
    index = _nearest(headers, ISOCENTER[2])
    z = round(float(headers[index].ImagePositionPatient[2]), 2)
    assert z in gtv  # the structure set has a GTV contour on this slice
    window, viewport, layer = open_rt(index)
    legend = window.rt.legend
    assert window.rt.action.isChecked() and legend.isVisible()
    names = [legend.rois.item(r).text() for r in range(legend.rois.count())]
    assert names == ["External", "GTV", "PTV", "Brainstem"]
    points = gtv[z][::4]  # a few vertices around the contour
    for x, y, _z in points:
        assert any(reddish(c) for c in colours_around(viewport, screen_of(viewport, headers[index],
                                                                          x, y))), (x, y)
    # the lesion's centre is inside the contour, not on it: no red there
    centre = screen_of(viewport, headers[index], *phantoms.HEAD_LESION.center[:2])
    assert not any(reddish(c) for c in colours_around(viewport, centre))

    item = legend.roi_item("GTV")
    repaint(qtbot, viewport, lambda: item.setCheckState(Qt.CheckState.Unchecked))
    for x, y, _z in points:
        assert not any(reddish(c) for c in colours_around(
            viewport, screen_of(viewport, headers[index], x, y))), (x, y)
    repaint(qtbot, viewport, lambda: qtbot.mouseClick(legend.all_button, Qt.MouseButton.LeftButton))
    assert legend.roi_item("GTV").checkState() == Qt.CheckState.Checked
    x, y, _z = points[0]
    assert any(reddish(c) for c in colours_around(viewport, screen_of(viewport, headers[index], x, y)))

    # the toolbar's RT button hides the whole overlay and the legend
    repaint(qtbot, viewport, lambda: window.rt.action.setChecked(False))
    assert not legend.isVisible()
    assert not any(reddish(c) for c in colours_around(viewport, screen_of(viewport, headers[index],
                                                                          x, y)))


def test_no_contour_on_a_slice_away_from_the_structure(open_rt, rt_case):
    _home, _ct, headers, struct = rt_case
    gtv = _gtv_contours(struct)
    index = _nearest(headers, ISOCENTER[2] - 45)
    z = round(float(headers[index].ImagePositionPatient[2]), 2)
    assert z not in gtv and abs(z - ISOCENTER[2]) > phantoms.HEAD_LESION.axes[2] + 20
    _window, viewport, layer = open_rt(index)
    shown = {section.roi.name for section in layer.sections(viewport.current())}
    assert "GTV" not in shown and "External" in shown
    # where the GTV lies on its own slices, this slice shows the CT only
    x, y, _z = next(iter(gtv.values()))[0]
    assert not any(reddish(c) for c in colours_around(viewport, screen_of(viewport, headers[index],
                                                                          x, y), 2))


def _prescription_radius(dz: float) -> float:
    """In-plane distance (mm) from the PTV centre where the demo's dose
    formula (app/demo/rt.py: 1.04 exp(-r^3) + 0.08 exp(-r/2.5) of the
    prescription, r in units of 15 mm) is the prescription, ``dz`` mm off
    the centre's plane."""
    low, high = 0.0, 2.0
    for _ in range(60):
        mid = (low + high) / 2
        value = 1.04 * math.exp(-mid ** 3) + 0.08 * math.exp(-mid / 2.5)
        low, high = (mid, high) if value > 1.0 else (low, mid)
    return math.sqrt((15.0 * low) ** 2 - dz ** 2)


def test_dose_wash_and_the_prescription_isodose_on_the_isocentre_slice(qtbot, open_rt, rt_case):
    _home, _ct, headers, _struct = rt_case
    index = _nearest(headers, ISOCENTER[2])
    window, viewport, layer = open_rt(index)
    legend = window.rt.legend
    header = headers[index]
    assert legend.reference.text() == "100 % = 60 Gy (prescription)"  # Plan A's Target Prescription Dose
    levels = [legend.levels.item(r).text() for r in range(legend.levels.count())]
    assert "100 %   60.0 Gy" in levels and "50 %   30.0 Gy" in levels
    centre = screen_of(viewport, header, *PTV.center[:2])
    (before,) = colours_around(viewport, centre, 0)
    assert before[0] == before[1] == before[2]  # the CT's grey

    with qtbot.waitSignal(layer.dose_ready, check_params_cb=lambda i: i == index, timeout=15000):
        legend.wash.setChecked(True)
    repaint(qtbot, viewport)
    (washed,) = colours_around(viewport, centre, 0)
    # the red of a dose above 100 %, over the grey (a translucent wash)
    assert washed[0] > before[0] + 30 and washed[1] < before[1] - 30 and washed[2] < before[2] - 30

    # the isodose line at the prescription: in the layer's slice, and painted
    # on the circle the dose formula gives
    repaint(qtbot, viewport, lambda: (legend.wash.setChecked(False),
                                      qtbot.mouseClick(legend.none_button, Qt.MouseButton.LeftButton),
                                      legend.lines.setChecked(True)))
    dose = layer.dose_of(viewport, index, viewport.current())
    (prescribed,) = [iso for iso, _path in dose.levels if iso.percent == 100]
    assert prescribed.level == pytest.approx(60.0) and prescribed.lines
    radius = _prescription_radius(float(header.ImagePositionPatient[2]) - PTV.center[2])
    x0, y0 = (float(v) for v in header.ImagePositionPatient[:2])
    spacing = float(header.PixelSpacing[0])
    for line in prescribed.lines:
        distance = np.hypot(x0 + line[:, 0] * spacing - PTV.center[0],
                            y0 + line[:, 1] * spacing - PTV.center[1])
        assert np.abs(distance - radius).max() < 1.5
    hits = 0
    for angle in np.linspace(0, 2 * math.pi, 36, endpoint=False):
        point = screen_of(viewport, header, PTV.center[0] + radius * math.cos(angle),
                          PTV.center[1] + radius * math.sin(angle))
        hits += any(reddish(c) for c in colours_around(viewport, point))
    assert hits >= 24  # dashed: most of the circle is drawn


def test_the_cache_finds_the_structure_set_and_each_plan_s_dose(rt_case):
    from app.viewer.rt_find import load_rt, rt_for_series

    home, ct, _headers, struct = rt_case
    with closing(home.connect()) as db:
        found = rt_for_series(home, db, ct)
        # a dose names no image series: nothing is drawn over it
        (dose_series,) = db.execute("SELECT series_instance_uid FROM series WHERE modality ="
                                    " 'RTDOSE' ORDER BY series_number LIMIT 1").fetchone()
        assert not rt_for_series(home, db, dose_series).structures
    assert [s.sop_instance_uid for s in found.structures] == [struct.SOPInstanceUID]
    assert len(found.doses) == 2 and all(d.plan_path is not None for d in found.doses)
    loaded = load_rt(found)
    assert not loaded.problems
    assert [(reference, prescribed) for _item, _grid, reference, prescribed in loaded.doses] == [
        (60.0, True), (66.0, True)]  # each plan's Target Prescription Dose


def test_the_legend_switches_to_the_other_plan_s_dose(qtbot, open_rt, rt_case):
    _home, _ct, headers, _struct = rt_case
    index = _nearest(headers, ISOCENTER[2])
    window, viewport, layer = open_rt(index)
    legend = window.rt.legend
    assert legend.dose_box.isVisibleTo(legend) and legend.dose_box.count() == 2
    legend.dose_box.setCurrentIndex(1)
    assert legend.reference.text() == "100 % = 66 Gy (prescription)"
    assert "100 %   66.0 Gy" in [legend.levels.item(r).text() for r in range(legend.levels.count())]
    with qtbot.waitSignal(layer.dose_ready, check_params_cb=lambda i: i == index, timeout=15000):
        legend.lines.setChecked(True)
    dose = layer.dose_of(viewport, index, viewport.current())
    (prescribed,) = [iso for iso, _path in dose.levels if iso.percent == 100]
    assert prescribed.level == pytest.approx(66.0) and prescribed.lines


def test_scrolling_with_the_wash_on_brings_the_dose_of_the_slice_reached(qtbot, open_rt, rt_case):
    _home, _ct, headers, _struct = rt_case
    start = _nearest(headers, ISOCENTER[2] - 12)
    window, viewport, layer = open_rt(start)
    with qtbot.waitSignal(layer.dose_ready, check_params_cb=lambda i: i == start, timeout=15000):
        window.rt.legend.wash.setChecked(True)
    target = start + 8  # through the dose grid, faster than each slice's dose
    with qtbot.waitSignal(layer.dose_ready, check_params_cb=lambda i: i == target, timeout=15000):
        for _ in range(8):
            qtbot.keyClick(viewport, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: viewport.state.index == target and viewport.current() is not None)
    dose = layer.dose_of(viewport, target, viewport.current())
    assert dose is not None and dose.wash is not None
