"""The research window's commands: the Edit dialog of a study (one per
study, kept while the window lives), New project, Enrol subject and
Re-identify (ui/research/dialogs.py).

A mixin of :class:`ui.research.window.ResearchWindow`. What the dialogs
write reaches the window through the ``cache_changed`` broadcast; here only
what the user asked to see next (the new project, the enrolled subject, the
re-identified patient).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QMessageBox

from ui.research.dialogs import EnrolDialog, NewProjectDialog, ReidentifyDialog
from ui.research.edit_dialog import EditDialog


class ResearchCommands:
    """(a mixin: the window provides home, user, project, role, runner, model and table)"""

    def open_edit(self, subject: dict, study: dict) -> EditDialog:
        key = f"{self.project}/{study['study_uid']}"
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
