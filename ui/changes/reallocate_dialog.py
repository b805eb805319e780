"""The confirmation before a reallocation, and the study chooser of "Reallocate to...".

The confirmation shows the pre-flight identity check side by side (source and
destination patient and study; differences amber, a different patient red,
and then a typed reason is required), the series that refer to the moved one
with "Move them along", the AI results that will be cleared and the rescan
that will be requested, what happens to the measurements on the moved images
(the Synapse rule: they move into an Advanced Reporting study, else they are
removed), and in IOCM mode the rejection note's title.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFrame, QGridLayout,
                               QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget)

from app.changes.view import TITLES, Preview
from ui import formatting

COLOURS = {"red": "#d25a5a", "amber": "#d08a4a", "ok": "#3d9a6a"}
ROWS = (("Patient", "patient_name", "name"), ("Patient ID", "patient_id", "patient ID"),
        ("Birth date", "birth_date", "birth date"), ("Sex", "sex", "sex"),
        ("Study", "study", "study date"))


def series_line(series: dict) -> str:
    number = f"#{series['number']} " if series.get("number") is not None else ""
    count = series.get("instance_count") or 0
    return (f"{series['modality']} {number}{series['description'] or '(no description)'}"
            f"  ({count} image{'s' if count != 1 else ''})")


def study_line(study: dict) -> str:
    return "  ".join(filter(None, (formatting.dicom_date(study.get("date")), study.get("accession_number"),
                                   study.get("description"))))


def _value(study: dict, key: str) -> str:
    if key == "study":
        return study_line(study)
    if key == "patient_name":
        return formatting.person_name(study["patient_name"])
    if key == "birth_date":
        return formatting.dicom_date(study["birth_date"])
    return study.get(key) or ""


class ReallocateDialog(QDialog):
    def __init__(self, preview: Preview, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("reallocateDialog")
        self.setStyleSheet("QPushButton:default:disabled { background: #181a1d; color: #5d6570;"
                           " border-color: #23272c; }")
        self.setWindowTitle("Reallocate series")
        self.preview = preview
        self.setMinimumWidth(640)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        heading = QLabel("<b>Move</b><br>" + "<br>".join(series_line(s) for s in preview.series))
        heading.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(heading)
        layout.addWidget(self._identity_grid())
        self.banner = QLabel(self._banner_text())
        self.banner.setObjectName("preflightBanner")
        self.banner.setWordWrap(True)
        self.banner.setProperty("level", preview.preflight.level)
        self.banner.setStyleSheet(f"color: {COLOURS[preview.preflight.level]}; font-weight: bold;")
        layout.addWidget(self.banner)
        self.dependents = QCheckBox()
        self.dependents.setObjectName("dependentsCheck")
        if preview.dependents:
            self.dependents.setText(f"Move them along: {len(preview.dependents)} series refer to it")
            self.dependents.setChecked(True)
            self.dependents.setToolTip("\n".join(series_line(s) for s in preview.dependents))
            layout.addWidget(self.dependents)
            listing = QLabel("\n".join("    " + series_line(s) for s in preview.dependents))
            listing.setObjectName("dependentsList")
            layout.addWidget(listing)
            self.dependents.toggled.connect(self._dependents_toggled)
            self.left_behind = QLabel("They will refer to a series of another study"
                                      + (" and patient." if preview.different_patients else "."))
            self.left_behind.setStyleSheet(f"color: {COLOURS['amber']};")
            self.left_behind.setVisible(False)
            layout.addWidget(self.left_behind)
        self.measurements = QLabel(preview.measurements_text(self.with_dependents()))
        self.measurements.setObjectName("measurementsNotice")
        self.measurements.setWordWrap(True)
        self.measurements.setStyleSheet(
            "" if preview.advanced_reporting else f"color: {COLOURS['amber']};")
        self.measurements.setVisible(bool(self.measurements.text()))
        layout.addWidget(self.measurements)
        if preview.ai_results:
            ai = QLabel("AI results that refer to it will be cleared:\n"
                        + "\n".join(f"    {series_line(s)} ({s['why']})" for s in preview.ai_results)
                        + f"\nA rescan of the destination study will be requested ({preview.ai_rescan}).")
            ai.setObjectName("aiNotice")
            ai.setWordWrap(True)
            layout.addWidget(ai)
        self.title = QComboBox()
        self.title.setObjectName("rejectionTitle")
        self.title.setAccessibleName("Rejection note title")
        for code, meaning in TITLES.items():
            self.title.addItem(f"{code} {meaning}", code)
        if preview.iocm:
            where = (f"Both are queued in the outbox for {preview.node}, the node the study came "
                     "from." if preview.node else "Both are held in the outbox: the study came "
                     "from no node.")
            iocm = QLabel("IOCM: the moved instances get new Series and SOP Instance UIDs; a "
                          f"rejection note lists the old ones. {where}")
            iocm.setObjectName("iocmNotice")
            iocm.setWordWrap(True)
            layout.addWidget(iocm)
            caption = QLabel("Rejection note title")
            caption.setObjectName("qbeCaption")
            caption.setBuddy(self.title)
            layout.addWidget(caption)
            layout.addWidget(self.title)
        self.reason = QLineEdit()
        self.reason.setObjectName("reasonEdit")
        self.reason.setAccessibleName("Reason for moving")
        self.reason.setPlaceholderText("Reason: required for different patients"
                                       if preview.different_patients else "Reason (optional)")
        layout.addWidget(self.reason)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("Reallocate", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setObjectName("reallocateButton")
        self.ok.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.reason.textChanged.connect(self._update)
        self._update()
        self.reason.setFocus()

    def _identity_grid(self) -> QFrame:
        frame = QFrame()
        frame.setObjectName("preflightGrid")
        grid = QGridLayout(frame)
        grid.setHorizontalSpacing(16)
        flagged = {f.field: f.severity for f in self.preview.preflight.flags}
        source = self.preview.sources[0]
        for column, text in ((1, "<b>From</b>"), (2, "<b>To</b>")):
            grid.addWidget(QLabel(text), 0, column)
        for row, (label, key, field) in enumerate(ROWS, start=1):
            grid.addWidget(QLabel(label), row, 0)
            for column, study in ((1, source), (2, self.preview.destination)):
                cell = QLabel(_value(study, key))
                cell.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                if field in flagged:
                    cell.setStyleSheet(f"color: {COLOURS[flagged[field]]}; font-weight: bold;")
                grid.addWidget(cell, row, column)
        return frame

    def _banner_text(self) -> str:
        check = self.preview.preflight
        if check.level == "red":
            return ("Different patients: the series will take on the destination's patient "
                    f"identity ({check.describe()}). Type a reason to continue.")
        if check.level == "amber":
            return f"Same patient record; look at the differences: {check.describe()}."
        return "Identity check passed: same patient."

    def _dependents_toggled(self, checked: bool) -> None:
        self.left_behind.setVisible(not checked)
        self.measurements.setText(self.preview.measurements_text(self.with_dependents()))
        self.measurements.setVisible(bool(self.measurements.text()))

    def _update(self) -> None:
        self.ok.setEnabled(not self.preview.different_patients or bool(self.reason.text().strip()))

    # -- the answer ----------------------------------------------------------------

    def reason_text(self) -> str:
        return self.reason.text().strip()

    def with_dependents(self) -> bool:
        return bool(self.preview.dependents) and self.dependents.isChecked()

    def rejection_title(self) -> str:
        return self.title.currentData()


class StudyChooser(QDialog):
    """"Reallocate to...": pick the destination from the studies both panes show."""

    def __init__(self, studies: list[dict], parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("studyChooser")
        self.setWindowTitle("Reallocate to...")
        self.setMinimumSize(560, 360)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter: accession, patient, description")
        self.filter.setAccessibleName("Filter the studies")
        self.list = QListWidget()
        self.list.setAccessibleName("Studies to move to")
        for study in studies:
            patient = study["patient"]
            text = "  ·  ".join(filter(None, (formatting.person_name(patient["name"]),
                                              patient["patient_id"], study_line(study))))
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, study["study_instance_uid"])
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Move the series into which study?"))
        layout.addWidget(self.filter)
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)
        self.filter.textChanged.connect(self._filter)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        self.filter.setFocus()

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        first = None
        for row in range(self.list.count()):
            item = self.list.item(row)
            hidden = not all(w in item.text().lower() for w in words)
            item.setHidden(hidden)
            if not hidden and first is None:
                first = row
        if first is not None:
            self.list.setCurrentRow(first)

    def chosen(self) -> Optional[str]:
        item = self.list.currentItem()
        return None if item is None or item.isHidden() else item.data(Qt.ItemDataRole.UserRole)
