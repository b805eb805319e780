"""The series of the highlighted remote study, asked of the node: the pane
beside the series strip while the worklist shows a node.

When a remote study becomes current, :class:`RemoteSeriesPane` asks the
node for its series (``client.query_series``, C-FIND at SERIES level) in a
job and lists them: number, modality, description, images, and how much of
each the cache holds. Moving on to another study cancels the question in
flight (C-CANCEL) and an answer that arrives for a study no longer current
is dropped; a failure is said in the pane. A short delay before asking
keeps arrowing down the worklist from opening an association per row.

Ticked series (or the highlighted one) are retrieved with the pane's
button: ``retrieve_requested(study_uid, series_uids)``, which the Remote
source runs as ``retrieve_series.retrieve_series``.
"""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QStackedWidget, QTableView, QVBoxLayout, QWidget)

from app.accounts.accounts import User
from app.home import Home
from app.net import client
from ui.worklist.action_bar import privilege_reason
from ui.jobs import Job, JobRunner
from ui.net.remote_series_model import DESCRIPTION, RemoteSeriesModel, cached_counts

ASK_DELAY_MS = 150  # a study highlighted this long is asked about


class RemoteSeriesPane(QFrame):
    """``asked(study_uid)`` when the node is asked about a study, ``loaded(study_uid)``
    when its series are listed, ``failed(message)`` when the node could not list
    them, ``retrieve_requested(study_uid, series_uids)``."""

    asked = Signal(str)
    loaded = Signal(str)
    failed = Signal(str)
    retrieve_requested = Signal(str, list)

    def __init__(self, home: Home, user: User, runner: JobRunner,
                 method_text: Callable[[], str] = lambda: "by C-GET", parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("remoteSeriesPane")
        self.home, self.user, self.runner = home, user, runner
        self.method_text = method_text
        self.node = ""
        self.study_uid: Optional[str] = None
        self.job: Optional[Job] = None
        self._generation = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(ASK_DELAY_MS)
        self._timer.timeout.connect(self._ask)
        self.model = RemoteSeriesModel(self)
        self.model.ticks_changed.connect(self.update_button)

        self.heading = QLabel("Series on the node")
        self.heading.setObjectName("remoteSeriesHeading")
        self.study_label = QLabel()  # whose study: patient, date, description
        self.study_label.setObjectName("remoteSeriesStudy")
        self.study_label.setWordWrap(True)
        self.view = QTableView()
        self.view.setObjectName("remoteSeries")
        self.view.setAccessibleName("Series on the node")
        self.view.setAccessibleDescription("The highlighted study's series on the node; tick some to retrieve "
                                           "only those")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setVisible(False)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(DESCRIPTION, QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        self.view.selectionModel().currentRowChanged.connect(lambda *_: self.update_button())
        self.message = QLabel()
        self.message.setObjectName("remoteSeriesMessage")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body = QStackedWidget()
        self.body.addWidget(self.message)
        self.body.addWidget(self.view)
        self.count = QLabel()
        self.count.setObjectName("remoteSeriesCount")
        self.retrieve_button = QPushButton("Retrieve series")
        self.retrieve_button.setObjectName("retrieveSeriesButton")
        self.retrieve_button.setAccessibleDescription("Fetch the ticked series (or the highlighted one) into "
                                                      "the cache")
        self.retrieve_button.clicked.connect(self._retrieve_clicked)
        row = QHBoxLayout()
        row.setContentsMargins(10, 4, 10, 6)
        row.addWidget(self.count, 1)
        row.addWidget(self.retrieve_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.heading)
        layout.addWidget(self.study_label)
        layout.addWidget(self.body, 1)
        layout.addLayout(row)
        self.show_study("", None)

    # -- what it shows ------------------------------------------------------------------

    def show_study(self, node: str, study_uid: Optional[str], heading: str = "") -> None:
        """List *study_uid*'s series on *node* (None: nothing); the same study
        again is a no-op (see :meth:`reload`)."""
        if (node, study_uid) == (self.node, self.study_uid):
            return
        self.node, self.study_uid = node, study_uid
        self._generation += 1
        self._cancel()
        self.model.set_rows([])
        self.heading.setText(self._title())
        self.study_label.setText(heading)
        self.study_label.setVisible(bool(heading))
        if study_uid is None:
            self._say("Highlight a study to see its series on the node")
            self._timer.stop()
            return
        self._say(f"Asking {node} for the series...")
        self._timer.start()

    def reload(self) -> None:
        """Ask the node again about the current study."""
        node, uid, self.study_uid = self.node, self.study_uid, None
        self.show_study(node, uid, self.study_label.text())

    def _title(self, count: Optional[int] = None) -> str:
        where = f" on {self.node}" if self.node else ""
        return f"Series{where}" if count is None else f"{count} series{where}"

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.body.setCurrentWidget(self.message)
        self.update_button()

    def _cancel(self) -> None:
        if self.job is not None and not self.job.done:
            self.job.cancel()  # C-CANCEL; its answer is dropped by the generation anyway
        self.job = None

    def _ask(self) -> None:
        if self.study_uid is None:
            return
        home, user, node, study_uid, generation = (self.home, self.user, self.node, self.study_uid,
                                                   self._generation)

        def job(db, progress, cancel):
            rows = client.query_series(home, user, node, study_uid, cancel)
            counts = cached_counts(db, [r["series_instance_uid"] for r in rows])
            return [dict(row, in_cache=counts[row["series_instance_uid"]]) for row in rows]

        self.job = self.runner.read(home, f"Series on {node}", job,
                                    on_success=lambda rows: self._answered(generation, study_uid, rows),
                                    on_failure=lambda message: self._failed(generation, message),
                                    on_cancel=lambda: None)
        self.asked.emit(study_uid)

    def _answered(self, generation: int, study_uid: str, rows: list[dict]) -> None:
        if generation != self._generation:
            return  # an answer about a study no longer highlighted
        self.job = None
        self.model.set_rows(rows)
        self.heading.setText(self._title(len(rows)))
        if rows:
            self.body.setCurrentWidget(self.view)
        else:
            self._say(f"{self.node} lists no series for this study")
        self.update_button()
        self.loaded.emit(study_uid)

    def _failed(self, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        self.job = None
        self._say(f"Could not list the series on {self.node}:\n{message}")
        self.failed.emit(message)

    def update_cached(self) -> None:
        """Read again how much of each listed series the cache holds."""
        uids = self.model.uids()
        if not uids:
            return
        home, generation = self.home, self._generation

        def done(counts: dict) -> None:
            if generation == self._generation:
                self.model.set_cached(counts)

        self.runner.read(home, "Series cache counts", lambda db, progress, cancel: cached_counts(db, uids),
                         on_success=done, on_failure=lambda _m: None)

    # -- retrieving -----------------------------------------------------------------------

    def current_uid(self) -> Optional[str]:
        current = self.view.currentIndex()
        if not current.isValid() or self.body.currentWidget() is not self.view:
            return None
        return self.model.series(current.row())["series_instance_uid"]

    def targets(self) -> list[str]:
        """The ticked series, else the highlighted one."""
        ticked = self.model.ticked()
        if ticked:
            return ticked
        uid = self.current_uid()
        return [uid] if uid else []

    def reason(self) -> str:
        """Why the button cannot be used ('' when it can)."""
        why = privilege_reason(self.user, "network", "Retrieving series")
        if why:
            return why
        if not self.targets():
            return "Tick the series to retrieve, or click one."
        return ""

    def update_button(self) -> None:
        ticked, targets = len(self.model.ticked()), self.targets()
        total = self.model.rowCount() if self.body.currentWidget() is self.view else 0
        if ticked:
            self.count.setText(f"{ticked} of {total} series ticked")
        elif targets:
            self.count.setText("Highlighted: 1 series")
        else:
            self.count.setText("")
        why = self.reason()
        number = len(targets)
        self.retrieve_button.setText(f"Retrieve {number} series {self.method_text()}" if number
                                     else "Retrieve series")
        self.retrieve_button.setEnabled(not why)
        self.retrieve_button.setToolTip(why or "Copy these series from the node into the cache "
                                               "(the method is the one chosen in the bar above)")

    def _retrieve_clicked(self) -> None:
        targets = self.targets()
        if targets and self.study_uid and not self.reason():
            self.retrieve_requested.emit(self.study_uid, targets)
