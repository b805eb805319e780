"""The series strip: one card per series of the current study, left to right
(ui/worklist/series_card.py; thumbnails from ui/worklist/thumbnails.py). A
double-click on a card asks the window to open that series in the viewer
(``open_requested``).

The strip follows the cache's broadcast: when a write touches the study it
shows (an import added series, a change moved some away), it reads the
study again; nobody refreshes it by hand.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.home import Home
from app.worklist import query as worklist
from ui.cache_events import STUDIES, CacheChange, events_of
from ui.jobs import JobRunner
from ui.worklist.series_card import TILE, SeriesCard, placeholder
from ui.worklist.thumbnails import Thumbnail, ThumbnailLoader

__all__ = ["SeriesStrip", "SeriesCard", "placeholder"]  # placeholder: the merge cards' tiles too


class SeriesStrip(QFrame):
    """Cards for one study. ``loaded(study_uid)`` once its cards are in place;
    ``open_requested(series_uid)`` on a double-click on a card."""

    loaded = Signal(str)
    open_requested = Signal(str)

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
        events_of(home).cache_changed.connect(self._cache_changed)

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

        self.runner.read(home, "Series", lambda db, progress, cancel: worklist.series_of(db, study_uid),
                         on_success=lambda rows: self._series_loaded(generation, study_uid, rows),
                         on_failure=lambda message: self._series_failed(generation, message))

    def reload(self) -> None:
        """Show the current study again (its series changed after an import)."""
        uid, self.study_uid = self.study_uid, None
        if uid is not None:
            self.thumbnails.forget([c.series_uid for c in self._cards])
        self.show_study(uid, self._heading_base)

    def _cache_changed(self, change: CacheChange) -> None:
        """A write touched the shown study (or said not which): read it again."""
        if self.study_uid is not None and change.touches(STUDIES) and \
                (not change.study_uids or self.study_uid in change.study_uids):
            self.reload()

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
            card.double_clicked.connect(self.open_requested)

    def _select(self, series_uid: str) -> None:
        for card in self._cards:
            card.set_selected(card.series_uid == series_uid)

    def _thumbnail_ready(self, series_uid: str, thumb: Thumbnail) -> None:
        card = self.card(series_uid)
        if card is not None:
            card.show_thumbnail(thumb)
