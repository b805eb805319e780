"""The export dialog: the worklist selection as a ZIP, plain or anonymised.

``open_export_dialog(parent, home, user, study_uids)`` shows it (non-modal).
It runs app.export.export_zip through the window's job adapter (ui/jobs.py:
the parent's ``runner`` when it has one), shows progress with a Cancel
button, and at the end the verification report. When the residual scan
finds identifying values, the hits are shown and the user may export anyway
with a reason. The job never touches a widget; results come back by signal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QDialog, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QProgressBar,
                               QPushButton, QRadioButton, QTextBrowser, QVBoxLayout, QWidget)

from app.accounts import User
from app.deid import all_options
from app.deid.report_html import render_html
from app.export import ResidualIdentifiers, export_zip
from app.home import Home
from ui.jobs import UNKNOWN, Job, JobRunner


class ExportDialog(QDialog):
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
        self._build()
        self._mode_changed()

    # -- layout ----------------------------------------------------------------------

    def _build(self) -> None:
        count = len(self.study_uids)
        self.summary = QLabel(f"{count} stud{'ies' if count != 1 else 'y'} selected")
        self.plain = QRadioButton("Plain: the files as they are")
        self.plain.setObjectName("plainRadio")
        self.anonymize = QRadioButton("Anonymised: DICOM PS3.15 Basic Application Level "
                                      "Confidentiality Profile")
        self.anonymize.setObjectName("anonymizeRadio")
        self.plain.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.plain)
        group.addButton(self.anonymize)
        group.buttonToggled.connect(lambda *_: self._mode_changed())

        self.options_box = QGroupBox("Profile options")
        form = QVBoxLayout(self.options_box)
        self.options: dict[str, QCheckBox] = {}
        for option in all_options():
            box = QCheckBox(option.meaning)
            box.setObjectName(f"option-{option.name}")
            box.setToolTip(f"{option.explain} (--option {option.name}, DCM {option.code})")
            box.toggled.connect(lambda on, name=option.name: self._exclusive(name, on))
            explain = QLabel(option.explain)
            explain.setObjectName(f"explain-{option.name}")
            explain.setIndent(24)
            font = explain.font()
            font.setPointSizeF(font.pointSizeF() * 0.9)
            font.setItalic(True)
            explain.setFont(font)
            form.addWidget(box)
            form.addWidget(explain)
            self.options[option.name] = box

        self.dicomdir = QCheckBox("Add a DICOMDIR (names become DICOM file IDs)")
        self.dicomdir.setObjectName("dicomdirCheck")
        self.destination = QLineEdit(str(Path.home() / "studies.zip"))
        self.destination.setObjectName("destinationEdit")
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.destination, 1)
        row.addWidget(browse)
        where = QFormLayout()
        where.addRow("Destination", row)

        self.progress = QProgressBar()
        self.progress.setObjectName("exportProgress")
        self.progress.setRange(0, 1000)
        self.message = QLabel("")
        self.message.setObjectName("exportMessage")
        self.report = QTextBrowser()
        self.report.setObjectName("reportView")
        self.report.setOpenLinks(False)
        # the report is a document of its own (the same HTML as in the ZIP): dark on white
        self.report.setStyleSheet("QTextBrowser { background: #ffffff; color: #222222; }")
        self.report.hide()
        self.reason = QLineEdit()
        self.reason.setObjectName("overrideReason")
        self.reason.setPlaceholderText("Reason to export although identifying values were found")
        self.override = QPushButton("Export anyway")
        self.override.setObjectName("overrideButton")
        self.override.clicked.connect(self._override)
        self.reason.textChanged.connect(lambda text: self.override.setEnabled(bool(text.strip())))
        override_row = QHBoxLayout()
        override_row.addWidget(self.reason, 1)
        override_row.addWidget(self.override)
        self.override_panel = QWidget()
        self.override_panel.setLayout(override_row)
        self.override_panel.hide()

        self.start_button = QPushButton("Export")
        self.start_button.setObjectName("exportButton")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(lambda: self.start())
        self.cancel_button = QPushButton("Close")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.clicked.connect(self._cancel_or_close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        for widget in (self.summary, self.plain, self.anonymize, self.options_box, self.dicomdir):
            layout.addWidget(widget)
        layout.addLayout(where)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.report, 1)
        layout.addWidget(self.override_panel)
        layout.addLayout(buttons)
        if not self.user.can("export"):
            self.start_button.setEnabled(False)
            self.message.setText(f"User {self.user.name} has no export privilege")

    def _mode_changed(self) -> None:
        self.options_box.setEnabled(self.anonymize.isChecked())

    def _exclusive(self, name: str, on: bool) -> None:
        pair = {"retain-long-full-dates": "retain-long-modified-dates",
                "retain-long-modified-dates": "retain-long-full-dates"}
        if on and name in pair:
            self.options[pair[name]].setChecked(False)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.destination.text(),
                                              "ZIP archives (*.zip)")
        if path:
            self.destination.setText(path if path.lower().endswith(".zip") else path + ".zip")

    def chosen_options(self) -> list[str]:
        if not self.anonymize.isChecked():
            return []
        return [name for name, box in self.options.items() if box.isChecked()]

    # -- running -----------------------------------------------------------------------

    def start(self, override_reason: str = "") -> Job:
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
        for widget in (self.start_button, self.plain, self.anonymize, self.options_box,
                       self.dicomdir, self.destination):
            widget.setEnabled(not running)
        if not running:
            self._mode_changed()
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
