"""The outbox in the status bar: "Outbox: N waiting" (queued, held and failed
entries), hidden while nothing waits; a click opens the Outbox window.

:class:`OutboxCounter` reads the counts in a job (the GUI thread never waits
on the disk) and emits ``counted(status)``. It reads again on every
``cache_changed(OUTBOX)`` broadcast of its home (a send, an assignment, a
discard, a reallocation or undo that queues or withdraws entries), and when
:meth:`OutboxCounter.refresh` is called: the main window does when it becomes
active again (a command line run meanwhile). Refreshes asked for while one is
under way are folded into one more read.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QLabel, QWidget

from app.home import Home
from app.net.outbox import queue as outbox
from ui.cache_events import OUTBOX, CacheChange, events_of
from ui.jobs import Job, JobRunner


class OutboxCounter(QObject):
    """``counted(status)``: ``{"counts": {state: n}, "by_node": [(node, state, n)]}``."""

    counted = Signal(dict)

    def __init__(self, home: Home, runner: JobRunner, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.home, self.runner = home, runner
        self.status: dict = {"counts": {state: 0 for state in outbox.STATES}, "by_node": []}
        self.reads = 0          # answers received (tests wait on it)
        self._job: Optional[Job] = None
        self._again = False
        events_of(home).cache_changed.connect(self._cache_changed)

    @property
    def counts(self) -> dict[str, int]:
        return self.status["counts"]

    def waiting(self) -> int:
        return sum(self.counts[state] for state in outbox.WAITING)

    def is_reading(self) -> bool:
        return self._job is not None

    def refresh(self) -> None:
        if self._job is not None:
            self._again = True
            return
        self._job = self.runner.read(self.home, "Outbox count",
                                     lambda db, progress, cancel: {"counts": outbox.counts(db),
                                                                   "by_node": outbox.waiting_by_node(db)},
                                     on_success=self._read, on_failure=lambda _message: None)
        self._job.finished.connect(self._done)

    def _cache_changed(self, change: CacheChange) -> None:
        if change.touches(OUTBOX):
            self.refresh()

    def _read(self, status: dict) -> None:
        self.status = status
        self.reads += 1
        self.counted.emit(status)

    def _done(self) -> None:
        self._job = None
        if self._again:
            self._again = False
            self.refresh()


def status_text(counts: dict[str, int]) -> str:
    waiting = sum(counts[state] for state in outbox.WAITING)
    if not waiting:
        return "Outbox empty"
    text = f"Outbox: {waiting:,} waiting"
    if counts[outbox.FAILED]:
        text += f" ({counts[outbox.FAILED]:,} failed)"
    return text


def status_tooltip(status: dict) -> str:
    lines = []
    for node, state, count in status["by_node"]:
        if state == outbox.HELD:
            lines.append(f"{count:,} held: no node chosen (the study came from files)")
        else:
            lines.append(f"{count:,} {state} for {node}")
    lines.append("Click to open the Outbox (Tools > Outbox...)")
    return "\n".join(lines)


class OutboxLabel(QLabel):
    """The status bar's indicator; ``clicked()`` opens the Outbox. Hidden when
    nothing waits (the Tools menu still opens the Outbox)."""

    clicked = Signal()

    def __init__(self, counter: OutboxCounter, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("outboxLabel")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.counter = counter
        counter.counted.connect(lambda _status: self.update_text())
        self.update_text()

    def update_text(self) -> None:
        counts = self.counter.counts
        self.setText(status_text(counts))
        self.setToolTip(status_tooltip(self.counter.status))
        self.setAccessibleName(f"Outbox: {self.text()}")  # a label's name is its text: keep the counts
        self.setAccessibleDescription("Click to open the Outbox")
        self.setProperty("failed", bool(counts[outbox.FAILED]))
        self.style().unpolish(self)
        self.style().polish(self)
        self.setVisible(self.counter.waiting() > 0)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.clicked.emit()
        super().mouseReleaseEvent(event)
