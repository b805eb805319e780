"""The jobs panel: running and finished jobs, a progress bar and Cancel each."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDockWidget, QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea,
                               QVBoxLayout, QWidget)

from ui.job_row import JobRow
from ui.jobs import Job, JobRunner

KEEP_FINISHED = 30  # finished rows kept before the oldest are dropped


class JobsPanel(QWidget):
    """Lists every visible job the runner starts, newest first."""

    def __init__(self, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("jobsPanel")
        self._rows: list[JobRow] = []
        self._list = QWidget()
        self._list.setObjectName("jobsList")
        self._layout = QVBoxLayout(self._list)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(1)
        self._empty = QLabel("No jobs")
        self._empty.setObjectName("jobsEmpty")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._layout.addWidget(self._empty)
        self._layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self._list)
        self._clear = QPushButton("Clear finished")
        self._clear.setObjectName("jobsClear")
        self._clear.clicked.connect(self.clear_finished)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(scroll, 1)
        side = QVBoxLayout()
        side.setContentsMargins(8, 4, 8, 4)
        side.addWidget(self._clear)
        side.addStretch(1)
        outer.addLayout(side)
        runner.job_added.connect(self.add_job)

    def rows(self) -> list[JobRow]:
        return list(self._rows)

    def row_for(self, job: Job) -> JobRow | None:
        return next((r for r in self._rows if r.job is job), None)

    def add_job(self, job: Job) -> None:
        row = JobRow(job, self._list)
        self._rows.insert(0, row)
        self._layout.insertWidget(0, row)
        self._empty.hide()
        finished = [r for r in self._rows if r.job.done]
        for old in finished[KEEP_FINISHED:]:
            self._remove(old)

    def clear_finished(self) -> None:
        for row in [r for r in self._rows if r.job.done]:
            self._remove(row)

    def _remove(self, row: JobRow) -> None:
        self._rows.remove(row)
        self._layout.removeWidget(row)
        row.deleteLater()  # the handle goes with the row's last reference
        self._empty.setVisible(not self._rows)


def jobs_dock(runner: JobRunner, parent: QWidget) -> QDockWidget:
    dock = QDockWidget("Jobs", parent)
    dock.setObjectName("jobsDock")
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QDockWidget.DockWidgetFeature.DockWidgetClosable
                     | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
    dock.setWidget(JobsPanel(runner, dock))
    return dock
