"""The one history panel: every change to clinical data, with Undo; and the trash.

The main window shows it in its History dock and the Content Manager under
its panes: one class, so Undo behaves the same in both. *Changes* lists the
change journal newest first, each change in plain words (who, when, what:
ui/changes/history_words.py), never a UID. Undo asks first, saying what the
change was and what the undo puts back; then it runs as a cache write with
the window's :class:`User` (the core checks the privilege, locks and later
changes; a refusal is written under the list, never in a blocking box).
*Trash* is ui/changes/trash_view.py.

Neither list is refreshed by hand: both are read again when any window of
the home announces a change to the journal or the trash (``cache_changed``,
ui/cache_events.py), so an undo in the Content Manager shows in the main
window's dock at once, and the other way round.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QDockWidget, QHeaderView, QMessageBox, QPushButton, QTabWidget,
                               QWidget)

from app.accounts.accounts import User
from app.changes import iocm, journal
from app.home import Home
from ui.cache_events import JOURNAL, OUTBOX, PATIENTS, STUDIES, TRASH, CacheChange, events_of
from ui.changes.history_table import ask, fill, make_table, note_label, page
from ui.changes.history_words import load_history, local_time
from ui.changes.trash_view import TrashView
from ui.jobs import Job, JobRunner
from ui.worklist.action_bar import privilege_reason

__all__ = ["HistoryPanel", "history_dock", "local_time"]

COLUMNS = ["#", "When", "Who", "Change", "Reason", "What"]   # What takes the rest
STATES = {"undone": "  (undone)", "purged": "  (erased)"}   # beside the kind of change
EMPTY = "No changes yet. Each merge, reallocation or delete shows here, with Undo."


class HistoryPanel(QTabWidget):
    """``loaded()`` when the reads in flight are done; ``changed(kind)`` when
    an undo, a restore or an empty ended, whatever its outcome; ``message(text)``
    what it came to (for the window's status bar)."""

    loaded = Signal()
    changed = Signal(str)
    message = Signal(str)

    def __init__(self, home: Home, user: User, runner: JobRunner, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("historyPanel")
        self.home, self.user, self.runner = home, user, runner
        self.changes: list[dict] = []
        self._pending = 0   # reads of the journal in flight
        self._generation = 0   # the newest read
        self._keep: Optional[int] = None   # the change to select again after a read
        self.question: Optional[QMessageBox] = None   # the open Undo confirmation

        self.table = make_table(COLUMNS, "historyTable", (44, 160, 90, 140, 220))
        self.table.setWordWrap(True)   # a change told in full, on two lines if need be
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.undo_button = QPushButton("Undo...")
        self.undo_button.setObjectName("undoButton")
        self.undo_button.clicked.connect(self.ask_undo)
        self.note = note_label()
        self.table.itemSelectionChanged.connect(self._update_button)
        self.addTab(page(self.table, [self.undo_button], self.note), "Changes")
        self.trash = TrashView(home, user, runner)
        self.trash.loaded.connect(self._trash_loaded)
        self.trash.finished.connect(self.changed)
        self.trash.message.connect(self.message)
        self.addTab(self.trash, "Trash")
        # the names the main window's callers know the trash by
        self.trash_table, self.restore_button = self.trash.table, self.trash.restore_button
        self.empty_button, self.trash_note = self.trash.empty_button, self.trash.note
        events_of(home).cache_changed.connect(self._cache_changed)
        self._update_button()
        self.refresh()

    @property
    def trashed(self) -> list[dict]:
        return self.trash.trashed

    # -- reading ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the journal and the trash again (the broadcast does this by itself)."""
        self._read_changes()
        self.trash.refresh()

    def _read_changes(self) -> None:
        self._generation += 1
        self._pending += 1
        generation = self._generation
        self.runner.read(self.home, "History", lambda db, progress, cancel: load_history(db),
                         on_success=lambda changes: self._changes_loaded(generation, changes),
                         on_failure=lambda message: self._load_failed(generation, message))

    def is_loading(self) -> bool:
        return self._pending > 0 or self.trash.is_loading()

    def _cache_changed(self, change: CacheChange) -> None:
        if change.touches(JOURNAL):
            self._read_changes()

    def _changes_loaded(self, generation: int, changes: list[dict]) -> None:
        self._pending -= 1
        if generation == self._generation:   # an older read arriving late is dropped
            keep = self._keep if self._keep is not None else self._selected_id()
            self.changes = changes
            rows = [[str(c["change_id"]), local_time(c["time"]), c["user"],
                     c["label"] + STATES.get(c["state"], ""), c["reason"] or "", c["what"]]
                    for c in changes]
            fill(self.table, rows, [c["change_id"] for c in changes])
            if not (keep is not None and self.select_change(keep)) and changes:
                self.table.selectRow(0)   # the newest change: what one undoes most often
            self._keep = None
            if not changes:
                self.note.setText(EMPTY)
            elif self.note.text() == EMPTY:
                self.note.clear()
            self._update_button()
        self._loaded_one()

    def _load_failed(self, generation: int, message: str) -> None:
        self._pending -= 1
        if generation == self._generation:
            self.note.setText(f"Could not read the change history: {message}")
        self._loaded_one()

    def _trash_loaded(self) -> None:
        count = len(self.trash.trashed)
        self.setTabText(1, f"Trash ({count})" if count else "Trash")
        self._loaded_one()

    def _loaded_one(self) -> None:
        if not self.is_loading():
            self.loaded.emit()

    # -- selection ----------------------------------------------------------------------

    def selected_change(self) -> Optional[dict]:
        row = self.table.currentRow()
        return self.changes[row] if self.table.selectedItems() and 0 <= row < len(self.changes) else None

    def _selected_id(self) -> Optional[int]:
        change = self.selected_change()
        return change["change_id"] if change else None

    def select_change(self, change_id: int) -> bool:
        for row, change in enumerate(self.changes):
            if change["change_id"] == change_id:
                self.table.selectRow(row)
                return True
        self._keep = change_id   # not read yet: select it when it is
        return False

    def _update_button(self) -> None:
        change = self.selected_change()
        why = privilege_reason(self.user, "content-management", "Undoing changes") or (
            "Choose a change to undo." if change is None else
            "This change is already undone." if change["undone"] else
            "Its study was erased from the trash for good." if change["state"] == "purged" else
            "An undo cannot itself be undone." if change["action"] == "undo" else "")
        self.undo_button.setEnabled(not why)
        self.undo_button.setToolTip(why or f"Undo change {change['change_id']}: {change['what']}")

    # -- undo ---------------------------------------------------------------------------

    def ask_undo(self) -> Optional[QMessageBox]:
        """The confirmation: what the change was, what the undo puts back."""
        change = self.selected_change()
        if change is None or not self.undo_button.isEnabled():
            return None
        said = (f"Change {change['change_id']}, by {change['user']} on {local_time(change['time'])}:\n"
                f"{change['what']}.")
        if change["undo_what"]:
            said += f"\n\nUndo puts it back: {change['undo_what']}"
        said += "\n\nThe undo is recorded in the history too."
        self.question = ask(self, f"Undo this {change['noun']}?", said, "Undo",
                            lambda: self.undo(change["change_id"]))
        self.question.finished.connect(self._forget_question)
        return self.question

    def _forget_question(self) -> None:
        self.question = None

    def undo(self, change_id: int) -> Job:
        """Run the undo with this window's User; the core decides whether it may."""
        home, user = self.home, self.user
        change = next((c for c in self.changes if c["change_id"] == change_id), None)
        studies = change["studies"] if change else []

        def job(db, progress, cancel):
            new_id = journal.undo(home, db, change_id, user, "", progress, cancel)
            iocm.sweep_staging(home, db)   # an undone IOCM change's new files are not needed
            return new_id

        def undone(new_id: int) -> None:
            self._keep = change_id
            text = f"Change {change_id} undone (recorded as change {new_id})."
            self.note.setText(text)
            self.message.emit(text)

        self.note.setText(f"Undoing change {change_id}...")
        running = self.runner.write(
            home, f"Undo change {change_id}", job,
            changed=CacheChange.of(JOURNAL, STUDIES, PATIENTS, TRASH, OUTBOX, study_uids=studies),
            on_success=undone, summarize=lambda new_id: f"Undone (change {new_id})",
            on_failure=lambda message: self._refused(change_id, message),
            on_cancel=lambda: self.note.setText(f"Undo of change {change_id}: cancelled."))
        running.finished.connect(lambda: self.changed.emit("undo"))
        return running

    def _refused(self, change_id: int, message: str) -> None:
        text = f"Undo of change {change_id}: refused. {message}"
        self.note.setText(text)
        self.message.emit(text)


def history_dock(panel: HistoryPanel, parent: QWidget) -> QDockWidget:
    """The main window's History dock around *panel*."""
    dock = QDockWidget("History", parent)
    dock.setObjectName("historyDock")
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QDockWidget.DockWidgetFeature.DockWidgetClosable
                     | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
    dock.setWidget(panel)
    return dock
