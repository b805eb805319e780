"""The series strip: one card per series of the current study, left to right.

Each card shows the thumbnail of the series' middle image (ui/worklist/thumbnails.py),
the modality, ``#number description`` and the image count. Objects without
pixels (RT plans, structure sets, SR) get a modality badge; files that cannot
be decoded get a "cannot decode" tile.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QScrollArea, QSizePolicy, QVBoxLayout,
                               QWidget)

from app.worklist import query as worklist
from app.home import Home
from ui.jobs import JobRunner
from ui.worklist.thumbnails import IMAGE, MISSING, NO_PIXELS, SIZE, Thumbnail, ThumbnailLoader

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
    """One series: thumbnail, modality, number and description, image count."""

    clicked = Signal(str)

    def __init__(self, series: dict, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("seriesCard")
        self.series = series
        self.series_uid: str = series["series_uid"]
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


class SeriesStrip(QFrame):
    """Cards for one study. ``loaded(study_uid)`` once its cards are in place."""

    loaded = Signal(str)

    def __init__(self, home: Home, runner: JobRunner, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("seriesStrip")
        self.home = home
        self.runner = runner
        self.thumbnails = ThumbnailLoader(home, runner, self)
        self.thumbnails.ready.connect(self._thumbnail_ready)
        self.study_uid: Optional[str] = None
        self._cards: list[SeriesCard] = []
        self._generation = 0
        self._heading_base = ""

        self.heading = QLabel("No study selected")
        self.heading.setObjectName("stripHeading")
        self._row = QWidget()
        self._row.setObjectName("stripRow")
        self._layout = QHBoxLayout(self._row)
        self._layout.setContentsMargins(8, 6, 8, 8)
        self._layout.setSpacing(8)
        self._layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("stripScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self._row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.heading)
        layout.addWidget(scroll, 1)
        self.setMinimumHeight(TILE + 100)

    def sizeHint(self) -> QSize:
        return QSize(800, TILE + 110)

    def cards(self) -> list[SeriesCard]:
        return list(self._cards)

    def card(self, series_uid: str) -> Optional[SeriesCard]:
        return next((c for c in self._cards if c.series_uid == series_uid), None)

    def is_complete(self) -> bool:
        """Every card shows its final thumbnail or placeholder."""
        return all(c.status != "loading" for c in self._cards)

    def show_study(self, study_uid: Optional[str], heading: str = "") -> None:
        """Replace the cards with those of *study_uid* (None: empty strip)."""
        if study_uid == self.study_uid:
            return
        self.study_uid = study_uid
        self._generation += 1
        generation = self._generation
        self.thumbnails.cancel_pending()
        self._set_cards([])
        if study_uid is None:
            self.heading.setText("No study selected")
            return
        self._heading_base = heading or "Series"
        self.heading.setText(self._heading_base)
        home = self.home

        def job(progress, cancel):
            db = home.connect()
            try:
                return worklist.series_of(db, study_uid)
            finally:
                db.close()

        self.runner.start("Series", job, kind="read", visible=False,
                          on_success=lambda rows: self._series_loaded(generation, study_uid, rows),
                          on_failure=lambda message: self._series_failed(generation, message))

    def reload(self) -> None:
        """Show the current study again (its series changed after an import)."""
        uid, self.study_uid = self.study_uid, None
        if uid is not None:
            self.thumbnails.forget([c.series_uid for c in self._cards])
        self.show_study(uid, self._heading_base)

    def _series_loaded(self, generation: int, study_uid: str, rows: list[dict]) -> None:
        if generation != self._generation:
            return
        self._set_cards([SeriesCard(row, self._row) for row in rows])
        self.heading.setText(f"{self._heading_base}  ·  {len(rows)} series")
        for card in self._cards:
            cached = self.thumbnails.request(card.series_uid)
            if cached is not None:
                card.show_thumbnail(cached)
        self.loaded.emit(study_uid)

    def _series_failed(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self.heading.setText(f"Series: {message}")

    def _set_cards(self, cards: list[SeriesCard]) -> None:
        for card in self._cards:
            self._layout.removeWidget(card)
            card.deleteLater()
        self._cards = cards
        for i, card in enumerate(cards):
            self._layout.insertWidget(i, card)
            card.clicked.connect(self._select)

    def _select(self, series_uid: str) -> None:
        for card in self._cards:
            card.set_selected(card.series_uid == series_uid)

    def _thumbnail_ready(self, series_uid: str, thumb: Thumbnail) -> None:
        card = self.card(series_uid)
        if card is not None:
            card.show_thumbnail(thumb)
