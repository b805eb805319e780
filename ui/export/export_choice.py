"""Plain or anonymised: the one choice in the export dialog that decides
whether patient data leaves the workstation, so it is unmistakable: two
large toggles side by side (Anonymised green, Plain amber when chosen) and a
sentence that says "Patient data WILL leave" or "will be removed". Nothing
is chosen when the dialog opens and Export waits until one is (the reasons:
ui/export/export_dialog.py). The Export button says what it will do.

A mixin of :class:`ui.export.export_dialog.ExportDialog`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QButtonGroup, QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

VERDICTS = {
    "": "Choose one: anonymised, or plain with the patient data. Nothing is chosen for you.",
    "plain": "Patient data WILL leave: names, IDs, birth dates and UIDs go into the ZIP as they are.",
    "anonymised": "Patient data will be removed (DICOM PS3.15 Basic Profile); a residual scan checks "
                  "every output byte before the ZIP is delivered.",
}


class PatientDataChoice:
    """The toggles, the verdict and the Export button's words (a mixin: the
    dialog provides user, options_box, start_button and ``_is_running``)."""

    def _build_choice(self) -> None:
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
