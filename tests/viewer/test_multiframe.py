"""A multi-frame image in the viewer, as a sonographer reviews a cine loop:
a 200-frame image scrolls frame by frame (each scroll position one frame,
the corner saying which), and cine plays through the frames at the frame
rate set in the toolbar. Every wait is on the viewport's `shown` signal.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402

from app.home import os_login  # noqa: E402
from tests.factories import sc_dataset  # noqa: E402

FRAMES, SIZE = 200, 48
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"


def _frames() -> np.ndarray:
    """Frame f: a ramp across the columns lifted by f, so each frame is its own."""
    ramp = np.tile(np.arange(SIZE, dtype=np.uint16), (SIZE, 1))
    return np.stack([(ramp + f) for f in range(FRAMES)]).astype(np.uint16)


@pytest.fixture(scope="module")
def cine_series(library) -> str:
    ds = sc_dataset(_frames(), frames=True, Modality="US", SOPClassUID=US_MULTIFRAME,
                    PatientName="CINE^LOOP", SeriesDescription="Cine loop", FrameTime=40.0)
    ds.file_meta.MediaStorageSOPClassUID = US_MULTIFRAME
    return library.add(ds)


@pytest.fixture
def window(qtbot, qapp, viewer_home, cine_series):
    from app.accounts import accounts
    from ui.app import apply_theme
    from ui.jobs import JobRunner
    from ui.viewer import open_viewer

    apply_theme(qapp)
    runner = JobRunner()
    db = viewer_home.connect()
    user = accounts.get_user(db, os_login())
    db.close()
    w = open_viewer(None, viewer_home, user, runner, cine_series)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.panes[0].viewport.current() is not None, timeout=15000)
    yield w
    runner.shutdown()  # pytest-qt has closed the window (closing stops cine)


def bottom_left(viewport) -> list[str]:
    from ui.viewer.corner_text import corner_lines

    return corner_lines(viewport, viewport.current())["bottom-left"]


def test_a_multiframe_image_scrolls_frame_by_frame(qtbot, window):
    pane = window.panes[0]
    viewport = pane.viewport
    assert viewport.count == FRAMES  # one scroll position per frame of the one image
    assert bottom_left(viewport)[:2] == ["Im 1 / 200", "Frame 1 / 200"]
    frames = _frames()
    for index in range(1, 12):  # Down eleven times: frame 12
        with qtbot.waitSignal(viewport.shown, check_params_cb=lambda i, n=index: i == n,
                              timeout=15000):
            qtbot.keyClick(viewport, Qt.Key.Key_Down)
        entry = viewport.current()
        assert entry.frame.index == index
        assert np.array_equal(entry.frame.values, frames[index])
    assert bottom_left(viewport)[:2] == ["Im 12 / 200", "Frame 12 / 200"]
    assert pane.position.text() == "12 / 200" and pane.bar.value() == 11
    with qtbot.waitSignal(viewport.shown, check_params_cb=lambda i: i == FRAMES - 1,
                          timeout=15000):
        qtbot.keyClick(viewport, Qt.Key.Key_End)
    assert "Frame 200 / 200" in bottom_left(viewport)
    assert np.array_equal(viewport.current().frame.values, frames[-1])


def test_cine_plays_the_frames_at_the_set_rate(qtbot, window):
    viewport = window.panes[0].viewport
    window.fps.setValue(25)
    seen: list[tuple[int, float]] = []
    viewport.shown.connect(lambda i: seen.append((i, time.perf_counter())))
    started = time.perf_counter()
    window.cine_action.setChecked(True)  # the toolbar's Cine button
    assert window.cine.isActive() and window.cine.interval() == 40  # 25 frames a second
    with qtbot.waitSignal(viewport.shown, check_params_cb=lambda i: i >= 15, timeout=15000):
        pass
    window.cine_action.setChecked(False)
    assert not window.cine.isActive()
    indices = [i for i, _ in seen]
    assert indices == sorted(indices) and indices[-1] >= 15  # forward, frame after frame
    reached = next(t for i, t in seen if i >= 15)
    # each frame waits its turn: 15 steps at 40 ms cannot be done sooner
    # (Qt may fire a timer a little early, never a whole frame)
    assert reached - started >= 15 * 0.040 * 0.9
