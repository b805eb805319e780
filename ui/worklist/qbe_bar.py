"""The query-by-example bar above the worklist.

Fields match like DICOM C-FIND (app.worklist.query): ``*`` and ``?`` wildcards,
case-insensitive; a name matches its whole value or any one component.
Enter in any field searches; a quick date range searches at once.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QDate, QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDateEdit, QFrame, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QVBoxLayout, QWidget)

from app.worklist.query import Query

MODALITIES = ("CT", "MR", "US", "CR", "DX", "MG", "NM", "PT", "XA", "RF", "OT", "SR",
              "RTSTRUCT", "RTPLAN", "RTDOSE", "RTIMAGE", "REG", "SEG")
ANY_DATE = QDate(1900, 1, 1)  # the date edits' minimum, shown as "any"

# Quick ranges: label -> (days back for "from", days back for "to"), None = open end.
RANGES = {
    "Any date": (None, None),
    "Today": (0, 0),
    "Yesterday": (1, 1),
    "Last 7 days": (6, 0),
    "Last 30 days": (29, 0),
    "Last 12 months": (364, 0),
}
CUSTOM = "Custom range"
FIELD_HEIGHT = 30  # every field and button of the bar, so they line up


def captioned(caption: str, widget: QWidget, height: Optional[int] = None) -> QWidget:
    """A small caption above its field (also the Content Manager's panes)."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    label = QLabel(caption)
    label.setObjectName("qbeCaption")
    label.setBuddy(widget)
    layout.addWidget(label)
    layout.addWidget(widget)
    if height is not None:
        widget.setFixedHeight(height)
    return box


def date_edit() -> QDateEdit:
    """A date field whose lowest value reads "any" (no bound)."""
    edit = QDateEdit()
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    edit.setMinimumDate(ANY_DATE)
    edit.setSpecialValueText("any")
    edit.setDate(ANY_DATE)
    edit.setMinimumWidth(110)
    return edit


class QbeBar(QFrame):
    """Emits ``search_requested(Query)`` on Enter, Search, a quick range or Clear."""

    search_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("qbeBar")
        self.patient_name = QLineEdit()
        self.patient_name.setPlaceholderText("Doe* or *john")
        self.patient_name.setMinimumWidth(180)
        self.patient_name.setAccessibleName("Patient name")
        self.patient_name.setAccessibleDescription("Search by patient name; * matches any characters")
        self.patient_id = QLineEdit()
        self.patient_id.setPlaceholderText("12345 or 12*")
        self.patient_id.setAccessibleName("Patient ID")
        self.accession = QLineEdit()
        self.accession.setPlaceholderText("A1234 or A12*")
        self.accession.setAccessibleName("Accession number")
        self.modality = QComboBox()
        self.modality.setEditable(True)
        self.modality.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.modality.addItems(["", *MODALITIES])
        self.modality.lineEdit().setPlaceholderText("Any")
        self.modality.setMinimumWidth(100)
        self.modality.setAccessibleName("Modality")
        self.date_range = QComboBox()
        self.date_range.addItems([*RANGES, CUSTOM])
        self.date_range.setAccessibleName("Study date range")
        self.date_from = date_edit()
        self.date_to = date_edit()
        self.date_from.setAccessibleName("Study date from")
        self.date_to.setAccessibleName("Study date to")
        self.search_button = QPushButton("Search")
        self.search_button.setObjectName("searchButton")
        self.search_button.setDefault(True)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("clearButton")
        self.clear_button.setAccessibleDescription("Empty the search fields and search again")

        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(8)
        layout.addWidget(captioned("Patient &name", self.patient_name), 3)
        layout.addWidget(captioned("Patient &ID", self.patient_id), 2)
        layout.addWidget(captioned("&Accession", self.accession), 2)
        layout.addWidget(captioned("&Modality", self.modality), 1)
        layout.addWidget(captioned("Stu&dy date", self.date_range), 1)
        layout.addWidget(captioned("From", self.date_from))
        layout.addWidget(captioned("To", self.date_to))
        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.search_button)
        buttons.addWidget(self.clear_button)
        layout.addLayout(buttons)
        layout.setAlignment(buttons, Qt.AlignmentFlag.AlignBottom)

        for field in (self.patient_name, self.patient_id, self.accession, self.modality,
                      self.date_range, self.date_from, self.date_to, self.search_button,
                      self.clear_button):
            field.setFixedHeight(FIELD_HEIGHT)
        for edit in (self.patient_name, self.patient_id, self.accession, self.modality.lineEdit()):
            edit.returnPressed.connect(self.request_search)
        for edit in (self.date_from, self.date_to):
            edit.dateChanged.connect(self._dates_edited)
        for widget in (self.date_from, self.date_to, self.date_range):
            widget.installEventFilter(self)
        self.modality.activated.connect(lambda _i: self.request_search())
        self.date_range.activated.connect(self._range_chosen)
        self.search_button.clicked.connect(self.request_search)
        self.clear_button.clicked.connect(self.clear)

    # -- the query ---------------------------------------------------------------

    def query(self) -> Query:
        return Query(patient_name=self.patient_name.text().strip(),
                     patient_id=self.patient_id.text().strip(),
                     accession=self.accession.text().strip(),
                     modality=self.modality.currentText().strip(),
                     date_from=self._date_text(self.date_from),
                     date_to=self._date_text(self.date_to))

    @staticmethod
    def _date_text(edit: QDateEdit) -> str:
        date = edit.date()
        return "" if date == ANY_DATE else date.toString("yyyyMMdd")

    def request_search(self) -> None:
        self.search_requested.emit(self.query())

    def clear(self) -> None:
        for edit in (self.patient_name, self.patient_id, self.accession):
            edit.clear()
        self.modality.setCurrentIndex(0)
        self.modality.setEditText("")
        self._set_range("Any date")
        self.request_search()

    # -- dates -------------------------------------------------------------------

    def _range_chosen(self, index: int) -> None:
        label = self.date_range.itemText(index)
        if label == CUSTOM:
            self.date_from.setFocus()
            return
        self._set_range(label)
        self.request_search()

    def _set_range(self, label: str) -> None:
        back_from, back_to = RANGES[label]
        today = QDate.currentDate()
        for edit, back in ((self.date_from, back_from), (self.date_to, back_to)):
            edit.blockSignals(True)
            edit.setDate(ANY_DATE if back is None else today.addDays(-back))
            edit.blockSignals(False)
        self.date_range.setCurrentText(label)

    def _dates_edited(self) -> None:
        unset = self.date_from.date() == ANY_DATE and self.date_to.date() == ANY_DATE
        self.date_range.setCurrentText("Any date" if unset else CUSTOM)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.KeyPress
                and watched in (self.date_from, self.date_to, self.date_range)
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)):
            self.request_search()
            return True
        return super().eventFilter(watched, event)
