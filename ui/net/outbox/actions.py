"""What the Outbox window's buttons do: Send now, Choose node for held...,
Discard... and Restore, each enabled only for the user who may and for
entries in the right state (the tooltip says why not).

A mixin of :class:`ui.net.outbox.window.OutboxWindow`, kept apart so that
the window's file holds its layout and reading. Sending runs
app.net.outbox.send as a network job that opens its own connections; the
others are ``runner.write`` jobs. Every one of them ends with the one
broadcast ``cache_changed(OUTBOX)`` (ui/cache_events.py): the table, the
status bar's counter and any other view of the outbox read again from it,
not from a refresh wired here.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QHBoxLayout, QPushButton

from app.net.outbox import admin as outbox_admin
from app.net.outbox import queue as outbox
from app.net.outbox.send import OutboxResult, send_outbox
from ui.cache_events import OUTBOX, CacheChange, announce
from ui.jobs import Job
from ui.net.outbox.dialogs import DiscardDialog, NodeChooser, entries_text, failures_box
from ui.net.outbox.model import kind_text, patient_text
from ui.job_row import JobRow
from ui.worklist.action_bar import privilege_reason


class OutboxActions:
    """The buttons of the Outbox window (a mixin: the window provides home,
    user, runner, counter, note, job_box and the selection)."""

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
        """The progress row gives way to the summary (the jobs panel keeps the job).
        Sent, failed or cancelled, entries changed state: every view of the outbox
        reads again."""
        self.send_job = None
        self._clear_job_row()
        announce(self.home, CacheChange.of(OUTBOX))
        self.changed.emit()

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

    def _assign(self, ids: Optional[list[str]], node: str) -> Job:
        user = self.user
        return self._write(f"Outbox: queue held entries for {node}",
                           lambda db: outbox_admin.assign_node(db, user, ids if ids else outbox_admin.held_ids(db),
                                                               node),
                           f"queued for {node}; Send now sends them")

    def discard_selected(self) -> Optional[DiscardDialog]:
        chosen = self._selected(outbox.WAITING)
        if not self.discard_button.isEnabled() or not chosen:
            return None
        lines = [f"{kind_text(e)}  ·  {patient_text(e)}  ·  {e['node'] or 'no node'}  ·  {e['state']}"
                 for e in chosen]
        dialog = DiscardDialog(lines, self)
        ids, user = [e["id"] for e in chosen], self.user
        dialog.confirmed.connect(lambda reason: self._write(
            "Outbox: discard", lambda db: outbox_admin.discard(db, user, ids, reason),
            "discarded (Show: Discarded lists them; Restore brings them back)"))
        self._open(dialog)
        return dialog

    def restore_selected(self) -> Optional[Job]:
        ids, user = [e["id"] for e in self._selected((outbox.DISCARDED,))], self.user
        if not self.restore_button.isEnabled() or not ids:
            return None
        return self._write("Outbox: restore", lambda db: outbox_admin.restore(db, user, ids),
                           "restored: they wait again")

    def _write(self, title: str, act, what: str) -> Job:
        """``act(db)`` as a write job; when it changed entries, the outbox's views read again."""
        return self.runner.write(self.home, title, lambda db, progress, cancel: act(db),
                                 changed=lambda outcome: CacheChange.of(OUTBOX) if outcome.done else None,
                                 on_success=lambda outcome: self._changed(outcome, what),
                                 on_failure=lambda message: self._say(message, problem=True))

    def _changed(self, outcome: outbox_admin.Outcome, what: str) -> None:
        text = f"{entries_text(len(outcome.done))} {what}"
        if outcome.refused:
            text += f". {entries_text(len(outcome.refused))} refused: {outcome.refused[0]['reason']}"
        self._say(text, problem=bool(outcome.refused))
        self.changed.emit()

    def _open(self, dialog: QDialog) -> None:
        self.dialog = dialog
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r: setattr(self, "dialog", None))
        dialog.open()
