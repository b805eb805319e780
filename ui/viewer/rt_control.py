"""The viewer window's radiotherapy switch: when a pane opens an image
series, the cache is asked (a runner job: headers read, structure sets
indexed and dose grids read once, never on the GUI thread) for the RT
Structure Sets and RT Doses that belong over it (app/viewer/rt_find.py).
When there are some, an :class:`~ui.viewer.rt_layer.RtLayer` is attached to
every viewport showing that series, the legend docks beside them and the
toolbar's "RT" button (checked) hides and shows both.
"""

from __future__ import annotations

from typing import Optional

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction

from app.viewer.rt_find import load_rt, rt_for_series
from ui.viewer.rt_layer import RtLayer
from ui.viewer.rt_legend import RtLegend

RT_MODALITIES = {"RTSTRUCT", "RTPLAN", "RTDOSE", "RTRECORD", "REG", "SR", "KO", "PR"}


class RtControl(QObject):
    """See the module. ``found(series_uid, layer or None)`` once the cache answered."""

    found = Signal(str, object)

    def __init__(self, window, bar):
        super().__init__(window)  # the window is reached as parent(): no reference cycle keeps it
        self.action = QAction("RT", window, checkable=True)
        self.action.setToolTip("Radiotherapy: contours and dose over the planning images")
        self.action.setEnabled(False)
        self.action.toggled.connect(self._toggled)
        bar.addAction(self.action)
        self.legend = RtLegend(window)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.legend)
        self.legend.hide()
        self.layers: dict[str, Optional[RtLayer]] = {}  # series UID -> layer (None: nothing)
        self._asked: set[str] = set()
        self._watched: set[int] = set()

    @property
    def window(self):
        return self.parent()

    def series_opened(self, pane, data) -> None:
        """A pane now shows ``data`` (ui/viewer/series_data.SeriesData)."""
        viewport = pane.viewport
        self._detach(viewport)
        uid = data.series_uid
        if data.header.get("modality", "") in RT_MODALITIES or not data.positions:
            return
        if uid in self.layers:
            self._attach(viewport, self.layers[uid])
            return
        if uid in self._asked:
            return  # on its way: _loaded attaches every pane showing it
        self._asked.add(uid)
        home = self.window.home
        self.window.runner.read(
            home, "Find radiotherapy objects",
            lambda db, progress, cancel: load_rt(rt_for_series(home, db, uid)),
            on_success=lambda loaded: self._loaded(uid, loaded),
            on_failure=lambda _message: self._loaded(uid, None))

    def layer_of(self, viewport) -> Optional[RtLayer]:
        return next((layer for layer in viewport.layers if isinstance(layer, RtLayer)), None)

    def _loaded(self, uid: str, loaded) -> None:
        if not shiboken6.isValid(self) or getattr(self.window, "_closed", False):
            return  # the window closed while the cache was read
        layer = RtLayer(loaded, self) if loaded is not None and loaded.found else None
        self.layers[uid] = layer
        if layer is not None:
            layer.changed.connect(lambda l=layer: self._repaint(l))
            layer.set_enabled(self.action.isChecked() or not self.action.isEnabled())
            for pane in self.window.panes:
                if pane.series_uid == uid:
                    self._attach(pane.viewport, layer)
            if not self.action.isEnabled():  # the first found: shown at once
                self.action.setEnabled(True)
                self.action.setChecked(True)
            if self.legend.layer is None or self._is_active(uid):
                self.legend.show_layer(layer)
            self.legend.setVisible(self.action.isChecked())
        self.found.emit(uid, layer)

    def _is_active(self, uid: str) -> bool:
        return self.window.active is not None and self.window.active.series_uid == uid

    def _attach(self, viewport, layer: Optional[RtLayer]) -> None:
        if layer is None:
            return
        viewport.layers.append(layer)
        layer.viewports.append(viewport)
        if id(viewport) not in self._watched:
            self._watched.add(id(viewport))
            viewport.activated.connect(self._activated)
            viewport.destroyed.connect(lambda *_, v=viewport: self._forget(v))
        viewport.update()

    def _detach(self, viewport) -> None:
        for layer in [layer for layer in viewport.layers if isinstance(layer, RtLayer)]:
            viewport.layers.remove(layer)
            if viewport in layer.viewports:
                layer.viewports.remove(viewport)

    def _forget(self, viewport) -> None:
        self._watched.discard(id(viewport))
        for layer in self.layers.values():
            if layer is not None and viewport in layer.viewports:
                layer.viewports.remove(viewport)

    def _activated(self, viewport) -> None:
        layer = self.layer_of(viewport)
        if layer is not None and layer is not self.legend.layer:
            self.legend.show_layer(layer)

    def _repaint(self, layer: RtLayer) -> None:
        for viewport in list(layer.viewports):
            try:
                viewport.update()
            except RuntimeError:  # deleted with its pane
                layer.viewports.remove(viewport)

    def _toggled(self, on: bool) -> None:
        for layer in self.layers.values():
            if layer is not None:
                layer.set_enabled(on)
        self.legend.setVisible(on and self.legend.layer is not None)
