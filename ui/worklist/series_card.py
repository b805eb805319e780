"""One card of the series strip: the thumbnail of the series' middle image,
the modality, ``#number description`` and the image count. Objects without
pixels (RT plans, structure sets, SR) get a modality badge; files that
cannot be decoded get a "cannot decode" tile (:func:`placeholder`, which the
merge cards use too).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ui.worklist.thumbnails import IMAGE, MISSING, NO_PIXELS, SIZE, Thumbnail

TILE = SIZE  # the square the thumbnail sits in
CARD_WIDTH = TILE + 32

_BACKGROUND = QColor("#050607")
_BADGE_TEXT = QColor("#8c96a3")
_MUTED_TEXT = QColor("#5d6570")
_WARNING_TEXT = QColor("#d08a4a")


def placeholder(title: str, subtitle: str = "", colour: QColor = _BADGE_TEXT) -> QPixmap:
    """A TILE x TILE tile: a large centred word (modality) and a small line under it."""
    pixmap = QPixmap(TILE, TILE)
    pixmap.fill(_BACKGROUND)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    painter.setPen(QColor("#1e2226"))
    painter.drawRect(0, 0, TILE - 1, TILE - 1)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(22 if len(title) <= 4 else 16)
    painter.setFont(font)
    painter.setPen(colour)
    painter.drawText(QRect(0, 0, TILE, TILE - 14), Qt.AlignmentFlag.AlignCenter, title)
    if subtitle:
        small = QFont()
        small.setPixelSize(11)
        painter.setFont(small)
        painter.setPen(_MUTED_TEXT)
        painter.drawText(QRect(0, TILE // 2 + 8, TILE, 24), Qt.AlignmentFlag.AlignCenter, subtitle)
    painter.end()
    return pixmap


class SeriesCard(QFrame):
    """One series: thumbnail, modality, number and description, image count.
    ``clicked(series_uid)`` selects it, ``double_clicked(series_uid)`` opens it."""

    clicked = Signal(str)
    double_clicked = Signal(str)

    def __init__(self, series: dict, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("seriesCard")
        self.series = series
        self.series_uid: str = series["series_instance_uid"]
        self.status = "loading"
        self.setFixedWidth(CARD_WIDTH)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setToolTip(self._tooltip())

        self.image = QLabel()
        self.image.setObjectName("seriesThumb")
        self.image.setFixedSize(TILE, TILE)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        modality = series.get("modality") or "?"
        self.modality = QLabel(modality)
        self.modality.setObjectName("seriesModality")
        number = series.get("number")
        title = f"#{number} " if number is not None else ""
        description = (series.get("description") or "").strip() or "(no description)"
        self.title = QLabel()
        self.title.setObjectName("seriesTitle")
        self.title.setText(self.title.fontMetrics().elidedText(
            f"{title}{description}", Qt.TextElideMode.ElideRight, CARD_WIDTH - 22))
        count = series.get("instance_count") or 0
        self.count = QLabel(f"{count} image{'s' if count != 1 else ''}")
        self.count.setObjectName("seriesCount")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 8)
        layout.setSpacing(3)
        layout.addWidget(self.image, 0, Qt.AlignmentFlag.AlignHCenter)
        top = QHBoxLayout()
        top.setSpacing(6)
        top.addWidget(self.modality)
        top.addStretch(1)
        top.addWidget(self.count)
        layout.addLayout(top)
        layout.addWidget(self.title)
        self.image.setPixmap(placeholder("...", "loading"))

    def _tooltip(self) -> str:
        s = self.series
        lines = [f"{s.get('modality') or '?'} series #{s.get('number')}: {s.get('description') or ''}",
                 f"{s.get('instance_count') or 0} images"]
        if s.get("body_part"):
            lines.append(f"Body part: {s['body_part']}")
        lines.append(f"Series UID: {self.series_uid}")
        return "\n".join(lines)

    def pixmap(self) -> QPixmap:
        return self.image.pixmap()

    def show_thumbnail(self, thumb: Thumbnail) -> None:
        self.status = thumb.status
        modality = self.series.get("modality") or "?"
        if thumb.status == IMAGE and thumb.image is not None:
            self.image.setPixmap(QPixmap.fromImage(thumb.image))
        elif thumb.status == NO_PIXELS:
            self.image.setPixmap(placeholder(modality, "no image"))
        elif thumb.status == MISSING:
            self.image.setPixmap(placeholder(modality, "file missing", _WARNING_TEXT))
        else:
            self.image.setPixmap(placeholder(modality, "cannot decode", _WARNING_TEXT))
        if thumb.message and thumb.status != IMAGE:
            self.image.setToolTip(thumb.message)

    def set_selected(self, selected: bool) -> None:
        self.setProperty("selected", selected)
        self.style().unpolish(self)
        self.style().polish(self)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.series_uid)
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.double_clicked.emit(self.series_uid)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)
