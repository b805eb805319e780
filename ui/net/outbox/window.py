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
say why. Every change refreshes the status bar's counter, and the table
follows the counter, so a reallocation made meanwhile shows up here.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QTableView, QVBoxLayout, QWidget)

from app.net.outbox import queue as outbox
from app.net.outbox import admin as outbox_admin
from app.accounts.accounts import User
from app.home import Home
from app.net.outbox.send import OutboxResult, send_outbox
from ui.worklist.action_bar import privilege_reason
from ui.jobs import Job, JobRunner
from ui.shell.jobs_panel import JobRow
from ui.net.outbox.dialogs import DiscardDialog, NodeChooser, entries_text, failures_box
from ui.net.outbox.model import COLUMNS, OutboxModel, kind_text, patient_text
from ui.net.outbox.status import OutboxCounter

FILTERS = (("Waiting (queued, held, failed)", outbox.WAITING), ("Queued", outbox.QUEUED),
           ("Held (no node)", outbox.HELD), ("Failed", outbox.FAILED), ("Sent", outbox.SENT),
           ("Discarded", outbox.DISCARDED), ("All", None))
WIDTHS = (140, 155, 215, 350, 80, 120, 90)


class OutboxWindow(QDialog):
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
        self.table = QTableView()
        self.table.setObjectName("outboxTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate(WIDTHS):  # at least the header's own width
            self.table.setColumnWidth(column, max(width, header.sectionSizeHint(column)))
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

    def _buttons(self) -> QHBoxLayout:
        def button(text: str, name: str, slot) -> QPushButton:
            made = QPushButton(text)
            made.setObjectName(name)
            made.setAutoDefault(False)
            made.clicked.connect(slot)
            return made

        self.send_button = button("Send now", "outboxSend", self.send_now)
        self.assign_button = button("Choose node for held...", "outboxAssign", self.choose_node)
        self.discard_button = button("Discard...", "outboxDiscard", self.discard_selected)
        self.restore_button = button("Restore", "outboxRestore", self.restore_selected)
        close = button("Close", "outboxClose", self.close)
        row = QHBoxLayout()
        for made in (self.send_button, self.assign_button, self.discard_button, self.restore_button):
            row.addWidget(made)
        row.addStretch(1)
        row.addWidget(close)
        return row

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
        self.runner.start("Outbox", lambda progress, cancel: outbox_admin.listing_of(home, states),
                          kind="read", visible=False,
                          on_success=lambda rows: self._loaded(generation, rows),
                          on_failure=lambda message: self._load_failed(generation, message))

    def _loaded(self, generation: int, rows: list[dict]) -> None:
        if generation != self._reads:
            return  # a newer read is under way (filter changed meanwhile)
        chosen = set(self.selected_ids())
        self.model.set_rows(rows)
        selection = self.table.selectionModel()
        for n, row in enumerate(rows):
            if row["id"] in chosen:
                selection.select(self.model.index(n, 0), selection.SelectionFlag.Select
                                 | selection.SelectionFlag.Rows)
        self.count_label.setText(f"{entries_text(len(rows))} shown")
        self._loading = False
        self.update_buttons()
        self.loaded.emit()

    def _load_failed(self, generation: int, message: str) -> None:
        if generation == self._reads:
            self._loading = False
            self.count_label.setText(f"Could not read the outbox: {message}")

    def _counted(self, status: dict) -> None:
        counts = status["counts"]
        if self._reloaded_for_count:
            self._reloaded_for_count = False   # this window asked, and read the table already
        elif self._seen_counts is not None and counts != self._seen_counts:
            self.reload()  # something changed elsewhere (a reallocation, the command line)
        self._seen_counts = dict(counts)
        self.update_buttons()

    # -- selection and buttons ----------------------------------------------------------------

    def selected_entries(self) -> list[dict]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.model.entry(r) for r in rows]

    def selected_ids(self) -> list[str]:
        return [e["id"] for e in self.selected_entries()]

    def _selected(self, states) -> list[dict]:
        return [e for e in self.selected_entries() if e["state"] in states]

    def update_buttons(self) -> None:
        counts = self.counter.counts
        sendable = counts[outbox.QUEUED] + counts[outbox.FAILED]
        network = privilege_reason(self.user, "network", "Sending the outbox")
        if not network and self.send_job is not None:
            network_send = "A send is under way"
        elif not network and not sendable:
            network_send = "Nothing is queued or failed" + (
                f"; {entries_text(counts[outbox.HELD], 'held')} wait for a node (Choose node for held...)"
                if counts[outbox.HELD] else "")
        else:
            network_send = network
        self._set(self.send_button, network_send,
                  f"Send {entries_text(sendable, 'queued or failed', every=True)} now (one association "
                  "per node)")
        held = self._selected((outbox.HELD,))
        assign = privilege_reason(self.user, "network", "Choosing where held entries go")
        if not assign and not counts[outbox.HELD]:
            assign = "No entry is held: every entry has its node"
        self._set(self.assign_button, assign,
                  f"Choose the node for the {entries_text(len(held), 'selected held')}" if held else
                  f"Choose the node for {entries_text(counts[outbox.HELD], 'held', every=True)}")
        manage = privilege_reason(self.user, "content-management", "Discarding outbox entries")
        waiting = self._selected(outbox.WAITING)
        self._set(self.discard_button, manage or ("" if waiting else
                  "Select the entries to discard (queued, held or failed ones)"),
                  f"Never send the {entries_text(len(waiting), 'selected')} (kept, restorable)")
        restore = privilege_reason(self.user, "content-management", "Restoring discarded entries")
        discarded = self._selected((outbox.DISCARDED,))
        self._set(self.restore_button, restore or ("" if discarded else
                  "Select discarded entries to restore (Show: Discarded)"),
                  f"Put the {entries_text(len(discarded), 'selected')} back in the queue")

    @staticmethod
    def _set(button: QPushButton, why_not: str, what: str) -> None:
        button.setEnabled(not why_not)
        button.setToolTip(why_not or what)

    def _say(self, text: str, problem: bool = False) -> None:
        self.note.setText(text)
        self.note.setProperty("problem", problem)
        self.note.style().unpolish(self.note)
        self.note.style().polish(self.note)
        parent = self.parent()
        if hasattr(parent, "show_message"):
            parent.show_message(text)

    def _after_change(self) -> None:
        self.refresh()
        self.changed.emit()

    # -- Send now -----------------------------------------------------------------------------

    def send_now(self) -> Optional[Job]:
        if not self.send_button.isEnabled():
            return None
        home, user = self.home, self.user

        def job(progress, cancel):
            return send_outbox(home, user, progress=progress, cancel=cancel)

        self.send_job = self.runner.start("Send the outbox", job, kind="read", summarize=lambda r: r.summary(),
                                          on_success=self._sent, on_failure=self._send_failed,
                                          on_cancel=self._send_cancelled)
        self._show_job(self.send_job)
        self.send_job.finished.connect(self._send_finished)
        self._say("Sending the outbox...")
        self.update_buttons()
        return self.send_job

    def _show_job(self, job: Job) -> None:
        self._clear_job_row()
        self.job_row = JobRow(job)
        self.job_box.addWidget(self.job_row)

    def _clear_job_row(self) -> None:
        if self.job_row is not None:
            self.job_box.removeWidget(self.job_row)
            self.job_row.deleteLater()
            self.job_row = None

    def _sent(self, result: OutboxResult) -> None:
        self.last_result = result
        self._say(result.summary(), problem=bool(result.failed))
        if result.failed:
            self.failure_box = failures_box(result.failed, self)

    def _send_failed(self, message: str) -> None:
        self._say(f"The outbox could not be sent: {message}", problem=True)

    def _send_cancelled(self) -> None:
        self._say("Send cancelled: what was not confirmed by the node stays queued or failed, and "
                  "the next send offers it again.")

    def _send_finished(self) -> None:
        """The progress row gives way to the summary (the jobs panel keeps the job)."""
        self.send_job = None
        self._clear_job_row()
        self._after_change()

    # -- Choose node, Discard, Restore ----------------------------------------------------------

    def choose_node(self) -> Optional[NodeChooser]:
        if not self.assign_button.isEnabled():
            return None
        held = [e["id"] for e in self._selected((outbox.HELD,))] or None   # None: every held entry
        count = len(held) if held else self.counter.counts[outbox.HELD]
        chooser = NodeChooser(self.home, self.runner, count, "store", self)
        chooser.chosen.connect(lambda name: self._assign(held, name))
        self._open(chooser)
        return chooser

    def _assign(self, ids: Optional[list[str]], node: str) -> None:
        home, user = self.home, self.user

        def job(progress, cancel):
            db = home.connect()
            try:
                return outbox_admin.assign_node(db, user, ids if ids else outbox_admin.held_ids(db), node)
            finally:
                db.close()

        self.runner.start(f"Outbox: queue held entries for {node}", job, kind="write",
                          on_success=lambda outcome: self._changed(
                              outcome, f"queued for {node}; Send now sends them"),
                          on_failure=lambda message: self._say(message, problem=True))

    def discard_selected(self) -> Optional[DiscardDialog]:
        chosen = self._selected(outbox.WAITING)
        if not self.discard_button.isEnabled() or not chosen:
            return None
        lines = [f"{kind_text(e)}  ·  {patient_text(e)}  ·  {e['node'] or 'no node'}  ·  {e['state']}"
                 for e in chosen]
        dialog = DiscardDialog(lines, self)
        ids = [e["id"] for e in chosen]
        dialog.confirmed.connect(lambda reason: self._write(
            "Outbox: discard", lambda db: outbox_admin.discard(db, self.user, ids, reason),
            "discarded (Show: Discarded lists them; Restore brings them back)"))
        self._open(dialog)
        return dialog

    def restore_selected(self) -> Optional[Job]:
        ids = [e["id"] for e in self._selected((outbox.DISCARDED,))]
        if not self.restore_button.isEnabled() or not ids:
            return None
        return self._write("Outbox: restore", lambda db: outbox_admin.restore(db, self.user, ids),
                           "restored: they wait again")

    def _write(self, title: str, act, what: str) -> Job:
        home = self.home

        def job(progress, cancel):
            db = home.connect()
            try:
                return act(db)
            finally:
                db.close()

        return self.runner.start(title, job, kind="write", on_success=lambda o: self._changed(o, what),
                                 on_failure=lambda message: self._say(message, problem=True))

    def _changed(self, outcome: outbox_admin.Outcome, what: str) -> None:
        text = f"{entries_text(len(outcome.done))} {what}"
        if outcome.refused:
            text += f". {entries_text(len(outcome.refused))} refused: {outcome.refused[0]['reason']}"
        self._say(text, problem=bool(outcome.refused))
        self._after_change()

    def _open(self, dialog: QDialog) -> None:
        self.dialog = dialog
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r: setattr(self, "dialog", None))
        dialog.open()


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
