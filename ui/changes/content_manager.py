"""The Content Manager: find a misfiled series and drag it onto the right study.

A window with one or two panes (the "Split view" toggle); each pane has
query-by-example fields and a patient -> study -> series tree (ui/changes/cm_pane.py).
Selecting a series (or a study) in either pane shows it in the preview
beside the trees (ui/changes/cm_preview.py); a double-click on a series opens
it in the viewer. Dragging a series onto a study in either pane, or "Reallocate to..." on the
series' context menu, checks the rules, shows the confirmation with the
pre-flight identity check and runs the move as a job (ui/changes/cm_actions.py);
both panes search again and the history below (the same panel as the main
window's History dock, ui/changes/history_panel.py) shows the change with Undo.

``open_content_manager(parent, home, user)`` opens it (Tools > Content
Manager... in the main window); it reuses the parent's job runner when the
parent has one, so its jobs show in the jobs panel and writers queue behind
imports. ``python -m tools.screenshots.content_manager [OUT.png]`` saves a
screenshot of the split window on a fresh demo home (under ``xvfb-run -a``).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QSizePolicy, QSplitter, QWidget

from app.accounts.accounts import User
from app.home import Home
from ui.cache_events import PATIENTS, STUDIES, TRASH, CacheChange, events_of
from ui.changes.cm_actions import ContentActions, needs
from ui.changes.cm_pane import ContentPane
from ui.changes.cm_preview import ContentPreview
from ui.changes.cm_tree import Node
from ui.changes.history_panel import HistoryPanel
from ui.jobs import JobRunner
from ui.viewer import launch
from ui.worklist.thumbnails import ThumbnailLoader

class ContentManager(QMainWindow):
    def __init__(self, home: Home, user: User, runner: Optional[JobRunner] = None,
                 parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window)
        self.setObjectName("contentManager")
        self.setWindowTitle(f"Content Manager  —  {home.root.name}")
        self.home, self.user = home, user
        self._own_runner = runner is None
        self.runner = runner if runner is not None else JobRunner(self, error_parent=self)
        self.thumbnails = ThumbnailLoader(home, self.runner, self)
        self.panes = [ContentPane(name, home, user, self.runner, self.thumbnails)
                      for name in ("Left pane", "Right pane")]
        self.actions = ContentActions(home, user, self.runner, self,
                                      lambda: [s for p in self.visible_panes() for s in p.studies()])
        self.history = HistoryPanel(home, user, self.runner)
        self.preview = ContentPreview(home, self.runner)

        self.pane_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.pane_splitter.setObjectName("cmPanes")
        self.pane_splitter.setChildrenCollapsible(False)
        for pane in self.panes:
            self.pane_splitter.addWidget(pane)
        self.pane_splitter.addWidget(self.preview)
        self.pane_splitter.setStretchFactor(2, 0)
        self.pane_splitter.setSizes([620, 620, 360])
        outer = QSplitter(Qt.Orientation.Vertical)
        outer.setChildrenCollapsible(False)
        outer.addWidget(self.pane_splitter)
        outer.addWidget(self.history)
        outer.setStretchFactor(0, 1)
        outer.setSizes([700, 170])
        self.setCentralWidget(outer)
        self._build_toolbar()
        self.status = QLabel("")
        self.status.setObjectName("cmStatus")
        self.statusBar().addWidget(self.status, 1)

        for pane in self.panes:
            pane.series_dropped.connect(self.actions.reallocate)
            pane.menu_requested.connect(self._popup_menu)
            pane.node_chosen.connect(self.preview.show_node)
            pane.series_activated.connect(self.view_series)
        self.actions.message.connect(self.show_message)
        self.history.message.connect(self.show_message)
        events_of(home).cache_changed.connect(self._cache_changed)
        self.resize(1600, 960)
        for pane in self.panes:
            pane.search()

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Content Manager")
        bar.setObjectName("cmToolbar")
        bar.setMovable(False)
        self.split_action = QAction("Split view", self)
        self.split_action.setObjectName("splitView")
        self.split_action.setCheckable(True)
        self.split_action.setChecked(True)
        self.split_action.setShortcut(QKeySequence("Ctrl+\\"))
        self.split_action.setToolTip("One pane, or two side by side (Ctrl+\\)")
        self.split_action.toggled.connect(self.set_split)
        bar.addAction(self.split_action)
        refresh = QAction("Refresh", self)
        refresh.setShortcut(QKeySequence.StandardKey.Refresh)
        refresh.triggered.connect(self.refresh)
        bar.addAction(refresh)
        self.reallocate_action = QAction("Reallocate to...", self)
        self.reallocate_action.setObjectName("reallocateSelected")
        self.reallocate_action.setShortcut(QKeySequence("Ctrl+R"))
        self.reallocate_action.triggered.connect(self.reallocate_selected)
        if not self.user.can("content-management"):
            self.reallocate_action.setEnabled(False)
            self.reallocate_action.setToolTip(needs(self.user, "content-management"))
        bar.addAction(self.reallocate_action)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        iocm = bool(self.home.settings().get("iocm"))
        self.mode_label = QLabel("IOCM mode: on" if iocm else "IOCM mode: off")
        self.mode_label.setObjectName("cmMode")
        self.mode_label.setToolTip("With IOCM on, moved instances get new UIDs and a rejection "
                                   "note is queued (setting `iocm`)")
        bar.addWidget(self.mode_label)
        roles = ", ".join(sorted(self.user.roles)) or "no role"
        read_only = "" if self.user.can("content-management") else "  (read only)"
        self.user_label = QLabel(f"{self.user.name} ({roles}){read_only}")
        self.user_label.setObjectName("cmUser")
        bar.addWidget(self.user_label)

    # -- panes -----------------------------------------------------------------------

    def set_split(self, split: bool) -> None:
        self.panes[1].setVisible(split)
        if self.split_action.isChecked() != split:
            self.split_action.setChecked(split)

    def is_split(self) -> bool:
        return not self.panes[1].isHidden()

    def visible_panes(self) -> list[ContentPane]:
        return [p for p in self.panes if not p.isHidden()]

    def refresh(self) -> None:
        for pane in self.panes:
            pane.refresh()
        self.history.refresh()

    def _cache_changed(self, change: CacheChange) -> None:
        """A change made here or in another window of the home (an undo in
        either history panel, a merge in the main window): search again."""
        if change.touches(STUDIES, PATIENTS, TRASH):
            for pane in self.panes:
                pane.refresh()

    def is_busy(self) -> bool:
        return any(p.is_searching() for p in self.panes) or self.history.is_loading()

    def show_message(self, text: str) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self.panes[0].accession.setFocus)

    # -- menus and the keyboard path ---------------------------------------------------

    def _popup_menu(self, pane: ContentPane, node: Node, pos: QPoint) -> None:
        self.actions.menu(node, pane.selected_series()).popup(pos)

    def view_series(self, series_uid: str):
        """Open the viewer on *series_uid* (a double-click in a tree)."""
        return launch.open_series(self, self.home, self.user, self.runner, series_uid)

    def reallocate_selected(self) -> None:
        """Ctrl+R: "Reallocate to..." for the series selected in the focused pane."""
        pane = next((p for p in self.visible_panes() if p.tree.hasFocus()), self.panes[0])
        series = pane.selected_series()
        if not series:
            self.show_message("Select a series first (Reallocate to... moves series)")
            return
        node = pane.model.node(pane.model.index_of("series", series[0]))
        self.actions.choose_destination(series, node.parent.uid)

    # -- closing -------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        launch.close_viewers(self)  # those it keeps when opened alone
        if self._own_runner:
            self.runner.shutdown()
        super().closeEvent(event)


def open_content_manager(parent: Optional[QWidget], home: Home, user: User) -> ContentManager:
    """Open the Content Manager over *parent* (or raise the one already open)."""
    existing = parent.findChildren(ContentManager) if parent is not None else []
    if existing:
        window = existing[0]
        window.refresh()
    else:
        window = ContentManager(home, user, getattr(parent, "runner", None), parent)
    window.show()
    window.raise_()
    window.activateWindow()
    return window
