"""The worklist's Remote source: a node's studies in the worklist table, and Retrieve.

With a query-retrieve node chosen in the scope bar, Search runs C-FIND on it
(:class:`~ui.net.remote_model.RemoteModel`, a job the jobs panel can cancel) and
the worklist area shows the answer: the same table (a
:class:`~ui.worklist.view.WorklistView` with the local view's column layout)
over the remote model, with the retrieve bar under it. Retrieve runs
``retrieve.retrieve`` as a writer job (ui/net/remote_retrieve.py) with
progress from the sub-operation counts; its end is broadcast, and the "In
cache" column follows the broadcast like every other view of the cache.

Beside the series strip, :class:`~ui.net.remote_series.RemoteSeriesPane` lists
the highlighted study's series as the node has them (C-FIND at SERIES
level); its button retrieves the ticked series only
(``retrieve_series.retrieve_series``), by the method chosen in the bar.

The local table keeps its own model and selection: switching back finds the
local worklist as it was left. The source works with the parts it is given
(the series strip, the local table for its column layout, a parent for
dialogs) and tells the window through signals: ``message(text)`` for the
status bar, ``status(text)`` for the count label, ``nodes_listed(nodes)``.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject, QPoint, Signal
from PySide6.QtWidgets import QMenu, QMessageBox, QTableView, QWidget

from app.accounts.accounts import User
from app.home import Home
from app.net import nodes
from app.net.retrieve import series as net_series
from app.net.retrieve import study as net_retrieve
from app.worklist import query as worklist
from app.worklist.query import Query
from ui import formatting
from ui.cache_events import NODES, STUDIES, CacheChange, events_of
from ui.jobs import Job, JobRunner
from ui.net.remote_model import RemoteModel
from ui.net.remote_page import copy_layout, page
from ui.net.remote_retrieve import problems_box, retrieve_menu, start_retrieve, summary
from ui.net.remote_series import RemoteSeriesPane
from ui.net.retrieve_bar import RetrieveBar
from ui.worklist.action_bar import privilege_reason
from ui.worklist.model import column_index
from ui.worklist.selection import TickSet
from ui.worklist.series_strip import SeriesStrip
from ui.worklist.view import WorklistView

NOT_CACHED = "Not in the cache: its thumbnails show here once retrieved"


class RemoteSource(QObject):
    """The remote page of the worklist area (:attr:`page`) and what it does."""

    message = Signal(str)  # a line for the status bar
    status = Signal(str)  # the count label's text while a node is the source
    nodes_listed = Signal(list)  # the configured nodes, for the source selector

    def __init__(self, home: Home, user: User, runner: JobRunner, *, strip: SeriesStrip,
                 local_view: QTableView, parent: QWidget):
        """*strip* follows the highlighted remote study; *local_view* lends
        its column layout; dialogs open over *parent*."""
        super().__init__(parent)
        self.home, self.user, self.runner = home, user, runner
        self.strip, self.local_view, self.parent_widget = strip, local_view, parent
        self.ticks = TickSet(self)
        self.model = RemoteModel(home, runner, user, self, ticks=self.ticks)
        self.view = WorklistView(self.model)
        self.view.setObjectName("remoteWorklist")
        self.view.setAccessibleName("Studies on the node")
        self.view.setAccessibleDescription("The studies the chosen node answered the search with; In cache "
                                           "says which are here already")
        self.bar = RetrieveBar()
        self.page = page("remotePage", self.view, self.bar)
        self.series_pane = RemoteSeriesPane(home, user, runner,
                                            method_text=self.bar.method_box.currentText)
        self.series_pane.hide()
        self.series_pane.retrieve_requested.connect(
            lambda study, series: self.retrieve_series(study, series))
        self.bar.method_box.currentIndexChanged.connect(lambda _i: self.series_pane.update_button())
        self.menu: Optional[QMenu] = None
        self.last_result: Optional[net_retrieve.RetrieveResult] = None
        self.problems_box: Optional[QMessageBox] = None  # the last retrieve's problems
        self.ticks.changed.connect(self.update_bar)
        self.bar.unselect.connect(self.ticks.clear)
        self.bar.retrieve_requested.connect(lambda method: self.retrieve(method=method))
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        self.view.menu_requested.connect(self.row_menu)
        self.model.searched.connect(self._searched)
        self.model.search_failed.connect(self._failed)
        self.model.search_cancelled.connect(lambda: self._say("Query cancelled"))
        events_of(home).cache_changed.connect(self._cache_changed)
        self.update_bar()

    @property
    def node(self) -> str:
        return self.model.node

    @property
    def active(self) -> bool:
        return bool(self.model.node)

    # -- switching ----------------------------------------------------------------------

    def load_nodes(self) -> None:
        """List the configured nodes in the scope bar's source selector (a job)."""
        home = self.home
        self.runner.start("Nodes", lambda progress, cancel: nodes.nodes_of(home), kind="read",
                          visible=False, on_success=self.nodes_listed.emit,
                          on_failure=lambda message: self.message.emit(f"Nodes: {message}"))

    def activate(self, node: str, query: Query) -> None:
        """Show *node*: its last answer is gone; the QBE query runs at once
        when it has criteria (see :meth:`search`)."""
        if node != self.model.node:
            self.ticks.clear()
            self.model.set_node(node)
            copy_layout(self.local_view, self.view)
            self.series_pane.show_study(node, None)
        self.series_pane.show()
        self.strip.show_study(None)
        self.strip.heading.setText(NOT_CACHED)
        self.search(query)
        self.update_bar()

    def deactivate(self) -> None:
        self.model.set_node("")
        self.ticks.clear()
        self.series_pane.show_study("", None)
        self.series_pane.hide()

    # -- searching ----------------------------------------------------------------------

    def search(self, query: Query) -> None:
        """C-FIND *query*; an empty one is not sent (it would list the whole
        archive): a ``*`` in a field asks for everything on purpose."""
        if query.is_empty():
            self._say(f"{self.node}: enter criteria and press Search (* lists everything)")
            return
        self._say(f"Asking {self.node}...")
        self.model.search(query)

    def _searched(self, count: int) -> None:
        self._say(f"{count:,} stud{'ies' if count != 1 else 'y'} on {self.node}")
        if count:
            index = self.model.index(0, column_index("patient_name"))
            self.view.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)
        else:
            self.series_pane.show_study(self.node, None)
        self.update_bar()

    def _failed(self, message: str) -> None:
        self._say("Query failed")
        self.message.emit(f"Query of {self.node} failed: {message}")

    def _say(self, text: str) -> None:
        if self.active:
            self.status.emit(text)

    # -- the highlighted study and the bar -----------------------------------------------

    def current_uid(self) -> Optional[str]:
        current = self.view.currentIndex()
        return self.model.study_uid(current.row()) if current.isValid() else None

    def targets(self) -> list[str]:
        """The ticked studies, else the highlighted one."""
        if len(self.ticks):
            return self.ticks.uids()
        uid = self.current_uid()
        return [uid] if uid else []

    def update_bar(self, *_args) -> None:
        current = self.view.currentIndex()
        label = ""
        if current.isValid():
            row = self.model.study(current.row())
            label = formatting.person_name(row.get("patient_name")) or row.get("accession_number") or ""
        reason = privilege_reason(self.user, "network", "Retrieving studies")
        self.bar.show_state(len(self.ticks), label or None, reason)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.update_bar()
        if not current.isValid() or not self.active:
            return
        row = self.model.study(current.row())
        heading = "  ·  ".join(filter(None, (
            formatting.person_name(row.get("patient_name")), row.get("patient_id"),
            formatting.dicom_date(row.get("study_date")), row.get("description"))))
        self.series_pane.show_study(self.node, row["study_instance_uid"], heading)
        if row.get("in_cache"):
            self.strip.show_study(row["study_instance_uid"], heading + "  ·  in the cache")
        else:
            self.strip.show_study(None)
            self.strip.heading.setText(NOT_CACHED)

    def row_menu(self, row: int, pos: Optional[QPoint] = None) -> QMenu:
        uid = self.model.study_uid(row)
        uids = self.ticks.uids() if uid in self.ticks else [uid] if uid else []
        why = privilege_reason(self.user, "network", "Retrieving studies")
        self.menu = retrieve_menu(self.view, uids, why, self.retrieve)
        if pos is not None:
            self.menu.popup(pos)
        return self.menu

    # -- retrieving ---------------------------------------------------------------------

    def retrieve(self, uids: Optional[list[str]] = None, method: Optional[str] = None) -> Optional[Job]:
        """Retrieve *uids* (default: :meth:`targets`) by *method* (default: the
        bar's) as a writer job; the jobs panel shows it with Cancel."""
        uids = list(uids or self.targets())
        if not uids or not self.node:
            return None
        method = method or self.bar.method()
        self.message.emit(f"Retrieving {len(uids)} stud{'ies' if len(uids) != 1 else 'y'} "
                          f"from {self.node} by {net_retrieve.transport(method)}...")
        return start_retrieve(self.runner, self.home, self.user, self.node, uids, method, self._retrieved)

    def retrieve_series(self, study_uid: str, series_uids: list[str],
                        method: Optional[str] = None) -> Optional[Job]:
        """Retrieve *series_uids* of *study_uid* (the series pane's button) by
        *method* (default: the bar's) as a writer job."""
        if not series_uids or not self.node:
            return None
        method = method or self.bar.method()
        self.message.emit(f"Retrieving {len(series_uids)} series from {self.node} by {net_retrieve.transport(method)}...")
        return start_retrieve(self.runner, self.home, self.user, self.node, [study_uid], method,
                              self._retrieved, series_uids=series_uids)

    def _retrieved(self, result: net_retrieve.RetrieveResult) -> None:
        self.last_result = result
        self.message.emit(summary(result))
        if isinstance(result, net_series.SeriesRetrieveResult) and self.series_pane.study_uid in result.studies:
            self.series_pane.model.clear_ticks()
        self.problems_box = problems_box(result, self.parent_widget) or self.problems_box

    def _cache_changed(self, change: CacheChange) -> None:
        if change.touches(STUDIES):
            self.update_cached()
        if change.touches(NODES):
            self.load_nodes()

    def update_cached(self, uids: Optional[list[str]] = None) -> None:
        """Read how much of *uids* (default: every listed study) the cache holds."""
        uids = list(uids if uids is not None else self.model.uids())
        if not uids or not self.active:
            return

        def job(db, progress, cancel):
            return {row["study_instance_uid"]: row["instance_count"] or 0 for row in worklist.study_rows(db, uids)}

        def done(counts: dict) -> None:
            self.model.set_cached({uid: counts.get(uid, 0) for uid in uids})
            self._current_changed(self.view.currentIndex(), QModelIndex())
            self.series_pane.update_cached()

        self.runner.read(self.home, "Cache counts", job, on_success=done, on_failure=lambda _m: None)
