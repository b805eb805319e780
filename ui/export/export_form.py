"""The export dialog's form: the selection's size, the patient-data choice
(ui/export/export_choice.py), the profile options, DICOMDIR, the
destination, the progress, the verification report with its "Export anyway"
and the buttons. A mixin of :class:`ui.export.export_dialog.ExportDialog`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QProgressBar, QPushButton, QTextBrowser, QVBoxLayout, QWidget)

from app.deid import all_options
from ui.export.export_choice import PatientDataChoice


class ExportForm(PatientDataChoice):
    """The widgets (a mixin: the dialog provides study_uids, user and the
    slots start, _override and _cancel_or_close)."""

    def _build(self) -> None:
        count = len(self.study_uids)
        self.summary = QLabel(f"{count} stud{'ies' if count != 1 else 'y'} selected")
        self._build_choice()

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
        self.destination.setAccessibleName("Destination")
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        browse.setAccessibleName("Browse for the destination")
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
        self.report.setAccessibleName("Export report")
        self.report.setOpenLinks(False)
        # the report is a document of its own (the same HTML as in the ZIP): dark on white
        self.report.setStyleSheet("QTextBrowser { background: #ffffff; color: #222222; }")
        self.report.hide()
        self.reason = QLineEdit()
        self.reason.setObjectName("overrideReason")
        self.reason.setAccessibleName("Reason to export anyway")
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
