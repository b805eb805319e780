"""What a row of the Content Manager's tree says: its columns' text, its
tooltip, and the badge that stands for a series without pixels."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPixmap

from ui import formatting

ICON = 40
PATIENT, STUDY, SERIES = "patient", "study", "series"
MUTED = QColor("#8c96a3")


def badge(text: str, colour: QColor = MUTED) -> QPixmap:
    """A small dark tile with the modality, for objects without pixels."""
    pixmap = QPixmap(ICON, ICON)
    pixmap.fill(QColor("#050607"))
    painter = QPainter(pixmap)
    painter.setPen(QColor("#23272c"))
    painter.drawRect(0, 0, ICON - 1, ICON - 1)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(12)
    while font.pixelSize() > 6 and QFontMetrics(font).horizontalAdvance(text) > ICON - 6:
        font.setPixelSize(font.pixelSize() - 1)
    painter.setFont(font)
    painter.setPen(colour)
    painter.drawText(QRect(0, 0, ICON, ICON), Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return pixmap


def text(node, column: int) -> str:
    d = node.data
    if node.kind == PATIENT:
        sex = f"  ({d['sex']})" if d.get("sex") else ""
        return {0: (formatting.person_name(d["name"]) or "(no name)") + sex,
                2: formatting.dicom_date(d["birth_date"]), 3: d["patient_id"]}.get(column, "")
    if node.kind == STUDY:
        status = []
        if d.get("trashed"):
            status.append("in the trash")
        if d.get("locked_by"):
            status.append(f"locked by {d['locked_by']}")
        if d.get("migrated"):
            status.append("migrated")
        if d.get("ai_rescan_pending"):
            status.append("AI rescan pending")
        return {0: d["description"] or "(no description)", 1: formatting.modalities(d["modalities"]),
                2: formatting.dicom_date(d["date"]), 3: d["accession_number"],
                4: formatting.count(d["instance_count"]), 5: ", ".join(status)}.get(column, "")
    number = f"#{d['number']} " if d.get("number") is not None else ""
    return {0: f"{number}{d['description'] or '(no description)'}", 1: d["modality"],
            4: formatting.count(d["instance_count"])}.get(column, "")


def tooltip(node) -> str:
    d = node.data
    if node.kind == PATIENT:
        issuer = f" (issuer {d['issuer']})" if d.get("issuer") else ""
        return (f"{d['name']}  {d.get('sex') or ''}\nBorn {formatting.dicom_date(d['birth_date'])}\n"
                f"Patient ID {d['patient_id']}{issuer}")
    if node.kind == STUDY:
        lines = [f"{d['description']}  {formatting.dicom_date(d['date'])}  {d['accession_number']}",
                 f"Study UID: {d['study_instance_uid']}"]
        if d.get("trashed"):
            lines.append("In the trash: restore it first (View > Trash) to move series in or out")
        if d.get("locked_by"):
            lines.append(f"Locked by {d['locked_by']}: changes by others are refused")
        if d.get("migrated"):
            lines.append(f"Migrated: {d['migrated']}; it can be neither source nor destination")
        if d.get("ai_rescan_pending"):
            lines.append("An AI rescan is requested")
        return "\n".join(lines)
    return (f"{d['modality']} series {d.get('number')}: {d['description']}\n"
            f"{d['instance_count']} images\nSeries UID: {d['series_instance_uid']}\n"
            "Drag it onto a study to reallocate it")
