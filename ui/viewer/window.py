"""The viewer window: one to four viewports (layouts 1x1, 1x2, 2x2), each
with its scroll bar and position ("12 / 200"), a toolbar, cine, and the
help overlay. Several windows may be open at once; each reads the cache
through the runner (never on the GUI thread) and decodes through the
viewers' shared pool (ui/viewer/loader.py).

The first viewport shows the series that was opened; the others show the
study's next series with images, as a radiologist hangs a study, and the
toolbar's series list changes what the current viewport shows.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QMainWindow,
                               QScrollBar, QSpinBox, QToolBar, QVBoxLayout, QWidget)

from app.home import Home
from ui.jobs import JobRunner
from ui.viewer.canvas import Viewport
from ui.viewer.help import HelpOverlay
from ui.viewer.loader import FrameLoader
from ui.viewer.measure_tools import MeasureTools
from ui.viewer.priors import PriorControls
from ui.viewer.rt_control import RtControl
from ui.viewer.series_data import SeriesData, read_series

LAYOUTS = {"1x1": (1, 1), "1x2": (1, 2), "2x2": (2, 2)}
LAYOUT_KEYS = {Qt.Key.Key_1: "1x1", Qt.Key.Key_2: "1x2", Qt.Key.Key_4: "2x2"}
CINE_FPS = 15


class Pane(QWidget):
    """A viewport over its scroll bar and position label."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.viewport = Viewport(self)
        self.bar = QScrollBar(Qt.Orientation.Horizontal, self)
        self.bar.setObjectName("viewerScroll")
        self.position = QLabel("", self)
        self.position.setObjectName("viewerPosition")
        self.position.setFixedWidth(96)  # a new number never re-lays the window out
        self.position.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row = QHBoxLayout()
        row.setContentsMargins(4, 0, 4, 2)
        row.addWidget(self.bar, 1)
        row.addWidget(self.position)
        box = QVBoxLayout(self)
        box.setContentsMargins(1, 1, 1, 1)
        box.setSpacing(2)
        box.addWidget(self.viewport, 1)
        box.addLayout(row)
        self.series_uid = ""
        self.request = 0  # the last series asked for: an earlier read landing late is dropped
        self.bar.valueChanged.connect(self._bar_moved)
        self.viewport.changed.connect(self._sync)

    def _bar_moved(self, value: int) -> None:
        if value != self.viewport.state.index:
            self.viewport.set_index(value)

    def _sync(self) -> None:
        count, index = self.viewport.count, self.viewport.state.index
        self.bar.blockSignals(True)
        if self.bar.maximum() != max(0, count - 1):
            self.bar.setRange(0, max(0, count - 1))
            self.bar.setPageStep(max(1, count // 10))
        if self.bar.value() != index:
            self.bar.setValue(index)
        self.bar.blockSignals(False)
        text = f"{index + 1} / {count}" if count else ""
        if self.position.text() != text:
            self.position.setText(text)


class ViewerWindow(QMainWindow):
    """See the module. ``series_opened(series_uid)`` once the first series is read."""

    series_opened = Signal(str)

    def __init__(self, home: Home, user, runner: JobRunner, series_uid: str,
                 image: Optional[int] = None, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setObjectName("viewerWindow")
        self.setWindowTitle("Viewer")
        self.resize(*_first_size())
        self.home, self.user, self.runner = home, user, runner
        self.study_series: list[dict] = []
        self.panes: list[Pane] = []
        self.active: Optional[Pane] = None
        self.layout_name = "1x1"
        self._closed = False
        self._grid_host = QWidget(self)
        self._grid = QGridLayout(self._grid_host)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        self.setCentralWidget(self._grid_host)
        self.help = HelpOverlay(self._grid_host)
        self.cine = QTimer(self)
        self.cine.timeout.connect(self._cine_step)
        self._build_toolbar()
        self._grid.addWidget(self._add_pane(), 0, 0)
        self._set_active(self.panes[0])
        self.open_series(self.panes[0], series_uid, image)

    # -- toolbar -------------------------------------------------------------------

    def _build_toolbar(self) -> None:
        bar = QToolBar("Viewer", self)
        bar.setObjectName("viewerToolbar")
        bar.setMovable(False)
        self.addToolBar(bar)
        for key, name in zip("124", LAYOUTS):
            action = bar.addAction(name, lambda n=name: self.set_layout(n))
            action.setToolTip(f"Layout {name}: {LAYOUTS[name][0] * LAYOUTS[name][1]} viewports (Ctrl+{key})")
        bar.addSeparator()
        self.series_box = QComboBox(bar)
        self.series_box.setObjectName("viewerSeries")
        self.series_box.setAccessibleName("Series")
        self.series_box.setAccessibleDescription("The series the current viewport shows")
        self.series_box.setMinimumContentsLength(24)
        self.series_box.activated.connect(self._series_chosen)
        bar.addWidget(self.series_box)
        bar.addSeparator()
        for text, tip, act in (("Invert", "Invert the grey scale (I)", lambda v: v.toggle_invert()),
                               ("Fit", "Fit the image to the viewport (F)", lambda v: v.set_zoom(None)),
                               ("1:1", "Actual size, one image pixel per screen pixel (A)", lambda v: v.set_zoom(1.0)),
                               ("Rotate", "Rotate 90° clockwise (])", lambda v: v.rotate(1)),
                               ("Flip", "Flip left-right (H)", lambda v: v.flip(True)),
                               ("Reset", "Reset window, zoom, pan and rotation (R)", lambda v: v.reset())):
            action = bar.addAction(text, lambda a=act: self.active and a(self.active.viewport))
            action.setToolTip(tip)
        bar.addSeparator()
        self.cine_action = QAction("Cine", self, checkable=True)
        self.cine_action.toggled.connect(self.set_cine)
        bar.addAction(self.cine_action)
        self.cine_action.setToolTip("Play the series as a loop (Space)")
        self.fps = QSpinBox(bar)
        self.fps.setObjectName("viewerCineRate")
        self.fps.setAccessibleName("Cine rate")
        self.fps.setAccessibleDescription("Images per second while cine plays")
        self.fps.setRange(1, 60)
        self.fps.setValue(CINE_FPS)
        self.fps.setSuffix(" fps")
        self.fps.valueChanged.connect(lambda _: self.cine.isActive() and self.set_cine(True))
        bar.addWidget(self.fps)
        bar.addSeparator()
        self.priors = PriorControls(self, bar)
        bar.addSeparator()
        self.rt = RtControl(self, bar)  # radiotherapy overlay and legend (ui/viewer/rt_control.py)
        self.measures = MeasureTools(self, bar)  # Length, Angle, Ellipse, Polygon (measure_tools.py)
        bar.addAction("Help", self.help.toggle).setToolTip("The viewer's keys (F1 or ?)")

    # -- series and panes ---------------------------------------------------------

    def open_series(self, pane: Pane, series_uid: str, image: Optional[int] = None) -> None:
        """Read the series on a pool thread; the pane shows it when it is read."""
        home = self.home
        pane.viewport.set_series(None, {}, message="Loading…")
        pane.request = token = pane.request + 1
        self.runner.read(home, "Open series", lambda db, progress, cancel: read_series(
            home, db, series_uid),
            on_success=lambda data, p=pane: p.request == token and self._opened(p, data, image),
            on_failure=lambda message, p=pane: p.request == token and p.viewport.set_series(
                None, {}, message=message))

    def _opened(self, pane: Pane, data: SeriesData, image: Optional[int]) -> None:
        if self._closed or pane not in self.panes:
            return  # closed, or the layout dropped the pane, while the series was read
        pane.series_uid = data.series_uid
        if not self.study_series:
            self.study_series = data.study_series
            self._fill_series_box()
            h = data.header
            self.setWindowTitle(" – ".join(t for t in (h.get("patient_name", "").replace("^", " "),
                                                       h.get("study_description", ""), "Viewer") if t))
        loader = FrameLoader(data.series_uid, data.positions, pane)
        index = max(0, (image or 1) - 1)
        pane.viewport.set_series(loader, data.header, index,
                                 message="" if data.positions else "No images in this series")
        self.rt.series_opened(pane, data)
        if pane is self.active:
            self._fill_series_box()
        if pane is self.panes[0]:
            self.series_opened.emit(data.series_uid)

    def _fill_series_box(self) -> None:
        self.series_box.blockSignals(True)
        self.series_box.clear()
        for s in self.study_series:
            self.series_box.addItem(s["label"], s["series_instance_uid"])
        if self.active is not None:
            self.series_box.setCurrentIndex(self.series_box.findData(self.active.series_uid))
        self.series_box.blockSignals(False)

    def _series_chosen(self, row: int) -> None:
        uid = self.series_box.itemData(row)
        if uid and self.active is not None and uid != self.active.series_uid:
            self.open_series(self.active, uid)

    def _add_pane(self) -> Pane:
        pane = Pane(self._grid_host)
        pane.viewport.activated.connect(lambda _v, p=pane: self._set_active(p))
        self.panes.append(pane)
        self.measures.attach(pane.viewport)
        return pane

    def _set_active(self, pane: Pane) -> None:
        for p in self.panes:
            p.viewport.active = p is pane and len(self.panes) > 1
            p.viewport.update()
        self.active = pane
        pane.viewport.setFocus()
        self._fill_series_box()

    def set_layout(self, name: str) -> None:
        rows, cols = LAYOUTS[name]
        self.layout_name = name
        first = self.panes[0].series_uid
        taken = {p.series_uid for p in self.panes}
        while first and len(self.panes) < rows * cols:
            uid = self._next_unshown(first, taken)
            taken.add(uid)
            pane = self._add_pane()
            if uid:
                self.open_series(pane, uid)
            else:
                pane.viewport.set_series(None, {}, message="No other series in this study: "
                                                           "choose one in the series list")
        while len(self.panes) > rows * cols:
            pane = self.panes.pop()
            if pane.viewport.loader is not None:
                pane.viewport.loader.cancel()
            pane.deleteLater()
        for i, pane in enumerate(self.panes):
            self._grid.addWidget(pane, i // cols, i % cols)
        self._set_active(self.active if self.active in self.panes else self.panes[0])

    def _next_unshown(self, first: str, shown: set[str]) -> str:
        """The study's next series (after `first`, then from the start) not
        in `shown`; '' when every one is. Before the study's series are
        known, `first` again."""
        uids = [s["series_instance_uid"] for s in self.study_series]
        if first not in uids:
            return first
        start = uids.index(first)
        return next((uid for k in range(1, len(uids)) if (uid := uids[(start + k) % len(uids)])
                     not in shown), "")

    # -- cine and keys ---------------------------------------------------------------

    def set_cine(self, on: bool) -> None:
        if on:
            self.cine.start(round(1000 / self.fps.value()))
        else:
            self.cine.stop()
        if self.cine_action.isChecked() != on:
            self.cine_action.setChecked(on)

    def _cine_step(self) -> None:
        viewport = self.active.viewport if self.active else None
        if viewport is None or not viewport.count:
            return
        nxt = viewport.state.index + 1
        viewport.set_index(0 if nxt >= viewport.count else nxt)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        key, mods = event.key(), event.modifiers()
        if self.help.isVisible() and key not in (Qt.Key.Key_F1, Qt.Key.Key_Question):
            self.help.hide()
        elif key in (Qt.Key.Key_F1, Qt.Key.Key_Question):
            self.help.toggle()
        elif key == Qt.Key.Key_Space:
            self.set_cine(not self.cine.isActive())
        elif mods & Qt.KeyboardModifier.ControlModifier and key in LAYOUT_KEYS:
            self.set_layout(LAYOUT_KEYS[key])
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.help.isVisible():
            self.help.setGeometry(self._grid_host.rect())

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self._closed = True
        self.cine.stop()
        for pane in self.panes:
            if pane.viewport.loader is not None:
                pane.viewport.loader.cancel()
        super().closeEvent(event)


def _first_size() -> tuple[int, int]:
    """1400 x 900 (every tool of the bar in sight beside the RT panel), or
    the screen's free area when it is smaller."""
    screen = QGuiApplication.primaryScreen()
    free = screen.availableGeometry() if screen is not None else None
    if free is None or free.isEmpty():
        return 1400, 900
    return min(1400, free.width()), min(900, free.height())
