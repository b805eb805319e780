"""The workstation's main window: QBE bar, worklist with its action bar,
series strip; the merge drawer on the left; jobs and history docks below.

The worklist area shows the local cache or, with a node chosen as the
source in the scope bar, that node's studies (ui/net/remote_source.py) and,
beside the strip, the highlighted study's series on the node
(ui/shell/worklist_area.py); the docks are built in ui/shell/docks.py. The
storage listener runs as a background service (ui/net/listener_status.py),
shown in the status bar (ui/shell/status_bar.py).

The window builds the parts and hands each the few collaborators it needs.
No write refreshes a view by hand: every write ends with the home's one
``cache_changed`` broadcast (ui/cache_events.py), and the views (the
worklist model, strip, cards, ticked rows, the node's "In cache" column,
history, outbox) follow it themselves; the window only counts the studies
shared with the user again (:meth:`MainWindow._cache_changed`)."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMainWindow, QSplitter, QVBoxLayout, QWidget

from app.accounts.accounts import User
from app.home import Home
from app.worklist.query import Query
from ui.cache_events import SHARES, STUDIES, CacheChange, events_of
from ui.changes.delete_dialog import DeleteDialog
from ui.jobs import JobRunner
from ui.net.listener_status import ListenerService
from ui.net.outbox.status import OutboxCounter
from ui.net.remote_page import source_pages
from ui.net.remote_source import RemoteSource
from ui.shell.docks import WindowDocks
from ui.shell.importing import Importer
from ui.shell.menus import MenuCommands, build_menus
from ui.shell.status_bar import build_status_bar
from ui.shell.study_dialogs import DIALOGS
from ui.shell.tools import WindowTools
from ui.shell.worklist_area import WorklistArea
from ui.viewer import launch
from ui.worklist.action_bar import ActionBar, privilege_reason
from ui.worklist.actions import WorklistActions
from ui.worklist.card_popup import CardCache, PatientCardPopup
from ui.worklist.columns import ColumnLayout
from ui.worklist.empty_home import EmptyWorklist
from ui.worklist.model import WorklistModel
from ui.worklist.qbe_bar import QbeBar
from ui.worklist.scope_bar import ScopeBar
from ui.worklist.selection import TickSet
from ui.worklist.series_strip import SeriesStrip
from ui.worklist.shared_view import SharedBanner
from ui.worklist.study_actions import StudyActions
from ui.worklist.view import WorklistView

__all__ = ["MainWindow", "WorklistView"]


def _stack(parent: QWidget, *widgets: tuple[QWidget, int]) -> None:
    """*widgets* (each with its stretch) one under the other, edge to edge."""
    layout = QVBoxLayout(parent)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    for widget, stretch in widgets:
        layout.addWidget(widget, stretch)


class MainWindow(WorklistArea, WindowDocks, WindowTools, QMainWindow):
    def __init__(self, home: Home, user: User, parent: Optional[QWidget] = None,
                 temporary_home: bool = False):
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.home = home
        self.user = user
        self.setWindowTitle(f"StudyDesk  —  {home.root.name}")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks)
        self.runner = JobRunner(self, error_parent=self)
        self.qbe = QbeBar()
        self.ticks = TickSet(self)
        self.model = WorklistModel(home, self.runner, user.name, self, ticks=self.ticks)
        self.table = WorklistView(self.model)
        self.columns = ColumnLayout(self.table, home, self.runner, self)
        self.bar = ActionBar()
        self.strip = SeriesStrip(home, self.runner)
        self.importer = Importer(home, user, self.runner, self)
        self.actions = StudyActions(home, user, self.runner, self, dialogs=DIALOGS)
        self.cards = CardCache(home, self.runner, user.name, self)
        self.card_popup = PatientCardPopup(self.cards, self.table)
        self._build_docks()
        self.worklist_actions = WorklistActions(
            home, user, self.runner, ticks=self.ticks, model=self.model, view=self.table, bar=self.bar,
            actions=self.actions, parent=self, delete_dialog=DeleteDialog, open_merge=self._open_merge,
            show_history=self.show_history)
        self.listener = ListenerService(home, user, self.runner, self)
        self.outbox = OutboxCounter(home, self.runner, self)  # "Outbox: N waiting" (ui/net/outbox/status.py)
        self.remote = RemoteSource(home, user, self.runner, strip=self.strip, local_view=self.table, parent=self)
        self.remote.view.setAccessibleName("Studies on the node")  # beside the local "Worklist"
        self.settings_dialog = None
        self.scope_actions: list = []  # View > All / My studies (ui/shell/menus.py)
        self.scope = ScopeBar(user.name, privilege_reason(user, "network", "Searching DICOM nodes"))
        self.all_studies, self.my_studies = self.scope.all_studies, self.scope.my_studies
        self.scope.scope_changed.connect(lambda _mine: self.search(self._query))
        self.scope.source_changed.connect(self._source_changed)
        self.shared_banner = SharedBanner()  # "Shared with me": who shared, the note
        self.pages = source_pages(self.table, self.bar, self.remote.page)
        self.empty = EmptyWorklist(self.table)  # what to do on an empty home; "No studies match"
        self._build_central()
        self._build_status_bar(temporary_home)
        self._build_menus()

        self.qbe.search_requested.connect(self.search)
        self.model.searched.connect(self._searched)
        self.model.search_failed.connect(lambda m: self.show_message(f"Search failed: {m}"))
        self.model.modelAboutToBeReset.connect(self._remember_current)
        self.model.modelAboutToBeReset.connect(self.card_popup.hide)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.doubleClicked.connect(self._open_study)
        self.strip.open_requested.connect(self.view_series)
        self.table.patient_hovered.connect(self._patient_hovered)
        self.table.hover_left.connect(self.card_popup.leave)
        self.table.menu_requested.connect(self.worklist_actions.row_menu)
        self.importer.message.connect(self.show_message)
        self.listener.message.connect(self.show_message)
        self.actions.message.connect(self.show_message)
        self.history.message.connect(self.show_message)
        self.remote.message.connect(self.show_message)
        self.remote.status.connect(self._remote_status)
        self.remote.nodes_listed.connect(self.scope.set_nodes)
        self._connect_empty()
        events_of(home).cache_changed.connect(self._cache_changed)
        self.drawer.panel.merged.connect(self._merged)
        self.history.loaded.connect(self._history_loaded)
        self.history_dock.visibilityChanged.connect(
            lambda visible: visible and self.history.refresh())  # changes made elsewhere too
        self._select_after: Optional[int] = None  # a change to select when the history is read
        self._keep_study: Optional[str] = None
        self.last_message = ""
        self._query = Query()
        self._local_count = ""
        self.resize(1500, 940)
        self.columns.load()
        self.search(Query())
        self.count_shared()
        self.remote.load_nodes()
        self.listener.start_if_configured()
        self.outbox.refresh()

    # -- layout ------------------------------------------------------------------

    def _build_central(self) -> None:
        """The QBE bar over a splitter: the scope bar, the banner and the
        source pages above, the strip (and the node's series) below."""
        worklist_box = QWidget()
        worklist_box.setObjectName("worklistBox")
        _stack(worklist_box, (self.scope, 0), (self.shared_banner, 0), (self.pages, 1))
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("mainSplitter")
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(worklist_box)
        splitter.addWidget(self._bottom_area())
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        central = QWidget()
        _stack(central, (self.qbe, 0), (splitter, 1))
        self.setCentralWidget(central)

    def _bottom_area(self) -> QSplitter:
        """Under the worklist: the series strip and, while a node is the
        source, the node's series of the highlighted study on its left."""
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.setObjectName("bottomSplitter")
        bottom.setChildrenCollapsible(False)
        bottom.addWidget(self.remote.series_pane)
        bottom.addWidget(self.strip)
        bottom.setStretchFactor(0, 0)
        bottom.setStretchFactor(1, 1)
        bottom.setSizes([620, 880])
        return bottom

    def _connect_empty(self) -> None:
        """The empty worklist's buttons: import, the demo, a node (or Settings), Clear."""
        self.empty.set_import_actions(self.importer.actions.values())
        self.empty.demo_requested.connect(lambda: self.start_demo())
        self.empty.retrieve_requested.connect(self.scope.choose)
        self.empty.add_node_requested.connect(lambda: self.open_settings().tabs.setCurrentIndex(0))
        self.empty.clear_requested.connect(self.clear_search)
        self.remote.nodes_listed.connect(lambda _nodes: self.empty.set_nodes(self.scope.nodes()))

    def _build_status_bar(self, temporary_home: bool) -> None:
        labels = build_status_bar(self.statusBar(), self.home, self.user, self.listener, self.outbox,
                                  temporary_home)
        self.count_label, self.outbox_label, self.listener_label = labels.count, labels.outbox, labels.listener
        self.user_label, self.home_label = labels.user, labels.home
        self.outbox_label.clicked.connect(self.open_outbox)

    def _build_menus(self) -> None:
        commands = MenuCommands(
            quit=self.close,
            tick_all=lambda: (self.remote.model if self.remote.active else self.model).tick_all(),
            unselect_all=lambda: (self.remote.ticks if self.remote.active else self.ticks).clear(),
            settings=self.open_settings, show_trash=lambda: self.show_history(trash=True),
            find_patient=lambda: self.qbe.patient_name.setFocus(), refresh=self.refresh_source,
            content_manager=self.open_content_manager, research=self.open_research,
            outbox=self.open_outbox, about=self.about)
        actions = build_menus(
            self.menuBar(), self, commands, user=self.user, import_actions=self.importer.actions.values(),
            scope_buttons=[(self.all_studies, "viewAll"), (self.my_studies, "viewMine"),
                           (self.scope.shared, "viewShared")],
            dock_toggles=[self.jobs_dock.toggleViewAction(), self.history_dock.toggleViewAction()],
            listener=self.listener)
        self.scope_actions = actions.scope
        self.content_manager_action, self.research_action = actions.content_manager, actions.research
        self.outbox_action, self.listener_action = actions.outbox, actions.listener

    # -- the broadcast ------------------------------------------------------------

    def _cache_changed(self, change: CacheChange) -> None:
        """The scope bar's "Shared with me (N)" follows the broadcast; the
        worklist model and the other views subscribe themselves."""
        if change.touches(STUDIES, SHARES):
            self.count_shared()

    # -- messages (other tools, drag and drop: ui/shell/tools.py) -----------------------

    def show_message(self, text: str) -> None:
        self.last_message = text
        self.statusBar().showMessage(text)

    # -- closing -----------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow() \
                and hasattr(self, "outbox"):
            self.outbox.refresh()  # the command line may have sent or queued meanwhile

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.runner.running():
            self.show_message("Stopping jobs...")
        self.card_popup.hide()
        launch.close_viewers(self)  # the viewer windows opened from here close with it
        self.columns.flush()
        self.runner.shutdown()
        self.listener.shutdown()
        self.model.close()
        self.remote.model.close()
        super().closeEvent(event)
