"""One side of a merge, as a card in the merge drawer.

A card shows a study (study merge) or a patient with the ticked studies
(patient merge): date, modality, description, accession, series and image
counts, a few series thumbnails, its role (source or destination), the
pre-flight flags on its side, and "Make destination" under it.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout,
                               QWidget)

from app.changes.rules import Flag
from ui import formatting
from ui.worklist.series_strip import placeholder
from ui.worklist.thumbnails import IMAGE, Thumbnail

THUMB = 60
MAX_THUMBS = 5
SEX = {"M": "male", "F": "female", "O": "other"}


def _label(text: str, name: str, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def _restyle(widget: QWidget) -> None:
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def study_lines(row: dict) -> tuple[str, str, str]:
    """(date and modality, description, accession and counts) of one study row."""
    when = "  ".join(filter(None, (formatting.dicom_date(row.get("study_date")),
                                   formatting.dicom_time(row.get("study_time")))))
    first = "  ·  ".join(filter(None, (when or "no date", formatting.modalities(row.get("modalities")))))
    series, images = row.get("series_count") or 0, row.get("instance_count") or 0
    counts = f"{series} series · {images:,} image{'s' if images != 1 else ''}"
    accession = f"Accession {row['accession_number']}" if row.get('accession_number') else "No accession"
    return first, row.get("description") or "(no description)", f"{accession}  ·  {counts}"


def patient_line(row: dict) -> str:
    sex = SEX.get((row.get("patient_sex") or "").upper(), "sex unknown")
    birth = formatting.dicom_date(row.get("patient_birth_date")) or "birth date unknown"
    return f"{row.get('patient_id') or '(no ID)'}  ·  {sex}  ·  born {birth}"


class MergeCard(QFrame):
    """``make_destination()`` when its button is clicked."""

    make_destination = Signal()

    def __init__(self, mode: str, rows: list[dict], parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("mergeCard")
        self.mode = mode
        self.rows = rows
        self.role = _label("", "cardRole")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(4)
        layout.addWidget(self.role)
        if mode == "patients":
            first = rows[0]
            layout.addWidget(_label(formatting.person_name(first.get("patient_name")) or "(no name)",
                                    "cardTitle"))
            layout.addWidget(_label(patient_line(first), "cardDetail"))
            self.study_count = _label("", "cardDetail")
            layout.addWidget(self.study_count)
            for row in rows:
                when, description, rest = study_lines(row)
                layout.addWidget(_label(f"{when}  ·  {description}\n{rest}", "cardStudy"))
        else:
            when, description, rest = study_lines(rows[0])
            layout.addWidget(_label(when, "cardTitle"))
            layout.addWidget(_label(description, "cardDetail"))
            layout.addWidget(_label(rest, "cardDetail"))
            study_id = rows[0].get("study_id")
            if study_id:
                layout.addWidget(_label(f"Study ID {study_id}", "cardDetail"))
        self.thumbs = QHBoxLayout()
        self.thumbs.setSpacing(4)
        self.thumbs.addStretch(1)
        layout.addLayout(self.thumbs)
        self._thumb_labels: dict[str, QLabel] = {}
        self.flags = QVBoxLayout()
        self.flags.setSpacing(2)
        layout.addLayout(self.flags)
        self.button = QPushButton("Make destination")
        self.button.setObjectName("makeDestination")
        self.button.clicked.connect(self.make_destination)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignLeft)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.set_role(False)

    @property
    def key(self) -> str:
        """The study UID (study merge) or the patient record (``PID^^^ISSUER``, patient merge) of this side."""
        row = self.rows[0]
        if self.mode != "patients":
            return row["study_instance_uid"]
        # the record, not only the ID: two records may share an ID (issuers differ)
        return f"{row['patient_id']}^^^{row.get('issuer') or ''}"

    def label(self) -> str:
        """A short name for this side: the patient, or the study's date and accession."""
        row = self.rows[0]
        if self.mode == "patients":
            return f"patient {row['patient_id']} ({formatting.person_name(row.get('patient_name'))})"
        return "study " + "  ".join(filter(None, (formatting.dicom_date(row.get("study_date")),
                                                 formatting.dicom_time(row.get("study_time")),
                                                 row.get("accession_number"))))

    def set_role(self, destination: bool) -> None:
        self.destination = destination
        if destination:
            self.role.setText("DESTINATION  —  kept")
        elif self.mode == "patients":
            self.role.setText("SOURCE  —  its studies move to the destination; the record goes")
        else:
            self.role.setText("SOURCE  —  its series move into the destination; it goes")
        self.setProperty("role", "destination" if destination else "source")
        self.role.setProperty("role", self.property("role"))
        self.button.setEnabled(not destination)
        self.button.setText("Destination" if destination else "Make destination")
        self.button.setToolTip("This side is kept" if destination else
                               "Keep this side and merge the other one into it")
        for widget in (self, self.role):
            _restyle(widget)

    def set_study_count(self, count: Optional[int]) -> None:
        if self.mode == "patients" and count is not None:
            ticked = len(self.rows)
            text = f"{count} stud{'ies' if count != 1 else 'y'} in the cache"
            if count != ticked:
                text += f" ({ticked} ticked)"
            self.study_count.setText(text)

    # -- pre-flight flags ---------------------------------------------------------------

    def set_flags(self, flags: list[Flag], as_source: bool) -> None:
        """Show this side's value of every field the pre-flight check flagged."""
        while self.flags.count():
            item = self.flags.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        for flag in flags:
            value = flag.source if as_source else flag.destination
            if flag.field in ("birth date", "study date"):
                value = formatting.dicom_date(value)
            elif flag.field == "name":
                value = formatting.person_name(value)
            label = _label(f"{'Different' if flag.severity == 'red' else 'Differs'}: "
                           f"{flag.field} {value or '(empty)'}", "cardFlag")
            label.setProperty("severity", flag.severity)
            _restyle(label)
            self.flags.addWidget(label)
        self.setProperty("flagged", max((f.severity for f in flags), default="", key=_rank))
        _restyle(self)

    def flag_texts(self) -> list[str]:
        return [self.flags.itemAt(i).widget().text() for i in range(self.flags.count())
                if self.flags.itemAt(i).widget() is not None]

    # -- thumbnails ----------------------------------------------------------------------

    def set_series(self, series: list[dict]) -> list[str]:
        """Placeholders for the first series; returns the UIDs to render."""
        shown = series[:MAX_THUMBS]
        for s in shown:
            label = QLabel()
            label.setObjectName("cardThumb")
            label.setFixedSize(THUMB, THUMB)
            label.setToolTip(f"{s.get('modality') or '?'} #{s.get('number')}: {s.get('description') or ''}")
            label.setPixmap(placeholder(s.get("modality") or "?").scaled(
                THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
            self.thumbs.insertWidget(self.thumbs.count() - 1, label)
            self._thumb_labels[s["series_instance_uid"]] = label
        if len(series) > MAX_THUMBS:
            self.thumbs.insertWidget(self.thumbs.count() - 1,
                                     _label(f"+{len(series) - MAX_THUMBS}", "cardDetail", wrap=False))
        return [s["series_instance_uid"] for s in shown]

    def show_thumbnail(self, series_uid: str, thumb: Thumbnail) -> None:
        label = self._thumb_labels.get(series_uid)
        if label is not None and thumb.status == IMAGE and thumb.image is not None:
            label.setPixmap(QPixmap.fromImage(thumb.image).scaled(
                THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))


def _rank(severity: str) -> int:
    return {"": 0, "amber": 1, "red": 2}.get(severity, 0)
