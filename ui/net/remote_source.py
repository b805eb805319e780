"""The worklist's Remote source: a node's studies in the worklist table, and Retrieve.

With a query-retrieve node chosen in the scope bar, Search runs C-FIND on it
(:class:`~ui.net.remote_model.RemoteModel`, a job the jobs panel can cancel) and
the worklist area shows the answer: the same table (a
:class:`~ui.worklist.view.WorklistView` with the local view's column layout)
over the remote model, with the retrieve bar under it. Retrieve runs
``retrieve.retrieve`` as a writer job (it records into the cache through the
importer's path) with progress from the sub-operation counts; afterwards the
local worklist is searched again and the "In cache" column updated.

Beside the series strip, :class:`~ui.net.remote_series.RemoteSeriesPane` lists
the highlighted study's series as the node has them (C-FIND at SERIES
level); its button retrieves the ticked series only
(``retrieve_series.retrieve_series``), by the method chosen in the bar.

The local table keeps its own model and selection: switching back finds the
local worklist as it was left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject, QPoint, Qt
from PySide6.QtGui import QAction, QFont, QFontMetrics
from PySide6.QtWidgets import QMenu, QMessageBox, QStackedWidget, QVBoxLayout, QWidget

from app.worklist import query as worklist
from app.net import nodes
from app.net.retrieve import study as net_retrieve
from app.net.retrieve import series as net_series
from app.worklist.query import Query
from ui import formatting
from ui.worklist.action_bar import privilege_reason
from ui.jobs import Job
from ui.net.remote_model import STATUS_TITLE, RemoteModel
from ui.net.remote_series import RemoteSeriesPane
from ui.net.retrieve_bar import RetrieveBar
from ui.worklist.selection import TickSet
from ui.worklist.model import STATUS, column_index
from ui.worklist.view import PLAIN_HEADER_PADDING, WorklistView

if TYPE_CHECKING:
    from ui.shell.main_window import MainWindow

HIDDEN = ("assigned_to",)  # local workflow state a node does not have
NOT_CACHED = "Not in the cache: its thumbnails show here once retrieved"


def _page(name: str, *widgets: QWidget) -> QWidget:
    """*widgets* stacked, the first taking the height."""
    page = QWidget()
    page.setObjectName(name)
    layout = QVBoxLayout(page)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    for i, widget in enumerate(widgets):
        layout.addWidget(widget, 1 if i == 0 else 0)
    return page


def source_pages(table: QWidget, bar: QWidget, remote_page: QWidget) -> QStackedWidget:
    """The worklist area: the local table and its action bar (page 0), the
    remote page (page 1)."""
    pages = QStackedWidget()
    pages.setObjectName("worklistPages")
    pages.addWidget(_page("localPage", table, bar))
    pages.addWidget(remote_page)
    return pages


def summary(result: net_retrieve.RetrieveResult) -> str:
    if isinstance(result, net_series.SeriesRetrieveResult):
        count = len(result.series) - len(result.series_not_found)
        what, missing = f"{count} series", len(result.series_not_found)
    else:
        studies = len(result.studies) - len(result.not_found)
        what, missing = f"{studies} stud{'ies' if studies != 1 else 'y'}", len(result.not_found)
    text = (f"Retrieved {result.retrieved} image{'s' if result.retrieved != 1 else ''} of "
            f"{what} from {result.node} by C-{result.method.upper()}")
    if result.already_present:
        text += f", {result.already_present} already here"
    if result.failed:
        text += f", {len(result.failed)} failed"
    if missing:
        text += f", {missing} not on the node"
    return text


class RemoteSource(QObject):
    """The remote page of the worklist area (:attr:`page`) and what it does."""

    def __init__(self, window: "MainWindow"):
        super().__init__(window)
        self.w = window
        self.ticks = TickSet(self)
        self.model = RemoteModel(window.home, window.runner, window.user, self, ticks=self.ticks)
        self.view = WorklistView(self.model)
        self.view.setObjectName("remoteWorklist")
        self.bar = RetrieveBar()
        self.page = _page("remotePage", self.view, self.bar)
        self.series_pane = RemoteSeriesPane(window.home, window.user, window.runner,
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
        home, scope = self.w.home, self.w.scope
        self.w.runner.start("Nodes", lambda progress, cancel: nodes.nodes_of(home), kind="read",
                            visible=False, on_success=scope.set_nodes,
                            on_failure=lambda message: self.w.show_message(f"Nodes: {message}"))

    def activate(self, node: str, query: Query) -> None:
        """Show *node*: its last answer is gone; the QBE query runs at once
        when it has criteria (see :meth:`search`)."""
        if node != self.model.node:
            self.ticks.clear()
            self.model.set_node(node)
            self._copy_layout()
            self.series_pane.show_study(node, None)
        self.series_pane.show()
        self.w.strip.show_study(None)
        self.w.strip.heading.setText(NOT_CACHED)
        self.search(query)
        self.update_bar()

    def deactivate(self) -> None:
        self.model.set_node("")
        self.ticks.clear()
        self.series_pane.show_study("", None)
        self.series_pane.hide()

    def _copy_layout(self) -> None:
        """The local table's column order and widths, without its workflow
        columns, and room for the In cache title."""
        header = self.view.horizontalHeader()
        header.restoreState(self.w.table.horizontalHeader().saveState())
        for key in HIDDEN:
            header.setSectionHidden(column_index(key), True)
        bold = QFont(header.font())
        bold.setBold(True)
        title = QFontMetrics(bold).horizontalAdvance(STATUS_TITLE) + PLAIN_HEADER_PADDING
        header.resizeSection(STATUS, max(header.sectionSize(STATUS), title))

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
        self.w.show_message(f"Query of {self.node} failed: {message}")

    def _say(self, text: str) -> None:
        if self.active:
            self.w.count_label.setText(text)

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
            label = formatting.person_name(row.get("patient_name")) or row.get("accession") or ""
        reason = privilege_reason(self.w.user, "network", "Retrieving studies")
        self.bar.show_state(len(self.ticks), label or None, reason)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.update_bar()
        if not current.isValid() or not self.active:
            return
        row = self.model.study(current.row())
        heading = "  ·  ".join(filter(None, (
            formatting.person_name(row.get("patient_name")), row.get("patient_id"),
            formatting.dicom_date(row.get("study_date")), row.get("description"))))
        self.series_pane.show_study(self.node, row["study_uid"], heading)
        if row.get("in_cache"):
            self.w.strip.show_study(row["study_uid"], heading + "  ·  in the cache")
        else:
            self.w.strip.show_study(None)
            self.w.strip.heading.setText(NOT_CACHED)

    def row_menu(self, row: int, pos: Optional[QPoint] = None) -> QMenu:
        uid = self.model.study_uid(row)
        uids = self.ticks.uids() if uid in self.ticks else [uid] if uid else []
        count = f" {len(uids)} studies" if len(uids) > 1 else ""
        why = privilege_reason(self.w.user, "network", "Retrieving studies")
        menu = QMenu(self.view)
        menu.setObjectName("remoteRowMenu")
        menu.setToolTipsVisible(True)
        for method, text in (("get", f"Retrieve{count} by C-GET"), ("move", f"Retrieve{count} by C-MOVE")):
            action = QAction(text, menu)
            action.setObjectName(f"menu_retrieve_{method}")
            action.setEnabled(not why and bool(uids))
            action.setToolTip(why or "Copy into the cache")
            action.triggered.connect(lambda _=False, m=method: self.retrieve(uids, m))
            menu.addAction(action)
        self.menu = menu
        if pos is not None:
            menu.popup(pos)
        return menu

    # -- retrieving ---------------------------------------------------------------------

    def retrieve(self, uids: Optional[list[str]] = None, method: Optional[str] = None) -> Optional[Job]:
        """Retrieve *uids* (default: :meth:`targets`) by *method* (default: the
        bar's) as a writer job; the jobs panel shows it with Cancel."""
        uids = list(uids or self.targets())
        if not uids or not self.node:
            return None
        method = method or self.bar.method()
        home, user, node = self.w.home, self.w.user, self.node

        def job(progress, cancel):
            return net_retrieve.retrieve(home, user, node, uids, method, progress, cancel)

        self.w.show_message(f"Retrieving {len(uids)} stud{'ies' if len(uids) != 1 else 'y'} "
                            f"from {node} by C-{method.upper()}...")
        running = self.w.runner.start(f"Retrieve from {node}", job, kind="write", summarize=summary,
                                      on_success=self._retrieved)
        running.finished.connect(self.w.cache_changed)  # a cancelled retrieve keeps what arrived too
        return running

    def retrieve_series(self, study_uid: str, series_uids: list[str],
                        method: Optional[str] = None) -> Optional[Job]:
        """Retrieve *series_uids* of *study_uid* (the series pane's button) by
        *method* (default: the bar's) as a writer job."""
        if not series_uids or not self.node:
            return None
        method = method or self.bar.method()
        home, user, node, series = self.w.home, self.w.user, self.node, list(series_uids)

        def job(progress, cancel):
            return net_series.retrieve_series(home, user, node, study_uid, series, method, progress, cancel)

        self.w.show_message(f"Retrieving {len(series)} series from {node} by C-{method.upper()}...")
        running = self.w.runner.start(f"Retrieve series from {node}", job, kind="write", summarize=summary,
                                      on_success=self._retrieved)
        running.finished.connect(self.w.cache_changed)
        return running

    def _retrieved(self, result: net_retrieve.RetrieveResult) -> None:
        self.last_result = result
        self.w.show_message(summary(result))
        problems = [f"{f.get('sop_instance_uid', '')}: {f.get('reason', '')}" for f in result.failed]
        problems += [f"study {uid}: not on {result.node}" for uid in result.not_found]
        if isinstance(result, net_series.SeriesRetrieveResult):
            problems += [f"series {uid}: not on {result.node}" for uid in result.series_not_found]
            if self.series_pane.study_uid in result.studies:
                self.series_pane.model.clear_ticks()
        if problems:
            box = QMessageBox(QMessageBox.Icon.Warning, "StudyDesk",
                              f"Retrieve from {result.node}: {len(problems)} problem"
                              f"{'s' if len(problems) != 1 else ''}.", QMessageBox.StandardButton.Ok,
                              self.w)
            box.setObjectName("retrieveProblems")
            box.setInformativeText("Run Retrieve again to fetch only what is missing.")
            box.setDetailedText("\n".join(problems))
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.problems_box = box
            box.open()

    def update_cached(self, uids: Optional[list[str]] = None) -> None:
        """Read how much of *uids* (default: every listed study) the cache holds."""
        uids = list(uids if uids is not None else self.model.uids())
        if not uids or not self.active:
            return
        home = self.w.home

        def job(progress, cancel):
            db = home.connect()
            try:
                return {row["study_uid"]: row["instance_count"] or 0 for row in worklist.study_rows(db, uids)}
            finally:
                db.close()

        def done(counts: dict) -> None:
            self.model.set_cached({uid: counts.get(uid, 0) for uid in uids})
            self._current_changed(self.view.currentIndex(), QModelIndex())
            self.series_pane.update_cached()

        self.w.runner.start("Cache counts", job, kind="read", visible=False, on_success=done,
                            on_failure=lambda _m: None)
