"""The prior study side by side: the toolbar's "Prior" menu lists the
patient's earlier studies that hold a series comparable to the one opened
(app/viewer/priors.py says which), most recent first; choosing one puts
the current series left and the prior's series right (layout 1x2) and
scrolls them together by slice position while "Sync" is on (sync.py).

The priors are looked up, and both series' slice positions read, through
runner.read (headers only, never on the GUI thread).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QToolBar, QToolButton

from app.viewer.priors import Prior, prior_studies, series_geometry
from ui.viewer.sync import SliceSync


class PriorControls(QObject):
    """The "Prior" menu button and the "Sync" toggle of one viewer window."""

    def __init__(self, window, bar: QToolBar):
        super().__init__(window)
        self.priors: list[Prior] = []
        self.sync: Optional[SliceSync] = None
        self.shown_prior: Optional[Prior] = None
        self._asked = 0  # the last prior chosen: an earlier choice's positions landing late are dropped
        self.menu = QMenu(bar)
        self.menu.setObjectName("viewerPriorMenu")
        self.menu.setAccessibleName("Prior studies of this patient")
        self.button = QToolButton(bar)
        self.button.setObjectName("viewerPrior")
        self.button.setText("Prior")
        self.button.setToolTip("Show an earlier study of this patient beside this one")
        self.button.setAccessibleName("Prior studies")
        self.button.setAccessibleDescription(self.button.toolTip())
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.button.setMenu(self.menu)
        self.button.setEnabled(False)
        bar.addWidget(self.button)
        self.sync_action = QAction("Sync", self, checkable=True, checked=True)
        self.sync_action.setObjectName("viewerSync")
        self.sync_action.setToolTip("Scroll the prior with the current series by slice position")
        self.sync_action.setEnabled(False)
        self.sync_action.toggled.connect(self._sync_toggled)
        bar.addAction(self.sync_action)
        window.series_opened.connect(self._series_opened)

    @property
    def window(self):
        """The viewer window: Qt's parent, not an attribute, so that no Python
        reference cycle keeps a closed window's wrapper alive."""
        return self.parent()

    def _open(self) -> bool:
        """The window is still open (a read may land after it closed)."""
        try:
            window = self.parent()
        except RuntimeError:  # deleted with its window
            return False
        return window is not None and not window._closed

    # -- the menu ----------------------------------------------------------------

    def _series_opened(self, series_uid: str) -> None:
        home = self.window.home
        self.window.runner.read(home, "Find prior studies", lambda db, progress, cancel:
                                prior_studies(home, db, series_uid), on_success=self._found)

    def _found(self, priors: list[Prior]) -> None:
        if not self._open():
            return
        self.priors = priors
        self.menu.clear()
        for prior in priors:
            action = self.menu.addAction(prior.label)
            action.setData(prior.study_instance_uid)
            action.triggered.connect(lambda _=False, p=prior: self.show_prior(p))
        self.button.setEnabled(bool(priors))
        self.button.setToolTip(f"{len(priors)} earlier studies of this patient" if priors
                               else "No earlier study of this patient with a comparable series")

    # -- side by side --------------------------------------------------------------

    def show_prior(self, prior: Prior) -> None:
        """Current series left, the prior's right, in step once both are read."""
        window = self.window
        current = window.panes[0].series_uid
        if window.layout_name == "1x1":
            window.set_layout("1x2")
        window.open_series(window.panes[1], prior.series_instance_uid)
        self.shown_prior = prior
        self._asked += 1
        asked = self._asked
        if self.sync is not None:
            self.sync.detach()
            self.sync.deleteLater()
            self.sync = None
        home = window.home
        self.window.runner.read(home, "Read slice positions", lambda db, progress, cancel: (
            series_geometry(home, db, current), series_geometry(home, db, prior.series_instance_uid)),
            on_success=lambda geometry: self._geometry_read(asked, geometry))

    def _geometry_read(self, asked: int, geometry) -> None:
        if not self._open() or asked != self._asked or len(self.window.panes) < 2:
            return
        window = self.window
        self.sync = SliceSync(window.panes[0].viewport, window.panes[1].viewport, geometry, self)
        # the layout went back to 1x1: the pair is gone
        window.panes[1].destroyed.connect(lambda *_, s=self.sync: self._pane_gone(s))
        self.sync.set_enabled(self.sync_action.isChecked())
        self.sync_action.setEnabled(True)

    def _pane_gone(self, sync: SliceSync) -> None:
        if sync is not self.sync:  # a pair replaced by another prior is gone already
            return
        self.sync, self.shown_prior = None, None
        try:
            sync.detach()
            sync.deleteLater()
            self.sync_action.setEnabled(False)
        except RuntimeError:  # the whole window is being deleted
            pass

    def _sync_toggled(self, on: bool) -> None:
        if self.sync is not None:
            self.sync.set_enabled(on)
