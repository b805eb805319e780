"""The Outbox window (Tools > Outbox..., or a click on "Outbox: N waiting" in
the status bar): what waits to be sent to DICOM nodes, and what an
administrator does about it.

Entries are IOCM corrections made in the Content Manager (the corrected
instances and their rejection notes, for the node the study came from) and AI
rescan requests (app/net/outbox/queue.py). The table is read in a job, filtered by state
(Waiting: queued, held and failed). Buttons:

- Send now: app/net/outbox_send.send_outbox as a network job, its progress
  and Cancel shown here (and in the jobs panel); the summary under the table,
  the failures with their reasons in a message box.
- Choose node for held...: the selected held entries (or every held one) get
  a node with the store purpose (:class:`ui.net.outbox.dialogs.NodeChooser`).
- Discard... (a reason is required) and Restore.

Sending and choosing need the network privilege, discarding and restoring
content-management; without them the buttons are disabled and their tooltips
say why (the buttons: ui/net/outbox/actions.py). The table reads again on
every ``cache_changed(OUTBOX)`` broadcast of its home (ui/cache_events.py),
whichever window made the change; a change the broadcast cannot know of
(the command line) shows when the status bar's counter, read again when the
main window becomes active, reports other counts.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.accounts.accounts import User
from app.home import Home
from app.net.outbox import admin as outbox_admin
from app.net.outbox import queue as outbox
from app.net.outbox.send import OutboxResult
from ui.cache_events import OUTBOX, CacheChange, events_of
from ui.jobs import Job, JobRunner
from ui.net.outbox.actions import OutboxActions
from ui.net.outbox.dialogs import entries_text
from ui.net.outbox.model import COLUMNS, OutboxModel
from ui.net.outbox.status import OutboxCounter
from ui.net.outbox.table import OutboxTable
from ui.job_row import JobRow

FILTERS = (("Waiting (queued, held, failed)", outbox.WAITING), ("Queued", outbox.QUEUED),
           ("Held (no node)", outbox.HELD), ("Failed", outbox.FAILED), ("Sent", outbox.SENT),
           ("Discarded", outbox.DISCARDED), ("All", None))


class OutboxWindow(OutboxActions, QDialog):
    """``loaded()`` when the table was read; ``changed()`` after a send,
    an assignment, a discard or a restore."""

    loaded = Signal()
    changed = Signal()

    def __init__(self, home: Home, user: User, runner: JobRunner, counter: Optional[OutboxCounter] = None,
                 parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("outboxWindow")
        self.setWindowTitle("Outbox")
        self.setWindowFlag(Qt.WindowType.Window)
        self.setModal(False)
        self.resize(1400, 600)
        self.home, self.user, self.runner = home, user, runner
        self.counter = counter or OutboxCounter(home, runner, self)
        self.model = OutboxModel(self)
        self.send_job: Optional[Job] = None
        self.job_row: Optional[JobRow] = None   # the send's progress and Cancel, while it runs
        self.dialog: Optional[QDialog] = None
        self.last_result: Optional[OutboxResult] = None
        self._reads = 0
        self._loading = False
        self._seen_counts: Optional[dict] = None
        self._reloaded_for_count = False
        self._build()
        self.counter.counted.connect(self._counted)
        events_of(home).cache_changed.connect(self._cache_changed)
        self.filter.currentIndexChanged.connect(lambda _i: self.reload())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.update_buttons())
        self.update_buttons()
        self.refresh()

    # -- layout -------------------------------------------------------------------------------

    def _build(self) -> None:
        heading = QLabel("Outbox")
        heading.setObjectName("dialogHeading")
        explain = QLabel("Objects waiting to be sent to DICOM nodes: corrections made in the Content "
                         "Manager in IOCM mode (the corrected instances and their rejection notes, for "
                         "the node the study came from) and AI rescan requests.")
        explain.setObjectName("dialogNote")
        explain.setWordWrap(True)
        self.filter = QComboBox()
        self.filter.setObjectName("outboxFilter")
        self.filter.setAccessibleName("Show")
        self.filter.setAccessibleDescription("Which outbox entries the table lists")
        for text, _states in FILTERS:
            self.filter.addItem(text)
        self.count_label = QLabel("Reading...")
        self.count_label.setObjectName("outboxCount")
        refresh = QPushButton("Refresh")
        refresh.setObjectName("outboxRefresh")
        refresh.setAutoDefault(False)
        refresh.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(QLabel("Show"))
        top.addWidget(self.filter)
        top.addWidget(self.count_label, 1)
        top.addWidget(refresh)
        self.table = OutboxTable(self.model)
        self.table.setAccessibleName("Outbox entries")
        self.table.setAccessibleDescription("Objects waiting to be sent, their node and state; select some to "
                                            "send, hold, discard or restore them")
        self.job_box = QVBoxLayout()
        self.job_box.setContentsMargins(0, 0, 0, 0)
        self.note = QLabel("")
        self.note.setObjectName("outboxNote")
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(explain)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(self.job_box)
        layout.addWidget(self.note)
        layout.addLayout(self._buttons())

    # -- reading ------------------------------------------------------------------------------

    def states(self):
        return FILTERS[self.filter.currentIndex()][1]

    def is_loading(self) -> bool:
        return self._loading

    def refresh(self) -> None:
        """Read the table and the counter (the status bar) again."""
        self.reload()
        self._reloaded_for_count = True
        self.counter.refresh()

    def reload(self) -> None:
        self._reads += 1
        generation, home, states = self._reads, self.home, self.states()
        self._loading = True
        self.runner.read(home, "Outbox", lambda db, progress, cancel: outbox_admin.listing(home, db, states),
                         on_success=lambda rows: self._loaded(generation, rows),
                         on_failure=lambda message: self._load_failed(generation, message))

    def _loaded(self, generation: int, rows: list[dict]) -> None:
        if generation != self._reads:
            return  # a newer read is under way (filter changed meanwhile)
        self.table.set_rows(rows)
        self.count_label.setText(f"{entries_text(len(rows))} shown")
        self._loading = False
        self.update_buttons()
        self.loaded.emit()

    def _load_failed(self, generation: int, message: str) -> None:
        if generation == self._reads:
            self._loading = False
            self.count_label.setText(f"Could not read the outbox: {message}")

    def _cache_changed(self, change: CacheChange) -> None:
        if change.touches(OUTBOX):
            self.reload()
            self._seen_counts = None  # the counter reads too: its next answer is the new baseline

    def _counted(self, status: dict) -> None:
        counts = status["counts"]
        if self._reloaded_for_count:
            self._reloaded_for_count = False   # this window asked, and read the table already
        elif self._seen_counts is not None and counts != self._seen_counts:
            self.reload()  # changed where no broadcast reaches (the command line)
        self._seen_counts = dict(counts)
        self.update_buttons()

    # -- selection ------------------------------------------------------------------------------

    def selected_entries(self) -> list[dict]:
        return self.table.selected_entries()

    def selected_ids(self) -> list[str]:
        return [e["id"] for e in self.selected_entries()]

    def _selected(self, states) -> list[dict]:
        return [e for e in self.selected_entries() if e["state"] in states]


def open_outbox(parent: QWidget, home: Home, user: User, runner: JobRunner,
                counter: Optional[OutboxCounter] = None) -> OutboxWindow:
    """Open the Outbox over *parent* (or raise and refresh the one already open)."""
    existing = parent.findChildren(OutboxWindow) if parent is not None else []
    if existing:
        window = existing[0]
        window.refresh()
    else:
        window = OutboxWindow(home, user, runner, counter, parent)
    window.show()
    window.raise_()
    window.activateWindow()
    return window


__all__ = ["COLUMNS", "OutboxWindow", "open_outbox"]
