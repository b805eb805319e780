"""The research window's small dialogs: New project, Enrol subject,
Re-identify. Each runs its core call as a writer job (``runner.write``,
ui/jobs.py) and shows a refusal inline, so the user can correct the field
and try again; ``succeeded(result)`` after the job, then the dialog closes.
A new project or subject is announced (``cache_changed(PROJECTS)``) to every
research view; a re-identification changes nothing they show.
"""

from __future__ import annotations

import html
from typing import Callable, Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit,
                               QPlainTextEdit, QVBoxLayout, QWidget)

from app.accounts.accounts import User
from app.home import Home
from app.research import projects
from ui.cache_events import PROJECTS, CacheChange
from ui.jobs import JobRunner


class JobDialog(QDialog):
    succeeded = Signal(object)

    def __init__(self, title: str, intro: str, action: str, runner: JobRunner,
                 parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.runner = runner
        self.busy = False
        heading = QLabel(title.rstrip("."))
        heading.setObjectName("dialogHeading")
        note = QLabel(intro)
        note.setObjectName("dialogNote")
        note.setWordWrap(True)
        self.form = QFormLayout()
        self.error = QLabel()
        self.error.setObjectName("dialogError")
        self.error.setWordWrap(True)
        self.error.hide()
        self.buttons = QDialogButtonBox()
        self.ok = self.buttons.addButton(action, QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setDefault(True)
        self.buttons.addButton("Cancel", QDialogButtonBox.ButtonRole.RejectRole)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(note)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)

    def line(self, label: str, name: str, placeholder: str = "") -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setAccessibleName(label)
        edit.setPlaceholderText(placeholder)
        edit.textChanged.connect(self.validate)
        self.form.addRow(label, edit)
        return edit

    def ready(self) -> bool:
        return True

    def validate(self) -> None:
        self.ok.setEnabled(self.ready() and not self.busy)

    def submit(self) -> None:
        raise NotImplementedError

    def run(self, title: str, fn: Callable, changed: Optional[CacheChange]) -> None:
        """``fn(db)`` as a writer job on the dialog's home (subclasses set ``home``)."""
        self.busy = True
        self.validate()
        self.error.hide()
        self.runner.write(self.home, title, lambda db, progress, cancel: fn(db), changed=changed,
                          visible=False, on_success=self._done, on_failure=self._refused)

    def _done(self, result) -> None:
        self.busy = False
        self.succeeded.emit(result)
        self.accept()

    def _refused(self, message: str) -> None:
        self.busy = False
        self.error.setText(html.escape(message))
        self.error.show()
        self.validate()


class NewProjectDialog(JobDialog):
    def __init__(self, home: Home, user: User, runner: JobRunner, parent: Optional[QWidget] = None):
        super().__init__("New project...", "A research project: its own store, UID map and "
                         "subjects. You become its admin.", "Create", runner, parent)
        self.home, self.user = home, user
        self.name = self.line("Name", "projectName", "e.g. RT-TRIAL")
        self.validate()

    def ready(self) -> bool:
        return bool(self.name.text().strip())

    def submit(self) -> None:
        user, name = self.user, self.name.text().strip()
        self.run(f"Create project {name}", lambda db: projects.create(db, user, name),
                 CacheChange.of(PROJECTS))


class EnrolDialog(JobDialog):
    def __init__(self, home: Home, user: User, project: str, runner: JobRunner,
                 parent: Optional[QWidget] = None):
        super().__init__("Enrol subject...", f"Link a clinical patient to a pseudonym (PID) and a "
                         f"StudySubjectID in project {project}. Staged copies carry the PID as "
                         "PatientID and the StudySubjectID as PatientName.", "Enrol", runner, parent)
        self.home, self.user, self.project = home, user, project
        self.patient_id = self.line("Clinical patient ID", "enrolPatientId", "PatientID in the cache")
        self.pid = self.line("PID (pseudonym)", "enrolPid", "e.g. xId01")
        self.subject = self.line("StudySubjectID", "enrolSubject", "e.g. yId01")
        self.validate()

    def ready(self) -> bool:
        return all(e.text().strip() for e in (self.patient_id, self.pid, self.subject))

    def submit(self) -> None:
        user, project = self.user, self.project
        values = [e.text().strip() for e in (self.patient_id, self.pid, self.subject)]
        self.run(f"Enrol {values[1]} in {project}", lambda db: projects.enrol(db, user, project, *values),
                 CacheChange.of(PROJECTS))


class ReidentifyDialog(JobDialog):
    """PID to clinical patient: project admins only, with a typed reason
    (audited by the core)."""

    def __init__(self, home: Home, user: User, project: str, pid: str, runner: JobRunner,
                 parent: Optional[QWidget] = None):
        super().__init__("Re-identify subject...", f"Shows the clinical patient behind a PID of "
                         f"{project}. The reason is recorded in the audit trail with your name.",
                         "Re-identify", runner, parent)
        self.home, self.user, self.project = home, user, project
        self.reason = None
        self.pid = self.line("PID", "reidentifyPid")
        self.reason = QPlainTextEdit()
        self.reason.setObjectName("reidentifyReason")
        self.reason.setPlaceholderText("Why is re-identification needed? (required)")
        self.reason.setFixedHeight(80)
        self.reason.textChanged.connect(self.validate)
        self.form.addRow("Reason", self.reason)
        self.pid.setText(pid)
        self.validate()

    def ready(self) -> bool:
        return bool(self.reason is not None and self.pid.text().strip()
                    and self.reason.toPlainText().strip())

    def submit(self) -> None:
        user, project = self.user, self.project
        pid, reason = self.pid.text().strip(), self.reason.toPlainText().strip()
        self.run(f"Re-identify {pid}", lambda db: projects.reidentify(db, user, project, pid, reason), None)
