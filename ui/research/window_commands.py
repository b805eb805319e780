"""The research window's toolbar and commands: the active project's
selector, the Edit dialog of a study (one per study, kept while the window
lives), New project, Enrol subject and Re-identify (ui/research/dialogs.py),
each enabled for the user's privilege and role in the project.

A mixin of :class:`ui.research.window.ResearchWindow`. What the dialogs
write reaches the window through the ``cache_changed`` broadcast; here only
what the user asked to see next (the new project, the enrolled subject, the
re-identified patient).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QMessageBox, QSizePolicy, QWidget

from ui.research.dialogs import EnrolDialog, NewProjectDialog, ReidentifyDialog
from ui.research.edit_dialog import EditDialog


class ResearchCommands:
    """(a mixin: the window provides home, user, project, role, runner, model and table)"""

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Research")
        bar.setObjectName("researchToolbar")
        bar.setMovable(False)
        caption = QLabel("Active project")
        caption.setObjectName("toolbarCaption")
        bar.addWidget(caption)
        self.project_box = QComboBox()
        self.project_box.setObjectName("projectSelector")
        self.project_box.setAccessibleName("Active project")
        self.project_box.setMinimumWidth(240)
        self.project_box.currentIndexChanged.connect(self._project_changed)
        bar.addWidget(self.project_box)
        self.new_action = self._action(bar, "New project...", "newProject", self.new_project)
        self.enrol_action = self._action(bar, "Enrol subject...", "enrolSubject", self.enrol)
        self.reidentify_action = self._action(bar, "Re-identify...", "reidentify", self.reidentify)
        self.refresh_action = self._action(bar, "Refresh", "refreshResearch", self.refresh)
        self.refresh_action.setShortcut(QKeySequence.StandardKey.Refresh)
        if not self.user.can("research"):
            self.new_action.setEnabled(False)
            self.new_action.setToolTip("Needs the research privilege (roles admin, researcher)")
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        self.role_label = QLabel()
        self.role_label.setObjectName("researchRole")
        bar.addWidget(self.role_label)

    def _action(self, bar, text: str, name: str, slot) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.triggered.connect(lambda: slot())
        bar.addAction(action)
        return action

    def _update_actions(self) -> None:
        has = bool(self.project)
        self.enrol_action.setEnabled(has and self.user.can("research"))
        admin = has and self.role == "admin"
        self.reidentify_action.setEnabled(admin)
        self.reidentify_action.setToolTip(
            "PID to clinical patient, with a typed reason (audited)" if admin
            else f"Only admins of {self.project or 'the project'} may re-identify subjects")

    def open_edit(self, subject: dict, study: dict) -> EditDialog:
        key = f"{self.project}/{study['study_instance_uid']}"
        dialog = self.dialogs.get(key)
        if dialog is None:
            dialog = EditDialog(self.home, self.user, self.project, subject, study, self.runner, self)
            dialog.staging_finished.connect(lambda outcome: self.show_message(
                f"Staging {outcome}; see the Edit dialog for the state"))
            self.dialogs[key] = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def selected_subject(self) -> Optional[dict]:
        return self.model.subject_of(self.table.currentIndex())

    def new_project(self) -> NewProjectDialog:
        dialog = NewProjectDialog(self.home, self.user, self.runner, self)
        dialog.succeeded.connect(lambda result: self.select_project(result["project"]))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def enrol(self) -> EnrolDialog:
        dialog = EnrolDialog(self.home, self.user, self.project, self.runner, self)
        dialog.succeeded.connect(self._enrolled)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _enrolled(self, subject: dict) -> None:
        self.show_subjects([subject], f"Enrolled {subject['subject']}")

    def reidentify(self) -> Optional[ReidentifyDialog]:
        if self.role != "admin":
            return None
        subject = self.selected_subject()
        dialog = ReidentifyDialog(self.home, self.user, self.project, subject["pid"] if subject else "",
                                  self.runner, self)
        dialog.succeeded.connect(self._reidentified)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _reidentified(self, subject: dict) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "Re-identified",
                          f"PID {subject['pid']} (StudySubjectID {subject['subject']}) is clinical "
                          f"patient {subject['patient_id']}.", QMessageBox.StandardButton.Ok, self)
        box.setInformativeText("This re-identification and its reason are in the audit trail.")
        box.setObjectName("reidentified")
        box.finished.connect(box.deleteLater)
        self.reidentified_box = box
        box.open()
