"""The export dialog: the worklist selection as a ZIP, plain or anonymised.

``open_export_dialog(parent, home, user, study_uids)`` shows it (non-modal).
It runs app.export.export_zip through the window's job adapter (ui/jobs.py:
the parent's ``runner`` when it has one), shows progress with a Cancel
button, and at the end the verification report. When the residual scan
finds identifying values, the hits are shown and the user may export anyway
with a reason. The job never touches a widget; results come back by signal.

Plain or anonymised is the one choice that decides whether patient data
leaves the workstation (ui/export/export_choice.py shows it). Nothing is
chosen when the dialog opens and Export waits until one is: either default
would be wrong half the time (a plain default leaks data the user meant to
remove; an anonymised one silently sends a referring hospital images it
cannot match to its patient), so, as on a PACS's media export, the user
decides each time. The widgets: ui/export/export_form.py.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QWidget

from app.accounts.accounts import User
from app.deid.report_html import render_html
from app.export import ResidualIdentifiers, export_zip
from app.home import Home
from ui.export.export_form import ExportForm
from ui.jobs import UNKNOWN, Job, JobRunner


class ExportDialog(ExportForm, QDialog):
    exportFinished = Signal(str)  # "succeeded", "refused", "failed" or "cancelled"

    def __init__(self, home: Home, user: User, study_uids: list[str],
                 runner: Optional[JobRunner] = None, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export studies as ZIP")
        self.home, self.user, self.study_uids = home, user, list(study_uids)
        self._own_runner = runner is None
        self.runner = runner or JobRunner(self, error_parent=self)
        self.job: Optional[Job] = None
        self.result = None
        self._is_running = False
        self._build()
        self._mode_changed()

    # -- running -----------------------------------------------------------------------

    def start(self, override_reason: str = "") -> Optional[Job]:
        """Run the export; None (nothing started) while the mode is not chosen."""
        if not self.mode():
            self.message.setText("Choose first: Anonymised, or Plain with the patient data")
            return None
        home, user, uids = self.home, self.user, list(self.study_uids)
        destination = self.destination.text().strip()
        anonymize, options = self.anonymize.isChecked(), self.chosen_options()
        dicomdir = self.dicomdir.isChecked()

        def job(progress, cancel):
            try:
                return export_zip(home, user, uids, destination, anonymize=anonymize,
                                  options=options, dicomdir=dicomdir,
                                  override_reason=override_reason, progress=progress,
                                  cancel=cancel)
            except ResidualIdentifiers as refused:
                return refused  # not a failure of the job: the user decides

        self._running(True)
        self.report.hide()
        self.override_panel.hide()
        self.message.setText("Starting")
        self.job = self.runner.start(f"Export {len(uids)} stud{'ies' if len(uids) != 1 else 'y'}",
                                     job, kind="read", on_success=self._succeeded,
                                     on_failure=self._failed, on_cancel=self._cancelled)
        self.job.progress.connect(self._progress)
        return self.job

    def _running(self, running: bool) -> None:
        self._is_running = running
        for widget in (self.start_button, self.plain, self.anonymize, self.options_box,
                       self.dicomdir, self.destination):
            widget.setEnabled(not running)
        if not running:
            self._mode_changed()
        else:
            self.start_button.setEnabled(False)
        self.cancel_button.setText("Cancel" if running else "Close")

    def _progress(self, fraction: float, message: str) -> None:
        if fraction == UNKNOWN:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))
        self.message.setText(message)

    def _succeeded(self, result) -> None:
        self._running(False)
        if isinstance(result, ResidualIdentifiers):
            self.result = result.report
            self.message.setText(str(result))
            self.report.setHtml(render_html(result.report))
            self.report.show()
            self.override_panel.show()
            self.override.setEnabled(bool(self.reason.text().strip()))
            self.exportFinished.emit("refused")
            return
        self.result = result
        self.progress.setRange(0, 1000)
        self.progress.setValue(1000)
        self.message.setText(f"{result.instances_out} instances written to {result.zip}")
        if result.report is not None:
            self.report.setHtml(render_html(result.report))
            self.report.show()
        self.exportFinished.emit("succeeded")

    def _failed(self, message: str) -> None:
        self._running(False)
        self.message.setText(f"Export failed: {message}")
        self.exportFinished.emit("failed")

    def _cancelled(self) -> None:
        self._running(False)
        self.message.setText("Export cancelled; nothing was kept")
        self.exportFinished.emit("cancelled")

    def _override(self) -> None:
        if self.reason.text().strip():
            self.start(self.reason.text().strip())

    def _cancel_or_close(self) -> None:
        if self.job is not None and not self.job.done:
            self.job.cancel()
            self.message.setText("Cancelling")
        else:
            self.close()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.job is not None and not self.job.done:
            self.job.cancel()
        if self._own_runner:
            self.runner.shutdown()
        super().closeEvent(event)


def open_export_dialog(parent, home: Home, user: User, study_uids: list[str]) -> None:
    """Show the export dialog for *study_uids* (the worklist's selection)."""
    dialog = ExportDialog(home, user, study_uids, getattr(parent, "runner", None), parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
