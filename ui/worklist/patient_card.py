"""The patient card: a styled popup shown while the pointer rests on a patient name.

Name, sex and age, patient ID, confidentiality (highlighted when set), birth
date, phone, upcoming appointments from the modality worklist and the number
of studies in the cache. When several records share the patient ID (different
issuers), the card shows the one with the most studies and lists every
record below it; a confidentiality set on any of them is on the badge. When
and with what data it is shown: ui/worklist/card_popup.py.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ui import formatting

SEX = {"M": "Male", "F": "Female", "O": "Other"}


def _label(text: str, name: str, wrap: bool = False) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    return label


class PatientCard(QFrame):
    """The popup itself (a frameless tool-tip window: it never takes focus)."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent, Qt.WindowType.ToolTip | Qt.WindowType.FramelessWindowHint)
        self.setObjectName("patientCard")
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setMinimumWidth(320)
        self.setMaximumWidth(420)
        self.patient_id = ""
        self.name = _label("", "cardName")
        self.subtitle = _label("", "cardSubtitle")
        self.confidentiality = _label("", "cardConfidentiality")
        self.fields: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(4)
        for row, (key, caption) in enumerate((("patient_id", "Patient ID"), ("birth", "Born"),
                                              ("phone", "Phone"), ("studies", "Studies"))):
            grid.addWidget(_label(caption, "cardCaption"), row, 0, Qt.AlignmentFlag.AlignTop)
            self.fields[key] = _label("", "cardValue", wrap=True)
            self.fields[key].setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(self.fields[key], row, 1)
        grid.setColumnStretch(1, 1)
        self.appointments_title = _label("Upcoming appointments", "cardSection")
        self.appointments = _label("", "cardAppointments", wrap=True)
        self.records_title = _label("", "cardSection")
        self.records = _label("", "cardRecords", wrap=True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(6)
        layout.addWidget(self.name)
        layout.addWidget(self.subtitle)
        badge = QHBoxLayout()
        badge.addWidget(self.confidentiality)
        badge.addStretch(1)
        layout.addLayout(badge)
        layout.addLayout(grid)
        layout.addWidget(self.appointments_title)
        layout.addWidget(self.appointments)
        layout.addWidget(self.records_title)
        layout.addWidget(self.records)

    def set_card(self, card: dict) -> None:
        self.patient_id = card.get("patient_id") or ""
        self.name.setText(formatting.person_name(card.get("name")) or "(no name)")
        sex = SEX.get((card.get("sex") or "").upper(), card.get("sex") or "sex unknown")
        age = card.get("age")
        self.subtitle.setText(f"{sex}  ·  {age} years" if age is not None else sex)
        records = card.get("records") or [card]
        level = _confidentiality(card, records)
        self.confidentiality.setText(f"Confidentiality: {level}" if level
                                     else "Confidentiality: none recorded")
        self.confidentiality.setProperty("set", bool(level))
        self.confidentiality.style().unpolish(self.confidentiality)
        self.confidentiality.style().polish(self.confidentiality)
        issuer = card.get("issuer")
        self.fields["patient_id"].setText(self.patient_id + (f"  ({issuer})" if issuer else ""))
        birth = formatting.dicom_date(card.get("birth_date")) or "unknown"
        self.fields["birth"].setText(f"{birth}  (age {age})" if age is not None else birth)
        self.fields["phone"].setText(_phones(card.get("phone")) or "none recorded")
        count = card.get("study_count") or 0
        self.fields["studies"].setText(f"{count} stud{'ies' if count != 1 else 'y'} in the cache")
        self.appointments.setText("\n".join(_appointment(a) for a in card.get("appointments") or [])
                                  or "None scheduled")
        several = len(records) > 1
        self.records_title.setVisible(several)
        self.records.setVisible(several)
        self.records_title.setText(f"{len(records)} records with this patient ID" if several else "")
        self.records.setText("\n".join(_record(r) for r in records) if several else "")
        self.adjustSize()

    def show_near(self, cell: QRect) -> None:
        """Below the name cell (above it when there is no room), on screen."""
        self.adjustSize()
        screen = QGuiApplication.screenAt(cell.center()) or QGuiApplication.primaryScreen()
        area = screen.availableGeometry()
        pos = QPoint(cell.left() + 12, cell.bottom() + 4)
        if pos.y() + self.height() > area.bottom():
            pos.setY(cell.top() - self.height() - 4)
        pos.setX(max(area.left(), min(pos.x(), area.right() - self.width())))
        self.move(pos)
        self.show()
        self.raise_()

    def leaveEvent(self, event) -> None:
        self.hide()
        super().leaveEvent(event)

    def text(self) -> str:
        """Everything the card says (tests, accessibility)."""
        labels = [self.name, self.subtitle, self.confidentiality, *self.fields.values(),
                  self.appointments]
        if self.records.text():
            labels += [self.records_title, self.records]
        return "\n".join(label.text() for label in labels)


def _confidentiality(card: dict, records: list[dict]) -> str:
    """The badge: the shown record's level, and any other record's too (a
    VIP record never hides behind another record of the same ID)."""
    own = (card.get("confidentiality") or "").strip()
    others = [f"{(r.get('confidentiality') or '').strip()} (record of issuer {r.get('issuer') or 'none'})"
              for r in records[1:] if (r.get("confidentiality") or "").strip()]  # [0]: the card's own
    return "; ".join(filter(None, [own, *others]))


def _record(record: dict) -> str:
    """One record of the patient ID on one line."""
    count = record.get("study_count") or 0
    parts = [formatting.person_name(record.get("name")) or "(no name)",
             f"born {formatting.dicom_date(record.get('birth_date')) or 'unknown'}",
             f"confidentiality {(record.get('confidentiality') or '').strip() or 'none recorded'}",
             f"phone {_phones(record.get('phone')) or 'none recorded'}",
             f"{count} stud{'ies' if count != 1 else 'y'}"]
    return f"Issuer {record.get('issuer') or '(none)'}: " + ", ".join(parts)


def _phones(value: Optional[str]) -> str:
    return ", ".join(p.strip() for p in (value or "").split("\\") if p.strip())


def _appointment(item: dict) -> str:
    """Two lines: when and what; where."""
    when = " ".join(filter(None, (formatting.dicom_date(item.get("date")),
                                  formatting.dicom_time(item.get("time")))))
    modality, description = item.get("modality") or "", item.get("description") or ""
    what = description if description.upper().startswith(modality.upper()) else \
        " ".join(filter(None, (modality, description)))
    first = "  ".join(filter(None, (when, what)))
    return f"{first}\n    {item['location']}" if item.get("location") else first
