"""The export dialog: the worklist selection as a ZIP, plain or anonymised.

``open_export_dialog(parent, home, user, study_uids)`` shows it (non-modal).
It runs app.export.export_zip through the window's job adapter (ui/jobs.py:
the parent's ``runner`` when it has one), shows progress with a Cancel
button, and at the end the verification report. When the residual scan
finds identifying values, the hits are shown and the user may export anyway
with a reason. The job never touches a widget; results come back by signal.

Plain or anonymised is the one choice that decides whether patient data
leaves the workstation, so it is unmistakable: two large toggles side by
side (Anonymised green, Plain amber when chosen) and a sentence that says
"Patient data WILL leave" or "will be removed". Nothing is chosen when the
dialog opens and Export waits until one is: either default would be wrong
half the time (a plain default leaks data the user meant to remove; an
anonymised one silently sends a referring hospital images it cannot match
to its patient), so, as on a PACS's media export, the user decides each time.
The Export button says what it will do ("Export WITH patient data").
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QDialog, QFileDialog, QFormLayout, QFrame,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QProgressBar,
                               QPushButton, QTextBrowser, QVBoxLayout, QWidget)

from app.accounts.accounts import User
from app.deid import all_options
from app.deid.report_html import render_html
from app.export import ResidualIdentifiers, export_zip
from app.home import Home
from ui.jobs import UNKNOWN, Job, JobRunner


VERDICTS = {
    "": "Choose one: anonymised, or plain with the patient data. Nothing is chosen for you.",
    "plain": "Patient data WILL leave: names, IDs, birth dates and UIDs go into the ZIP as they are.",
    "anonymised": "Patient data will be removed (DICOM PS3.15 Basic Profile); a residual scan checks "
                  "every output byte before the ZIP is delivered.",
}


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
        self._is_running = False
        self._build()
        self._mode_changed()

    # -- layout ----------------------------------------------------------------------

    def _build(self) -> None:
        count = len(self.study_uids)
        self.summary = QLabel(f"{count} stud{'ies' if count != 1 else 'y'} selected")
        # The one choice that decides whether patient data leaves: two large
        # toggles side by side, nothing chosen at first, and a sentence saying
        # in capitals what the choice does (see the module's docstring).
        self.anonymize = QPushButton("Anonymised\nidentifying data removed")
        self.anonymize.setObjectName("anonymizeRadio")
        self.anonymize.setToolTip("DICOM PS3.15 Basic Application Level Confidentiality Profile, with "
                                  "the options below; a residual scan checks every output byte")
        self.plain = QPushButton("Plain\npatient data included")
        self.plain.setObjectName("plainRadio")
        self.plain.setToolTip("The files as they are: names, IDs, birth dates and UIDs included")
        group = QButtonGroup(self)
        group.setExclusive(True)
        for button in (self.anonymize, self.plain):
            button.setCheckable(True)
            button.setAutoDefault(False)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            group.addButton(button)
        group.buttonToggled.connect(lambda *_: self._mode_changed())
        self.verdict = QLabel()
        self.verdict.setObjectName("exportVerdict")
        self.verdict.setWordWrap(True)
        self.choice = QFrame()
        self.choice.setObjectName("patientDataChoice")
        heading = QLabel("Patient data")
        heading.setObjectName("patientDataHeading")
        toggles = QHBoxLayout()
        toggles.setSpacing(0)
        toggles.addWidget(self.anonymize, 1)
        toggles.addWidget(self.plain, 1)
        choice_layout = QVBoxLayout(self.choice)
        choice_layout.setContentsMargins(12, 10, 12, 12)
        choice_layout.setSpacing(8)
        choice_layout.addWidget(heading)
        choice_layout.addLayout(toggles)
        choice_layout.addWidget(self.verdict)

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
        bold = self.start_button.font()
        bold.setBold(True)
        self.start_button.setMinimumWidth(QFontMetrics(bold).horizontalAdvance("Export WITH patient data") + 48)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        for widget in (self.summary, self.choice, self.options_box, self.dicomdir):
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

    def mode(self) -> str:
        """'anonymised', 'plain' or '' (not chosen yet)."""
        return "anonymised" if self.anonymize.isChecked() else "plain" if self.plain.isChecked() else ""

    def _mode_changed(self) -> None:
        mode = self.mode()
        self.options_box.setEnabled(mode == "anonymised")
        self.verdict.setText(VERDICTS[mode])
        for widget in (self.verdict, self.choice):
            widget.setProperty("mode", mode or "none")
            widget.style().unpolish(widget)
            widget.style().polish(widget)
        self._update_start()

    def _update_start(self) -> None:
        allowed = self.user.can("export")
        self.start_button.setEnabled(allowed and bool(self.mode()) and not self._is_running)
        self.start_button.setText({"plain": "Export WITH patient data",
                                   "anonymised": "Export anonymised"}.get(self.mode(), "Export"))
        self.start_button.setProperty("danger", self.mode() == "plain")
        self.start_button.style().unpolish(self.start_button)
        self.start_button.style().polish(self.start_button)
        if allowed and not self.mode():
            self.start_button.setToolTip("Choose first: Anonymised or Plain (patient data included)")
        else:
            self.start_button.setToolTip("")

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
