"""The measuring tools of one viewer window: the toolbar's Length, Angle,
Ellipse and Polygon (keys L, G, E, P; Esc ends a tool), a
:class:`~ui.viewer.measure_layer.MeasureLayer` on each viewport, the
measurement list (ui/viewer/measure_panel.py), and the jobs that keep and
read measurements.

A finished shape is kept as a TID 1500 report in the image's study by
app.measurements.record (what ``studydesk measure`` does, so the numbers
are the command line's): a ``runner.write`` job, never on the GUI thread,
that announces the study changed, so the worklist's series count and
Advanced Reporting icon follow, and so does this window, which reads the
study's reports again (app.measurements.index, a ``runner.read`` job) and
draws each measurement on the image its SCOORD refers to. A refusal (no
pixel spacing for a length, a study locked by another user, no privilege)
is shown over the image and in the list; nothing is kept.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from shiboken6 import isValid

from app.errors import RuleRefused
from app.measurements.image import image_of, units_of
from app.measurements.index import measurements_of
from app.measurements.record import measure_angle, measure_length, measure_region
from ui.cache_events import STUDIES, CacheChange, events_of
from ui.viewer.measure_layer import TOOLS, MeasureLayer, Shown, shown_from, value_text
from ui.viewer.measure_panel import MeasurePanel

TOOL_KEYS = {"length": ("Length", "L"), "angle": ("Angle", "G"), "ellipse": ("Ellipse", "E"),
             "polygon": ("Polygon", "P")}
MESSAGE_MS = 10000  # a refusal stays this long over the image


class MeasureTools(QObject):
    """See the module. Signals for whoever waits on a measurement (tests)."""

    saved = Signal(dict)  # app.measurements.record's result
    refused = Signal(str)  # the one-line reason
    read = Signal(str)  # a study's measurements were (re)read

    def __init__(self, window, bar):
        super().__init__(window)
        self.home, self.user, self.runner = window.home, window.user, window.runner
        self.tool: Optional[str] = None
        self.studies: dict[str, list[Shown]] = {}  # study UID -> its saved measurements
        self.pending: dict[str, list[Shown]] = {}  # being saved: drawn until read back
        self._reads: dict[str, int] = {}  # study UID -> generation of its latest read
        self.actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        group.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
        bar.addSeparator()
        for tool in TOOLS:
            text, key = TOOL_KEYS[tool]
            action = QAction(text, window, checkable=True)
            action.setObjectName(f"measure_{tool}")
            action.setShortcut(QKeySequence(key))
            action.setToolTip(f"{text} ({key}); Esc ends it")
            action.toggled.connect(lambda on, t=tool: self._toggled(t, on))
            group.addAction(action)
            bar.addAction(action)
            self.actions[tool] = action
        bar.addSeparator()
        self.end_action = QAction("End tool", window)
        self.end_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.end_action.setEnabled(False)  # Esc goes elsewhere (the help overlay) without a tool
        self.end_action.triggered.connect(lambda: self.set_tool(None))
        window.addAction(self.end_action)
        self.panel = MeasurePanel(window)
        self.panel.go_to.connect(self._go_to)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.panel)
        self.panel.hide()  # shown when a tool is chosen or the series has measurements
        events_of(self.home).cache_changed.connect(self._cache_changed)

    @property
    def window(self):
        """The viewer window (this object's parent; no reference of our own, so
        a closed window's wrapper goes with it, without waiting for a cycle
        collection)."""
        return self.parent()

    # -- viewports --------------------------------------------------------------------

    def attach(self, viewport) -> MeasureLayer:
        layer = MeasureLayer(self)
        viewport.layers.append(layer)
        viewport.changed.connect(lambda v=viewport: self._viewport_changed(v))
        viewport.activated.connect(lambda _v: self.refresh_panel())
        return layer

    @staticmethod
    def layer_of(viewport) -> Optional[MeasureLayer]:
        return next((la for la in viewport.layers if isinstance(la, MeasureLayer)), None)

    def _viewport_changed(self, viewport) -> None:
        layer = self.layer_of(viewport)
        if layer is None:
            return
        if layer.index != viewport.state.index:
            layer.index = viewport.state.index
            layer.cancel()  # a shape half drawn stays on the image it was begun on
        if layer.loader is viewport.loader:
            return
        layer.loader = viewport.loader  # a new series: read its study's measurements
        layer.cancel()
        study = viewport.header.get("study_instance_uid")
        if study and study not in self._reads:
            self.reload(study)
        self.refresh_panel()

    def _active(self):
        pane = self.window.active
        return pane.viewport if pane is not None else None

    # -- the tool ---------------------------------------------------------------------

    def set_tool(self, tool: Optional[str]) -> None:
        for name, action in self.actions.items():
            if action.isChecked() != (name == tool):
                action.setChecked(name == tool)  # comes back through _toggled

    def _toggled(self, tool: Optional[str], on: bool) -> None:
        if on:
            self.tool = tool
        elif tool == self.tool:
            self.tool = None
        self.end_action.setEnabled(self.tool is not None)
        for pane in self.window.panes:
            layer = self.layer_of(pane.viewport)
            if layer is not None:
                layer.cancel()
            pane.viewport.setCursor(Qt.CursorShape.CrossCursor if self.tool
                                    else Qt.CursorShape.ArrowCursor)
            pane.viewport.update()
        if self.tool:
            self.panel.show()

    def unit_of(self, viewport) -> str:
        entry = viewport.current()
        ds = entry.frame.ds if entry is not None and entry.frame is not None else None
        return units_of(ds) if ds is not None else "1"

    # -- keeping a measurement ------------------------------------------------------------

    def finish(self, viewport, tool: str, points: list[tuple[float, float]]) -> None:
        """Keep the shape drawn on *viewport*'s current image (a write job)."""
        loader, index = viewport.loader, viewport.state.index
        study = viewport.header.get("study_instance_uid", "")
        if loader is None or not study or not 0 <= index < len(loader):
            return
        image, f = loader.images[index]
        number = _number(loader.images, index)
        frame = f + 1 if image.frames > 1 else None
        series_uid, label, home, user = loader.key, self.panel.label_text(), self.home, self.user
        sop_uid = image.sop_instance_uid
        shape = "ELLIPSE" if tool == "ellipse" else "POLYLINE"
        pending = Shown("", "", sop_uid, frame, shape, list(points), label, drawn_as=tool)
        self.pending.setdefault(study, []).append(pending)

        def work(db, progress, cancel):
            if image_of(db, home, series_uid, number, frame).sop_instance_uid != sop_uid:
                raise RuleRefused(f"image {number} of series {series_uid} is another image since "
                                  "the viewer opened it: reopen the series and measure again")
            if tool == "length":
                return measure_length(home, user, series_uid, number, points[0], points[1],
                                      label, frame)
            if tool == "angle":
                return measure_angle(home, user, series_uid, number, *points, label=label,
                                     frame=frame)
            return measure_region(home, user, series_uid, number, tool, points, label, frame)

        self.runner.write(home, f"Measure ({TOOL_KEYS[tool][0].lower()})", work,
                          changed=CacheChange.of(STUDIES, study_uids=[study]),
                          on_success=lambda result: self._saved(study, pending, result),
                          on_failure=lambda message: self._refused(study, pending, message))
        viewport.update()

    def _saved(self, study: str, pending: Shown, result: dict) -> None:
        if not isValid(self):
            return
        pending.report_uid = result.get("report_uid", "")
        self.panel.set_message("")
        self.panel.label.clear()
        self.saved.emit(result)

    def _refused(self, study: str, pending: Shown, message: str) -> None:
        if not isValid(self):
            return
        if pending in self.pending.get(study, []):
            self.pending[study].remove(pending)
        self.show_message(message)
        self.refused.emit(message)

    def show_message(self, message: str) -> None:
        """A refusal over the current image and in the list, until the next
        shape or for a few seconds (never a dialog: the user keeps working)."""
        self.panel.set_message(message)
        self.panel.show()
        for pane in self.window.panes:
            layer = self.layer_of(pane.viewport)
            if layer is not None:
                layer.message = message if pane is self.window.active else ""
                pane.viewport.update()
        QTimer.singleShot(MESSAGE_MS, lambda: isValid(self) and self._clear_message(message))

    def _clear_message(self, message: str) -> None:
        for pane in self.window.panes:
            layer = self.layer_of(pane.viewport)
            if layer is not None and layer.message == message:
                layer.message = ""
                pane.viewport.update()

    # -- reading them back ----------------------------------------------------------------

    def reload(self, study: str) -> None:
        generation = self._reads[study] = self._reads.get(study, 0) + 1
        self.runner.read(self.home, "Read measurements",
                         lambda db, progress, cancel: measurements_of(db, study),
                         on_success=lambda found: self._read_done(study, generation, found),
                         on_failure=lambda message: None)

    def _read_done(self, study: str, generation: int, found: list) -> None:
        if not isValid(self) or self._reads.get(study) != generation:
            return  # closed, or a later read is on its way
        shown = self.studies[study] = shown_from(found)
        kept = {s.report_uid for s in shown}
        self.pending[study] = [p for p in self.pending.get(study, []) if p.report_uid not in kept]
        for pane in self.window.panes:
            pane.viewport.update()
        self.refresh_panel()
        self.read.emit(study)

    def _cache_changed(self, change) -> None:
        if not change.touches(STUDIES):
            return
        for study in list(self._reads):
            if not change.study_uids or study in change.study_uids:
                self.reload(study)

    def shown_on(self, viewport, index: int) -> list[Shown]:
        """The saved (and being saved) measurements drawn on image *index*."""
        loader = viewport.loader
        study = viewport.header.get("study_instance_uid", "")
        if loader is None or not 0 <= index < len(loader):
            return []
        image, f = loader.images[index]
        return [s for s in self.studies.get(study, []) + self.pending.get(study, [])
                if s.image_uid == image.sop_instance_uid and (s.frame or 1) == f + 1]

    # -- the list -------------------------------------------------------------------------

    def refresh_panel(self) -> None:
        viewport = self._active()
        if viewport is None or viewport.loader is None:
            self.panel.show_rows([])
            return
        positions: dict[tuple, int] = {}
        numbers: dict[str, int] = {}
        for i, (image, f) in enumerate(viewport.loader.images):
            positions.setdefault((image.sop_instance_uid, f + 1), i)
            numbers.setdefault(image.sop_instance_uid, len(numbers) + 1)
        study = viewport.header.get("study_instance_uid", "")
        rows = []
        for s in self.studies.get(study, []):
            position = positions.get((s.image_uid, s.frame or 1))
            if position is not None:
                label = f"  – {s.user_label}" if s.user_label else ""
                rows.append((position, f"Im {numbers[s.image_uid]}  {TOOL_KEYS[s.tool][0]}  "
                             + "  ".join(value_text(s.values).split("\n")) + label))
        rows.sort(key=lambda r: r[0])
        self.panel.show_rows([(text, position) for position, text in rows])
        if rows and not self.panel.isVisible():
            self.panel.show()

    def _go_to(self, position: int) -> None:
        viewport = self._active()
        if viewport is not None:
            viewport.set_index(position)
            viewport.setFocus()


def _number(images: list, index: int) -> int:
    """Image number (1-based, as app.measurements.image_of counts) of the
    viewport position *index*: a multi-frame image spans several positions."""
    number, last = 0, None
    for image, _frame in images[:index + 1]:
        if image is not last:
            number, last = number + 1, image
    return number

