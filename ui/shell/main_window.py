"""The workstation's main window: QBE bar, worklist with its action bar,
series strip; the merge drawer on the left; jobs and history docks below.

The worklist area shows the local cache or, with a node chosen as the
source in the scope bar, that node's studies (ui/net/remote_source.py) and,
beside the strip, the highlighted study's series on the node. The
storage listener runs as a background service (ui/net/listener_status.py),
shown in the status bar."""

from __future__ import annotations

import dataclasses
from typing import Optional

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QRect, Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QSplitter, QVBoxLayout, QWidget

from app.worklist import sharing
from app.accounts.accounts import User
from app.home import Home, shown_path
from app.worklist.query import Query
from ui import formatting
from ui.worklist.action_bar import ActionBar, privilege_reason
from ui.worklist.columns import ColumnLayout
from ui.changes.history_panel import HistoryPanel, history_dock
from ui.shell.importing import Importer
from ui.jobs import JobRunner
from ui.shell.jobs_panel import jobs_dock
from ui.net.listener_status import ListenerLabel, ListenerService
from ui.shell.menus import build_menus
from ui.shell.tools import WindowTools
from ui.changes.merge_drawer import MergeDrawer, MergePanel
from ui.net.outbox.status import OutboxCounter, OutboxLabel
from ui.worklist.patient_card import CardCache, PatientCardPopup
from ui.worklist.qbe_bar import QbeBar
from ui.net.remote_source import RemoteSource, source_pages
from ui.worklist.scope_bar import ScopeBar
from ui.worklist.selection import TickSet
from ui.worklist.series_strip import SeriesStrip
from ui.worklist.shared_view import SharedBanner
from ui.worklist.study_actions import StudyActions
from ui.worklist.actions import WorklistActions
from ui.worklist.model import WorklistModel
from ui.worklist.view import WorklistView

__all__ = ["MainWindow", "WorklistView"]


class MainWindow(WindowTools, QMainWindow):
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
        self.actions = StudyActions(home, user, self.runner, self)
        self.cards = CardCache(home, self.runner, user.name, self)
        self.card_popup = PatientCardPopup(self.cards, self.table)
        self.jobs_dock = jobs_dock(self.runner, self)
        self.jobs_panel = self.jobs_dock.widget()
        self.history = HistoryPanel(home, user, self.runner)
        self.history_dock = history_dock(self.history, self)
        self.drawer = MergeDrawer(MergePanel(home, user, self.runner), self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.jobs_dock)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.history_dock)
        self.tabifyDockWidget(self.jobs_dock, self.history_dock)
        self.jobs_dock.raise_()
        self.resizeDocks([self.jobs_dock], [110], Qt.Orientation.Vertical)
        # the drawer runs the full height, beside the jobs and history docks
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.drawer)
        self.drawer.hide()
        self.resizeDocks([self.drawer], [400], Qt.Orientation.Horizontal)
        self.worklist_actions = WorklistActions(self)
        self.listener = ListenerService(home, user, self.runner, self)
        self.outbox = OutboxCounter(home, self.runner, self)  # "Outbox: N waiting" (ui/net/outbox/status.py)
        self.remote = RemoteSource(self)
        self.settings_dialog = None
        self.scope_actions: list = []  # View > All / My studies (ui/shell/menus.py)

        worklist_box = QWidget()
        worklist_box.setObjectName("worklistBox")
        box = QVBoxLayout(worklist_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        self.scope = ScopeBar(user.name, privilege_reason(user, "network", "Searching DICOM nodes"))
        self.all_studies, self.my_studies = self.scope.all_studies, self.scope.my_studies
        self.scope.scope_changed.connect(lambda _mine: self.search(self._query))
        self.scope.source_changed.connect(self._source_changed)
        self.pages = source_pages(self.table, self.bar, self.remote.page)
        box.addWidget(self.scope)
        self.shared_banner = SharedBanner()   # "Shared with me": who shared, the note
        box.addWidget(self.shared_banner)
        box.addWidget(self.pages, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("mainSplitter")
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(worklist_box)
        splitter.addWidget(self._bottom_area())
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.qbe)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)

        self._build_status_bar(temporary_home)
        build_menus(self)

        self.qbe.search_requested.connect(self.search)
        self.model.searched.connect(self._searched)
        self.model.search_failed.connect(lambda m: self.show_message(f"Search failed: {m}"))
        self.model.modelAboutToBeReset.connect(self._remember_current)
        self.model.modelAboutToBeReset.connect(self.card_popup.hide)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.doubleClicked.connect(self._open_study)
        self.table.patient_hovered.connect(self._patient_hovered)
        self.table.hover_left.connect(self.card_popup.leave)
        self.table.menu_requested.connect(self.worklist_actions.row_menu)
        self.importer.message.connect(self.show_message)
        self.importer.changed.connect(self.cache_changed)
        self.listener.message.connect(self.show_message)
        self.listener.received.connect(lambda _count: self.cache_changed())
        self.actions.message.connect(self.show_message)
        self.actions.changed.connect(self._studies_changed)
        self.history.changed.connect(lambda kind: self._studies_changed(kind, []))
        self.history.message.connect(self.show_message)
        self.drawer.panel.merged.connect(self._merged)
        self.history.loaded.connect(self._history_loaded)
        self.history_dock.visibilityChanged.connect(
            lambda visible: visible and self.history.refresh())  # changes made elsewhere too
        self._select_after: Optional[int] = None  # a change to select when the history is read
        self._keep_study: Optional[str] = None
        self._reload_strip = False
        self.last_message = ""
        self._query = Query()
        self._local_count = ""
        self.resize(1500, 940)
        self.columns.load()
        self.history.refresh()
        self.search(Query())
        self.count_shared()
        self.remote.load_nodes()
        self.listener.start_if_configured()
        self.outbox.refresh()

    # -- layout ------------------------------------------------------------------

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

    def _build_status_bar(self, temporary_home: bool) -> None:
        bar = self.statusBar()
        self.count_label = QLabel("Searching...")
        self.count_label.setObjectName("countLabel")
        roles = ", ".join(sorted(self.user.roles)) or "no role"
        self.user_label = QLabel(f"User: {self.user.name} ({roles})")
        self.user_label.setObjectName("userLabel")
        where = shown_path(self.home.root) + ("  (temporary)" if temporary_home else "")
        self.home_label = QLabel(f"Home: {where}")
        self.home_label.setObjectName("homeLabel")
        self.home_label.setToolTip(str(self.home.root))
        self.listener_label = ListenerLabel(self.listener)
        self.outbox_label = OutboxLabel(self.outbox)
        self.outbox_label.clicked.connect(self.open_outbox)
        for label in (self.count_label, self.outbox_label, self.listener_label, self.user_label,
                      self.home_label):
            bar.addPermanentWidget(label)

    # -- worklist ----------------------------------------------------------------

    def search(self, query: Query) -> None:
        """Run *query* on the source: the cache (narrowed to the user's
        assigned studies under My studies) or the chosen node."""
        self._query = query
        if self.remote.active:
            self.remote.search(query)
            return
        if self.my_studies.isChecked():
            query = dataclasses.replace(query, assigned_to=self.user.name)
        query = dataclasses.replace(query, shared_with=self.user.name if self.scope.shared_only() else "")
        self.count_label.setText("Searching...")
        self.model.search(query)

    def refresh(self) -> None:
        """Search the cache again (after an import): the current study may have new series."""
        self._reload_strip = True
        self.model.refresh()
        self.count_shared()

    def count_shared(self) -> None:
        """The scope bar's "Shared with me (N)", read in a job."""
        home, name = self.home, self.user.name
        self.runner.start("Shared with me", lambda progress, cancel: sharing.count_shared_with(home, name),
                          kind="read", visible=False, on_success=self.scope.set_shared_count,
                          on_failure=lambda _m: None)

    def refresh_source(self) -> None:
        """View > Refresh: the cache, or the node asked again."""
        if self.remote.active:
            self.remote.search(self._query)
        else:
            self.refresh()

    def cache_changed(self, *_args) -> None:
        """Studies arrived (import, retrieve, the listener): the cache's list,
        the cards' counts and the node's "In cache" column change."""
        self.cards.clear()
        self.refresh()
        self.remote.update_cached()

    # -- the source: the cache or a node ---------------------------------------------

    def _source_changed(self, node: str) -> None:
        remote = bool(node)
        self.scope.set_remote(remote)
        self.shared_banner.show_for(self.scope.shared_only() and not remote, None, 0)
        for action in self.scope_actions:
            action.setEnabled(not remote)
        if remote:
            self.remote.activate(node, self._query)
            self.pages.setCurrentIndex(1)
            self.remote.view.setFocus()
            return
        self.remote.deactivate()
        self.pages.setCurrentIndex(0)
        self.count_label.setText(self._local_count or "Searching...")
        self.strip.show_study(None)
        self._current_changed(self.table.currentIndex(), QModelIndex())
        self.table.setFocus()

    def _remember_current(self) -> None:
        current = self.table.currentIndex()
        uid = self.model.study_uid(current.row()) if current.isValid() else None
        self._keep_study = uid or self._keep_study

    def _searched(self, count: int) -> None:
        reload_strip, self._reload_strip = self._reload_strip, False
        self._local_count = f"{count:,} stud{'ies' if count != 1 else 'y'}"
        if not self.remote.active:
            self.count_label.setText(self._local_count)
        row = self.model.row_of(self._keep_study) if self._keep_study else -1
        if count and row < 0:
            row = 0
        if row >= 0:
            index = self.model.index(row, 0)
            self.table.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)
            self.model.reveal(self.model.study_uid(row))
            self.table.scrollTo(index)
            if reload_strip and self.strip.study_uid == self.model.study_uid(row):
                self.strip.reload()
        elif not self.remote.active:
            self.strip.show_study(None)
        self._show_shared()
        self.worklist_actions.update_bar()

    def _show_shared(self) -> None:
        current = self.table.currentIndex()
        row = self.model.study(current.row()) if current.isValid() else None
        self.shared_banner.show_for(self.scope.shared_only() and not self.remote.active, row,
                                    self.model.rowCount())

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        uid = self.model.study_uid(current.row())
        self._keep_study = uid
        if self.remote.active:  # the strip follows the node's table meanwhile
            return
        study = self.model.study(current.row())
        self._show_shared()
        heading = "  ·  ".join(filter(None, (
            formatting.person_name(study.get("patient_name")), study.get("patient_id"),
            formatting.dicom_date(study.get("study_date")), study.get("description"))))
        self.strip.show_study(uid, heading)

    def _open_study(self, _index: QModelIndex) -> None:
        """Double-click: the viewer is not built yet; deliberately nothing."""

    def _patient_hovered(self, row: int, cell: QRect) -> None:
        patient_id = self.model.study(row).get("patient_id")
        if patient_id:
            self.card_popup.hover(patient_id, cell)

    def current_study_uid(self) -> Optional[str]:
        current = self.table.currentIndex()
        return self.model.study_uid(current.row()) if current.isValid() else None

    def select_study(self, study_uid: str) -> bool:
        row = self.model.row_of(study_uid)
        if row < 0:
            return False
        self.table.selectRow(row)
        return True

    # -- after changes -----------------------------------------------------------

    def _studies_changed(self, kind: str, study_uids: list) -> None:
        """A job changed studies: read the list, the history and the ticked rows again."""
        if kind == "delete":
            self.ticks.discard(study_uids)
        self.cards.clear()
        self.refresh()
        self.history.refresh()
        self.worklist_actions.reload_ticked_rows()
        self.outbox.refresh()  # IOCM corrections and AI rescans are queued (or withdrawn by an undo)

    def _merged(self, change_id: int, mode: str, source: str, destination: str) -> None:
        cards = self.drawer.panel.cards
        merged = [row["study_uid"] for card in cards for row in card.rows]
        labels = {card.key: card.label() for card in cards}
        self.ticks.discard(merged)
        if mode == "studies":
            self.select_study(destination)  # the merged study stays the current one
        self.show_message(f"Merged {labels.get(source, source)} into "
                          f"{labels.get(destination, destination)} (change {change_id}); "
                          "History undoes it")
        self.drawer.close()
        self._studies_changed("merge", merged)
        self.show_history()
        self._select_after = change_id

    def _history_loaded(self) -> None:
        if self._select_after is not None and self.history.select_change(self._select_after):
            self._select_after = None

    def show_history(self, trash: bool = False) -> None:
        self.history_dock.show()
        self.history_dock.raise_()
        self.history.setCurrentIndex(1 if trash else 0)
        self.resizeDocks([self.history_dock], [240], Qt.Orientation.Vertical)

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
        self.columns.flush()
        self.runner.shutdown()
        self.listener.shutdown()
        self.model.close()
        self.remote.model.close()
        super().closeEvent(event)
