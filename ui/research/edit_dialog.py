"""The Edit dialog of one study: pick series in a Table view or an RT view,
stage them into the active project, see at one glance whether staging is
finished.

Loading (the series, their staging state, the RT tree read from the files)
runs as read jobs through ui/jobs.py; staging (ui/research/edit_staging.py)
is a writer job with progress and Cancel. The staged state is read again on
every ``cache_changed(PROJECTS)`` broadcast that names this study (or no
study), whichever window staged.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QDialog, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QStackedWidget, QTabWidget, QVBoxLayout, QWidget)

from app.accounts.accounts import User
from app.home import Home
from ui import formatting
from ui.cache_events import PROJECTS, CacheChange, events_of
from ui.jobs import Job, JobRunner
from ui.research import data
from ui.research.edit_staging import StagingActions
from ui.research.rt_tree_model import RtTreeModel
from ui.research.rt_tree_view import RtTreeView
from ui.research.series_state import Ticks
from ui.research.series_table import PAGE_SIZE, SeriesTable
from ui.viewer import launch

LEGEND = ("Plans show their approval: <span style='color:#5fb878'>APPROVED</span>, "
          "<b style='color:#d08a4a'>UNAPPROVED</b> or <b style='color:#d25a5a'>REJECTED</b> "
          "(tinted rows: not approved for treatment). Ticking a series ticks everything under it; "
          "a partial tick is what \u201cWith references\u201d adds.")


class EditDialog(StagingActions, QDialog):
    loaded = Signal()
    state_refreshed = Signal()
    staging_finished = Signal(str)       # succeeded, failed or cancelled

    def __init__(self, home: Home, user: User, project: str, subject: dict, study: dict,
                 runner: JobRunner, parent: Optional[QWidget] = None, page_size: int = PAGE_SIZE):
        super().__init__(parent)
        self.setObjectName("researchEditDialog")
        self.home, self.user, self.project, self.runner = home, user, project, runner
        self.subject, self.study = subject, study
        self.job: Optional[Job] = None
        self._loading = False
        self.result_text = ""
        self.state: dict[str, dict] = {}
        self.setWindowTitle(f"Edit \u2014 {subject['subject']} \u2014 {study['description'] or 'study'}")
        self.ticks = Ticks(self)
        self.table = SeriesTable(self.ticks, page_size)
        self.table.view_requested.connect(self.view_series)
        self.rt_model = RtTreeModel(self.ticks, self)
        self.rt_view = RtTreeView(self.rt_model)
        self._build()
        self.ticks.changed.connect(self._update_summary)
        self.references.toggled.connect(self._references_toggled)
        self.resize(1000, 640)
        events_of(home).cache_changed.connect(self._cache_changed)
        self.load()

    # -- layout ----------------------------------------------------------------------------

    def _build(self) -> None:
        heading = QLabel(f"{formatting.dicom_date(self.study['study_date'])}  \u00b7  "
                         f"{self.study['description'] or '(no description)'}")
        heading.setObjectName("dialogHeading")
        note = QLabel(f"Subject {self.subject['subject']} (PID {self.subject['pid']})  \u00b7  "
                      f"project {self.project}")
        note.setObjectName("dialogNote")
        self.views = QTabWidget()
        self.views.setObjectName("editViews")
        self.views.addTab(self.table, "Table view")
        self.rt_stack = QStackedWidget()
        self.rt_empty = QLabel("No radiotherapy series in this study.")
        self.rt_empty.setObjectName("dialogNote")
        self.rt_empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        rt_page = QWidget()
        rt_layout = QVBoxLayout(rt_page)
        rt_layout.setContentsMargins(0, 0, 0, 0)
        rt_layout.addWidget(self.rt_view, 1)
        legend = QLabel(LEGEND)
        legend.setObjectName("rtLegend")
        legend.setWordWrap(True)
        rt_layout.addWidget(legend)
        self.rt_stack.addWidget(rt_page)
        self.rt_stack.addWidget(self.rt_empty)
        self.views.addTab(self.rt_stack, "RT view")

        self.references = QCheckBox("With references")
        self.references.setObjectName("withReferences")
        self.references.setToolTip("Also stage what the ticked series need: the plan, structure "
                                   "set and images above them (stage --with-references)")
        self.summary = QLabel()
        self.summary.setObjectName("tickSummary")
        self.summary.setWordWrap(True)
        self.verdict = QLabel("Reading the study\u2026")
        self.verdict.setObjectName("stagingVerdict")
        self.verdict.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setObjectName("stageProgress")
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.message = QLabel()
        self.message.setObjectName("stageMessage")
        self.stage_button = QPushButton("Stage")
        self.stage_button.setObjectName("stageButton")
        self.stage_button.setDefault(True)
        self.stage_button.setMinimumWidth(96)
        self.stage_button.setToolTip(f"Pseudonymised copies of the ticked series into {self.project}")
        self.stage_button.clicked.connect(lambda: self.stage())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelStaging")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        close = QPushButton("Close")
        close.setAutoDefault(False)
        close.clicked.connect(self.close)

        options = QHBoxLayout()
        options.addWidget(self.references)
        options.addWidget(self.summary, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.message, 1)
        buttons.addWidget(self.stage_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(note)
        layout.addWidget(self.views, 1)
        layout.addLayout(options)
        layout.addWidget(self.verdict)
        layout.addLayout(buttons)

    def view_series(self, series_uid: str):
        """Open the viewer on *series_uid* (a double-click or View in the table)."""
        return launch.open_series(self, self.home, self.user, self.runner, series_uid)

    def show_rt_view(self) -> None:
        self.views.setCurrentIndex(1)

    def show_table_view(self) -> None:
        self.views.setCurrentIndex(0)

    # -- loading ----------------------------------------------------------------------------

    def load(self) -> None:
        home, user, project = self.home, self.user, self.project
        patient_id, study_uid = self.study["patient_id"], self.study["study_instance_uid"]
        self._loading = True
        self.runner.read(home, "Research: read study",
                         lambda db, p, c: data.study_detail(home, db, user, project, patient_id, study_uid),
                         on_success=self._loaded, on_failure=self._load_failed)

    def is_loading(self) -> bool:
        return self._loading

    def _loaded(self, detail: dict) -> None:
        self._loading = False
        self.state = detail["state"]
        self.table.model.set_series(detail["series"], self.state)
        self.rt_model.set_tree(detail["tree"], self.state)
        self.rt_stack.setCurrentIndex(0 if detail["tree"] else 1)
        rt_count = sum(1 for item in self.rt_model.items() if item.node is not None)
        self.views.setTabText(0, f"Table view ({len(detail['series'])})")
        self.views.setTabText(1, f"RT view ({rt_count})")
        self._show_state()
        self._update_summary()
        self.loaded.emit()

    def _load_failed(self, message: str) -> None:
        self._loading = False
        self.verdict.setText(f"Could not read the study: {message}")
        self._set_level("failed")
        self.loaded.emit()

    def refresh_state(self) -> None:
        home, user, project = self.home, self.user, self.project
        patient_id, study_uid = self.study["patient_id"], self.study["study_instance_uid"]
        self.runner.read(home, "Research: staging state",
                         lambda db, p, c: data.study_state(db, user, project, patient_id, study_uid),
                         on_success=self._state_read,
                         on_failure=lambda m: self.message.setText(f"Could not read the state: {m}"))

    def _cache_changed(self, change: CacheChange) -> None:
        if change.touches(PROJECTS) and (not change.study_uids or self.study["study_instance_uid"] in change.study_uids):
            self.refresh_state()

    def _state_read(self, state: dict) -> None:
        self.state = state
        self.table.model.set_state(state)
        self.rt_model.set_state(state)
        self._show_state()
        self.state_refreshed.emit()

    def _show_state(self) -> None:
        level, line = data.verdict(list(self.state.values()))
        self.verdict.setText(line)
        self._set_level(level)

    def _set_level(self, level: str) -> None:
        self.verdict.setProperty("level", level)
        self.verdict.style().unpolish(self.verdict)
        self.verdict.style().polish(self.verdict)
