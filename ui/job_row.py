"""One job as a row: title, progress bar, message, Cancel.

The jobs panel (ui/shell/jobs_panel.py) lists these; a window that runs a
long job of its own (the outbox's send) shows one in place. It knows only a
:class:`~ui.jobs.Job` handle, so every folder of ui/ may use it.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget

from ui.jobs import CANCELLED, FAILED, SUCCEEDED, Job


class JobRow(QFrame):
    """One job: title, progress bar, message, Cancel."""

    def __init__(self, job: Job, parent: QWidget | None = None):
        super().__init__(parent)
        self.job = job
        self.setObjectName("jobRow")
        self.title = QLabel(job.title)
        self.title.setObjectName("jobTitle")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(8)
        self.bar.setMinimumWidth(160)
        self.message = QLabel(job.message)
        self.message.setObjectName("jobMessage")
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("jobCancel")
        self.cancel_button.clicked.connect(self._cancel)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(10)
        layout.addWidget(self.title, 2)
        layout.addWidget(self.bar, 2)
        layout.addWidget(self.message, 3)
        layout.addWidget(self.cancel_button)

        job.started.connect(self._refresh)
        job.progress.connect(self._refresh)
        job.finished.connect(self._refresh)
        self._refresh()

    def _cancel(self) -> None:
        self.job.cancel()
        self.cancel_button.setEnabled(False)
        self.message.setText("Cancelling...")

    def _refresh(self, *_args) -> None:
        job = self.job
        if job.state == SUCCEEDED:
            self.bar.setRange(0, 1000)
            self.bar.setValue(1000)
        elif job.done:
            self.bar.setRange(0, 1000)
        elif job.fraction < 0:
            self.bar.setRange(0, 0)  # busy indicator
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(round(job.fraction * 1000)))
        text = job.message
        self.message.setText(text)
        self.message.setToolTip(job.error or text)
        self.cancel_button.setVisible(not job.done)
        state = {SUCCEEDED: "done", FAILED: "failed", CANCELLED: "cancelled"}.get(job.state, "running")
        if self.property("state") != state:
            self.setProperty("state", state)
            for widget in (self, self.message, self.bar):
                widget.style().unpolish(widget)
                widget.style().polish(widget)
