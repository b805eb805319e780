"""A bare viewport on a series, for a place that wants a look at a series
without a viewer window: the Content Manager's preview beside its tree.

It is the viewer's own :class:`Viewport` (wheel scroll, right-drag window,
keys), fed the same way the window feeds it: the series read through
``runner.read`` on a pool thread, its frames decoded on the viewers' pool
by a :class:`FrameLoader`. Asking for another series while one is being
read drops the late answer, so the view always ends on the last asked.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from app.home import Home
from ui.jobs import JobRunner
from ui.viewer.canvas import Viewport
from ui.viewer.launch import NON_IMAGE, first_image_series
from ui.viewer.loader import FrameLoader
from ui.viewer.series_data import SeriesData, read_series


class SeriesView(Viewport):
    """``opened(series_uid, image_count)`` once a series is read and shown
    (its first image follows on ``shown``); ``series_uid`` is what it shows."""

    opened = Signal(str, int)

    def __init__(self, home: Home, runner: JobRunner, parent: Optional[QWidget] = None,
                 hint: str = "Select a series to see it here"):
        super().__init__(parent)
        self.home, self.runner = home, runner
        self.hint = hint
        self.series_uid: Optional[str] = None
        self.data: Optional[SeriesData] = None
        self._asked: Optional[tuple[str, str]] = None  # ("series" | "study", uid)
        self._generation = 0
        self._put(None, {}, hint)

    def show_series(self, series_uid: Optional[str]) -> None:
        """Show *series_uid* from its first image (None: the hint)."""
        self._ask("series", series_uid)

    def show_study(self, study_uid: Optional[str]) -> None:
        """Show the study's first series with images (or say it has none)."""
        self._ask("study", study_uid)

    def clear(self, message: str = "") -> None:
        self._generation += 1
        self._asked, self.series_uid, self.data = None, None, None
        self._put(None, {}, message or self.hint)

    def _ask(self, kind: str, uid: Optional[str]) -> None:
        if not uid:
            self.clear()
            return
        if self._asked == (kind, uid):
            return  # shown already, or on its way
        self._generation += 1
        generation, home, self._asked = self._generation, self.home, (kind, uid)
        self._put(None, {}, "Loading…")

        def read(db, progress, cancel) -> Optional[SeriesData]:
            series_uid = uid if kind == "series" else first_image_series(db, uid)
            return read_series(home, db, series_uid) if series_uid else None

        self.runner.read(home, "Preview series", read,
                         on_success=lambda data: self._read(generation, data),
                         on_failure=lambda message: self._failed(generation, message))

    def _read(self, generation: int, data: Optional[SeriesData]) -> None:
        if generation != self._generation:
            return
        if data is None:
            self.series_uid, self.data = None, None
            self._put(None, {}, "No series with images in this study")
            self.opened.emit("", 0)
            return
        self.series_uid, self.data = data.series_uid, data
        modality = (data.header.get("modality") or "").upper()
        if modality in NON_IMAGE or not data.positions:  # a structure set, a plan, a report
            self._put(None, data.header, "No images in this series" + (
                f" ({modality})" if modality else ""))
            self.opened.emit(data.series_uid, 0)
            return
        self._put(FrameLoader(data.series_uid, data.positions, self), data.header, "")
        self.opened.emit(data.series_uid, len(data.positions))

    def _failed(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self.series_uid, self.data = None, None
            self._put(None, {}, message)
            self.opened.emit("", 0)

    def _put(self, loader: Optional[FrameLoader], header: dict, message: str) -> None:
        """Show *loader*'s series (or *message*); the loader shown before goes."""
        old = self.loader
        self.set_series(loader, header, 0, message=message)
        if old is not None and old is not loader:
            old.deleteLater()

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.loader is not None:
            self.loader.cancel()
        super().closeEvent(event)
