"""The viewer window as a radiologist uses it: open a CT series, scroll it
with the wheel and keys, window it with a right drag and a preset, zoom,
reset, split the window, and check that what is painted is the core's
display pixels and that a broken file shows why instead of crashing.

A real window under Xvfb over a home imported by the core; every wait is on
a signal or a state the user would see.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.encaps import encapsulate  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, generate_uid  # noqa: E402
from PySide6.QtCore import QPoint, Qt  # noqa: E402

from app.home import os_login  # noqa: E402
from app.importing.importer import import_paths  # noqa: E402
from app.startup import open_home  # noqa: E402

CT = "1.2.840.10008.5.1.4.1.1.2"
SLICES = 6
SIZE = 64


def _slice(study: str, series: str, number: int, index: int, broken: bool = False) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = JPEGBaseline8Bit if broken else ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CT, meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "VIEW^VERA", "V001", "19700101", "F"
    ds.StudyInstanceUID, ds.StudyDate, ds.StudyTime = study, "20240510", "080000"
    ds.StudyDescription, ds.AccessionNumber, ds.StudyID = "CT THORAX", "VACC1", "1"
    ds.ReferringPhysicianName = ""
    ds.SeriesInstanceUID, ds.SeriesNumber, ds.Modality = series, number, "CT"
    ds.SeriesDescription = "Broken" if broken else f"Axial {number}"
    ds.InstanceNumber = index + 1
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [-32.0, -32.0, -10.0 * index]
    ds.SliceLocation, ds.SliceThickness = -10.0 * index, 5
    ds.PixelSpacing = [0.8, 0.8]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = SIZE
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.WindowCenter, ds.WindowWidth = 40, 400
    if broken:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.PixelData = encapsulate([b"\xff\xd8 not a JPEG stream \xff\xd9"])
        ds["PixelData"].VR = "OB"
        return ds
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    hu = np.where(np.hypot(x - 31.5, y - 31.5) < 26, -200 + 12 * x + 40 * index, -1000)
    ds.PixelData = (hu + 1024).astype("<i2").tobytes()
    return ds


@pytest.fixture(scope="module")
def ct_home(tmp_path_factory):
    """A home with one study: two 6-slice CT series and a series whose only
    image cannot be decoded. Returns (home, {name: series UID}, {uid: paths})."""
    folder = tmp_path_factory.mktemp("viewer-src")
    study = generate_uid()
    series = {"axial": generate_uid(), "second": generate_uid(), "broken": generate_uid()}
    for number, (name, uid) in enumerate(series.items(), start=1):
        for i in range(1 if name == "broken" else SLICES):
            _slice(study, uid, number, i, broken=name == "broken").save_as(
                folder / f"{name}{i}.dcm", enforce_file_format=True)
    home = open_home(tmp_path_factory.mktemp("viewer-home") / "home")
    result = import_paths(home, [folder], os_login())
    assert not result.rejected, result.rejected
    return home, series


@pytest.fixture
def open_series(qtbot, qapp, ct_home):
    """``open_series(name)`` -> the viewer window on that series, first image painted."""
    from app.accounts import accounts
    from ui.app import apply_theme
    from ui.jobs import JobRunner
    from ui.viewer import open_viewer

    apply_theme(qapp)
    home, series = ct_home
    runner = JobRunner()
    db = home.connect()
    user = accounts.get_user(db, os_login())
    db.close()
    def opener(name: str, image=None):
        window = open_viewer(None, home, user, runner, series[name], image)
        qtbot.addWidget(window)
        viewport = window.panes[0].viewport
        qtbot.waitUntil(lambda: viewport.current() is not None, timeout=10000)
        return window

    yield opener
    runner.shutdown()  # pytest-qt has closed the windows (qtbot.addWidget)


def corner(viewport, where: str) -> str:
    from ui.viewer.corner_text import corner_lines

    return "\n".join(corner_lines(viewport, viewport.current())[where])


def key(qtbot, viewport, k, mods=Qt.KeyboardModifier.NoModifier, index=None):
    """Press a key; when it moves to `index`, wait until that image is painted."""
    if index is None:
        qtbot.keyClick(viewport, k, mods)
        return
    with qtbot.waitSignal(viewport.shown, check_params_cb=lambda i: i == index, timeout=10000):
        qtbot.keyClick(viewport, k, mods)


def wheel(viewport, clicks: int, mods=Qt.KeyboardModifier.NoModifier) -> None:
    from PySide6.QtCore import QPointF as P
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    centre = P(viewport.width() / 2, viewport.height() / 2)
    event = QWheelEvent(centre, viewport.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120 * clicks),
                        Qt.MouseButton.NoButton, mods, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, event)


def test_opening_a_series_shows_its_first_image_and_who_it_is(open_series):
    window = open_series("axial")
    viewport = window.panes[0].viewport
    assert viewport.current().display is not None and not viewport.current().error
    assert "Im 1 / 6" in corner(viewport, "bottom-left")
    assert "Thk 5 mm" in corner(viewport, "bottom-left")
    assert "VIEW, VERA" in corner(viewport, "top-left")
    assert "CT THORAX" in corner(viewport, "top-right")
    assert "W 400 L 40" in corner(viewport, "bottom-right")
    assert window.panes[0].position.text() == "1 / 6"
    assert "VIEW VERA" in window.windowTitle()


def test_opening_at_an_image(open_series):
    viewport = open_series("axial", image=4).panes[0].viewport
    assert "Im 4 / 6" in corner(viewport, "bottom-left")
    assert "Loc -30.0 mm" in corner(viewport, "bottom-left")


def test_wheel_and_keys_scroll_the_stack(qtbot, open_series):
    window = open_series("axial")
    pane = window.panes[0]
    viewport = pane.viewport
    with qtbot.waitSignal(viewport.shown, check_params_cb=lambda i: i == 1, timeout=10000):
        wheel(viewport, -1)  # one click towards the user: the next image
    assert "Im 2 / 6" in corner(viewport, "bottom-left")
    assert pane.position.text() == "2 / 6" and pane.bar.value() == 1
    key(qtbot, viewport, Qt.Key.Key_End, index=5)
    assert "Im 6 / 6" in corner(viewport, "bottom-left")
    key(qtbot, viewport, Qt.Key.Key_Up, index=4)
    key(qtbot, viewport, Qt.Key.Key_Home, index=0)
    key(qtbot, viewport, Qt.Key.Key_PageDown, index=5)  # ten on, held at the last
    with qtbot.waitSignal(viewport.shown, check_params_cb=lambda i: i == 2, timeout=10000):
        pane.bar.setValue(2)
    assert "Im 3 / 6" in corner(viewport, "bottom-left")


def test_right_drag_changes_the_window(qtbot, open_series):
    viewport = open_series("axial").panes[0].viewport
    before = viewport.displayed_window()
    assert before == (40.0, 400.0)
    start = QPoint(viewport.width() // 2, viewport.height() // 2)
    qtbot.mousePress(viewport, Qt.MouseButton.RightButton, pos=start)
    qtbot.mouseMove(viewport, start + QPoint(64, 32))
    qtbot.mouseRelease(viewport, Qt.MouseButton.RightButton, pos=start + QPoint(64, 32))
    centre, width = viewport.displayed_window()
    assert width > 400 and centre > 40  # right: wider; down: higher level
    assert f"W {width:.0f} L {centre:.0f}" in corner(viewport, "bottom-right")
    key(qtbot, viewport, Qt.Key.Key_R)
    assert viewport.displayed_window() == (40.0, 400.0)


def test_presets_on_ct_and_invert(qtbot, open_series):
    viewport = open_series("axial").panes[0].viewport
    key(qtbot, viewport, Qt.Key.Key_3)  # lung
    assert viewport.displayed_window() == (-600.0, 1500.0)
    assert "W 1500 L -600" in corner(viewport, "bottom-right")
    key(qtbot, viewport, Qt.Key.Key_1)  # brain
    assert "W 80 L 40" in corner(viewport, "bottom-right")
    shown = viewport.current().display.pixels.copy()
    key(qtbot, viewport, Qt.Key.Key_I)
    assert np.array_equal(viewport.current().display.pixels, 255 - shown)
    assert "Inverted" in corner(viewport, "bottom-right")


def test_zoom_fit_one_to_one_and_reset(qtbot, open_series):
    viewport = open_series("axial").panes[0].viewport
    fit = viewport.zoom()
    assert fit > 1  # a 64-pixel image fills the viewport
    key(qtbot, viewport, Qt.Key.Key_A)
    assert viewport.zoom() == 1.0 and "Zoom 100%" in corner(viewport, "bottom-right")
    wheel(viewport, 2, Qt.KeyboardModifier.ControlModifier)
    assert viewport.zoom() == pytest.approx(1.15 ** 2)
    key(qtbot, viewport, Qt.Key.Key_BracketRight)
    assert viewport.state.rotation == 1
    key(qtbot, viewport, Qt.Key.Key_R)
    assert viewport.zoom() == pytest.approx(fit) and viewport.state.rotation == 0
    assert f"Zoom {fit * 100:.0f}%" in corner(viewport, "bottom-right")


def test_orientation_letters_follow_rotation():
    from ui.viewer.overlay import edge_letters

    axial = (1, 0, 0, 0, 1, 0)
    assert edge_letters(axial, 0, False, False) == {"left": "R", "right": "L", "top": "A",
                                                    "bottom": "P"}
    assert edge_letters(axial, 1, False, False)["top"] == "R"
    assert edge_letters(axial, 0, True, False)["left"] == "L"
    coronal = (1, 0, 0, 0, 0, -1)
    assert edge_letters(coronal, 0, False, False)["top"] == "H"


def test_four_viewports_show_each_series_once(qtbot, open_series):
    window = open_series("axial")
    key(qtbot, window.panes[0].viewport, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert window.layout_name == "2x2" and len(window.panes) == 4
    qtbot.waitUntil(lambda: all(p.series_uid for p in window.panes[:3]), timeout=10000)
    assert len({p.series_uid for p in window.panes[:3]}) == 3  # the study's three series
    assert window.panes[3].series_uid == ""  # none left: the pane says so, no repeat
    assert "No other series in this study" in window.panes[3].viewport.message


def test_two_viewports_side_by_side(qtbot, open_series):
    window = open_series("axial")
    key(qtbot, window.panes[0].viewport, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.layout_name == "1x2" and len(window.panes) == 2
    second = window.panes[1].viewport
    qtbot.waitUntil(lambda: second.current() is not None, timeout=10000)
    assert all(p.isVisible() for p in window.panes)
    assert "Se 2: Axial 2" in corner(second, "top-right")
    qtbot.mouseClick(second, Qt.MouseButton.LeftButton)
    assert window.active is window.panes[1] and second.active


def test_painted_pixels_are_the_display_core_pixels(qtbot, open_series, ct_home):
    from ui.viewer.frames import load_frame

    window = open_series("axial", image=3)
    viewport = window.panes[0].viewport
    key(qtbot, viewport, Qt.Key.Key_A)  # one image pixel per screen pixel
    entry = viewport.current()
    expected = load_frame(entry.frame.name, 0).draw().pixels
    qtbot.waitUntil(lambda: viewport.grab().width() > 0)
    grabbed = viewport.grab().toImage()
    left = round(viewport.width() / 2 - SIZE / 2)
    top = round(viewport.height() / 2 - SIZE / 2)
    region = np.array([[grabbed.pixelColor(left + x, top + y).red() for x in range(SIZE)]
                       for y in range(SIZE)], dtype=np.uint8)
    assert np.array_equal(region, expected)
    # and the standard's linear window, computed here independently (PS3.3 C.11.2.1.2.1)
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    hu = np.where(np.hypot(x - 31.5, y - 31.5) < 26, -200 + 12 * x + 40 * 2, -1000).astype(float)
    linear = np.clip(((hu - 39.5) / 399 + 0.5) * 255, 0, 255)
    assert np.abs(region.astype(float) - linear).max() <= 1


def test_an_undecodable_image_shows_why(qtbot, open_series):
    window = open_series("broken")
    viewport = window.panes[0].viewport
    entry = viewport.current()
    assert entry.display is None and "cannot" in entry.error.lower()
    with qtbot.waitSignal(viewport.shown, timeout=10000):
        viewport.update()  # the placeholder is painted, the window lives on
    key(qtbot, viewport, Qt.Key.Key_Down)
    assert window.isVisible()


def test_view_command_is_on_the_command_line():
    from app.cli import build_parser

    args = build_parser().parse_args(["view", "1.2.3", "--image", "4"])
    assert args.series_uid == "1.2.3" and args.image == 4


def test_closing_while_frames_decode_and_several_windows(qtbot, open_series):
    """Two windows at once; one closes with decodes under way (the other
    keeps working): no crash, no frame delivered to a closed window."""
    first = open_series("axial")
    second = open_series("second")
    key(qtbot, first.panes[0].viewport, Qt.Key.Key_End)
    first.close()
    viewport = second.panes[0].viewport
    key(qtbot, viewport, Qt.Key.Key_End, index=5)
    assert "Im 6 / 6" in corner(viewport, "bottom-left")


def test_flip_left_right_swaps_the_screens_left_and_right_after_a_quarter_turn(qtbot, open_series):
    from ui.viewer.overlay import edge_letters

    window = open_series("axial")
    viewport = window.panes[0].viewport
    state = viewport.state

    def letters():
        return edge_letters(viewport.current().info.orientation, state.rotation, state.flip_h,
                            state.flip_v)

    viewport.rotate(1)
    turned = letters()
    viewport.flip(True)
    flipped = letters()
    assert (flipped["left"], flipped["right"]) == (turned["right"], turned["left"])
    assert (flipped["top"], flipped["bottom"]) == (turned["top"], turned["bottom"])


def test_help_overlay_and_cine(qtbot, open_series):
    from ui.viewer.help import help_rows

    window = open_series("axial")
    viewport = window.panes[0].viewport
    key(qtbot, viewport, Qt.Key.Key_F1)
    assert window.help.isVisible()
    keys = dict(help_rows())
    assert keys["I"] == "invert" and "Space" in keys and "Right drag" in keys
    key(qtbot, viewport, Qt.Key.Key_Escape)  # any key closes it
    assert not window.help.isVisible()
    key(qtbot, viewport, Qt.Key.Key_F1)
    key(qtbot, viewport, Qt.Key.Key_Down)  # a viewer key too, and it does nothing else
    assert not window.help.isVisible() and viewport.state.index == 0
    with qtbot.waitSignal(viewport.shown, check_params_cb=lambda i: i == 2, timeout=10000):
        key(qtbot, viewport, Qt.Key.Key_Space)  # cine runs through the stack
    key(qtbot, viewport, Qt.Key.Key_Space)
    assert not window.cine.isActive()
