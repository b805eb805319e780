"""The patient card's loading and hover logic: rest on a name, the card comes.

:class:`CardCache` reads cards from app.worklist.query.open_patient_card
(which records the Patient Record audit entry) in read jobs and keeps them
for a minute, so moving along the list does not ask the database again; it
forgets them when the cache broadcasts a change to studies or patients.
:class:`PatientCardPopup` shows the card (ui/worklist/patient_card.py) once
the pointer has rested and the data is there: the GUI thread never waits.
"""

from __future__ import annotations

import time
from typing import Optional

from PySide6.QtCore import QObject, QRect, QTimer, Signal
from PySide6.QtWidgets import QWidget

from app.home import Home
from app.worklist import query as worklist
from ui.cache_events import PATIENTS, STUDIES, CacheChange, events_of
from ui.jobs import JobRunner
from ui.worklist.patient_card import PatientCard

SHOW_DELAY_MS = 350  # the pointer rests this long before the card is asked for
HIDE_DELAY_MS = 200  # grace period to move onto the card itself
CACHE_SECONDS = 60.0
CACHE_SIZE = 200


class CardCache(QObject):
    """Patient cards by patient ID, loaded off the GUI thread."""

    ready = Signal(str, dict)
    failed = Signal(str, str)

    def __init__(self, home: Home, runner: JobRunner, user: str, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.home, self.runner, self.user = home, runner, user
        self._cards: dict[str, tuple[float, dict]] = {}
        self._pending: set[str] = set()
        events_of(home).cache_changed.connect(self._cache_changed)

    def get(self, patient_id: str) -> Optional[dict]:
        entry = self._cards.get(patient_id)
        if entry and time.monotonic() - entry[0] < CACHE_SECONDS:
            return entry[1]
        return None

    def request(self, patient_id: str) -> Optional[dict]:
        """The cached card, or None after starting to load it (``ready`` follows)."""
        card = self.get(patient_id)
        if card is not None or patient_id in self._pending:
            return card
        self._pending.add(patient_id)
        home, user = self.home, self.user

        def job(db, progress, cancel):
            return worklist.open_patient_card(db, user, patient_id)

        self.runner.read(home, "Patient card", job,
                         on_success=lambda card, pid=patient_id: self._loaded(pid, card),
                         on_failure=lambda message, pid=patient_id: self._failed(pid, message))
        return None

    def clear(self) -> None:
        """Forget every card (after a change to patient data)."""
        self._cards.clear()

    def _cache_changed(self, change: CacheChange) -> None:
        if change.touches(STUDIES, PATIENTS):  # names, counts, records may differ now
            self.clear()

    def _loaded(self, patient_id: str, card: dict) -> None:
        self._pending.discard(patient_id)
        if len(self._cards) >= CACHE_SIZE:
            oldest = min(self._cards, key=lambda k: self._cards[k][0])
            del self._cards[oldest]
        self._cards[patient_id] = (time.monotonic(), card)
        self.ready.emit(patient_id, card)

    def _failed(self, patient_id: str, message: str) -> None:
        self._pending.discard(patient_id)
        self.failed.emit(patient_id, message)



class PatientCardPopup(QObject):
    """Hover logic: rest on a name, the card comes; leave, it goes."""

    shown = Signal(str)  # patient ID

    def __init__(self, cache: CardCache, parent: QWidget):
        super().__init__(parent)
        self.cache = cache
        self.card = PatientCard(parent)
        self._wanted: Optional[tuple[str, QRect]] = None
        self._show_timer = QTimer(self, singleShot=True, interval=SHOW_DELAY_MS)
        self._show_timer.timeout.connect(self._ask)
        self._hide_timer = QTimer(self, singleShot=True, interval=HIDE_DELAY_MS)
        self._hide_timer.timeout.connect(self._hide_now)
        cache.ready.connect(self._ready)

    def hover(self, patient_id: str, cell: QRect) -> None:
        self._hide_timer.stop()
        if self.card.isVisible() and self.card.patient_id == patient_id:
            self._wanted = (patient_id, cell)
            return
        self.card.hide()
        self._wanted = (patient_id, cell)
        self._show_timer.start()

    def leave(self) -> None:
        self._wanted = None
        self._show_timer.stop()
        if self.card.isVisible():
            self._hide_timer.start()

    def hide(self) -> None:
        self._wanted = None
        self._show_timer.stop()
        self._hide_now()

    def _ask(self) -> None:
        if self._wanted is None:
            return
        card = self.cache.request(self._wanted[0])
        if card is not None:
            self._ready(self._wanted[0], card)

    def _ready(self, patient_id: str, card: dict) -> None:
        if self._wanted is None or self._wanted[0] != patient_id:
            return  # the pointer moved on while the card loaded
        self.card.set_card(card)
        self.card.show_near(self._wanted[1])
        self.shown.emit(patient_id)

    def _hide_now(self) -> None:
        if self.card.underMouse():
            return
        self.card.hide()
