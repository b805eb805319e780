"""The trash: deleted studies, with Restore, and Empty for those allowed to
erase for good (admins).

A delete moves a study's files into the trash (app.changes.trash); Restore
is the undo of that delete and needs the content-management privilege,
Empty erases every trashed study and needs empty-trash. Both run as cache
writes with the acting :class:`User` (the core checks the privilege; a
refusal shows in the note under the list, never in a blocking box). The list
is read again whenever any window of the home changes the trash (the
``cache_changed`` broadcast).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMessageBox, QPushButton, QVBoxLayout, QWidget

from app.accounts.accounts import User
from app.changes import trash
from app.home import Home
from ui import formatting
from ui.cache_events import JOURNAL, STUDIES, TRASH, CacheChange, events_of
from ui.changes.history_table import ask, fill, make_table, note_label, page
from ui.changes.history_words import local_time
from ui.jobs import Job, JobRunner
from ui.worklist.action_bar import privilege_reason

COLUMNS = ["Patient", "ID", "Study date", "Accession", "Description", "Deleted", "By", "Reason"]


class TrashView(QWidget):
    """``loaded()`` after each read; ``finished(kind)`` when a restore or an
    empty ended (whatever its outcome); ``message(text)`` after one succeeded."""

    loaded = Signal()
    finished = Signal(str)
    message = Signal(str)

    def __init__(self, home: Home, user: User, runner: JobRunner, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.home, self.user, self.runner = home, user, runner
        self.trashed: list[dict] = []
        self._pending = 0   # reads in flight
        self._generation = 0   # the newest read
        self.table = make_table(COLUMNS, "trashTable", (170, 90, 100, 100, 200, 165, 80))
        self.restore_button = QPushButton("Restore")
        self.restore_button.setObjectName("restoreButton")
        self.restore_button.clicked.connect(self.restore)
        self.empty_button = QPushButton("Empty trash...")
        self.empty_button.setObjectName("emptyTrash")
        self.empty_button.setProperty("danger", True)
        self.empty_button.clicked.connect(self.ask_empty)
        self.note = note_label()
        self.table.itemSelectionChanged.connect(self._update_buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(page(self.table, [self.restore_button, self.empty_button], self.note))
        events_of(home).cache_changed.connect(self._cache_changed)
        self._update_buttons()

    # -- reading ------------------------------------------------------------------------

    def refresh(self) -> None:
        self._generation += 1
        self._pending += 1
        generation = self._generation
        self.runner.read(self.home, "Trash", lambda db, progress, cancel: trash.trashed(db),
                         on_success=lambda items: self._loaded(generation, items),
                         on_failure=lambda message: self._load_failed(generation, message))

    def is_loading(self) -> bool:
        return self._pending > 0

    def _cache_changed(self, change: CacheChange) -> None:
        if change.touches(TRASH):
            self.refresh()

    def _loaded(self, generation: int, items: list[dict]) -> None:
        self._pending -= 1
        if generation == self._generation:   # an older read arriving late is dropped
            self.trashed = items
            rows = [[formatting.person_name(t["patient_name"]), t["patient_id"],
                     formatting.dicom_date(t["study_date"]), t["accession_number"], t["description"],
                     local_time(t["trashed_at"]), t["trashed_by"] or "", t["reason"] or ""]
                    for t in items]
            fill(self.table, rows, [t["study_instance_uid"] for t in items])
            self._update_buttons()
        if not self._pending:
            self.loaded.emit()

    def _load_failed(self, generation: int, message: str) -> None:
        self._pending -= 1
        if generation == self._generation:
            self.note.setText(f"Could not read the trash: {message}")
        if not self._pending:
            self.loaded.emit()

    # -- restore and empty ----------------------------------------------------------------

    def selected(self) -> Optional[dict]:
        row = self.table.currentRow()
        return self.trashed[row] if self.table.selectedItems() and 0 <= row < len(self.trashed) else None

    def _update_buttons(self) -> None:
        restore = privilege_reason(self.user, "content-management", "Restoring studies") or \
            ("" if self.selected() else "Choose a study in the trash.")
        self.restore_button.setEnabled(not restore)
        self.restore_button.setToolTip(restore or "Put the study back in the worklist, files and all")
        empty = privilege_reason(self.user, "empty-trash", "Emptying the trash") or \
            ("" if self.trashed else "The trash is empty.")
        self.empty_button.setEnabled(not empty)
        self.empty_button.setToolTip(empty or "Erase every study in the trash for good")

    def restore(self) -> Optional[Job]:
        item = self.selected()
        if item is None:
            return None
        home, user, uid = self.home, self.user, item["study_instance_uid"]
        name = item["accession_number"] or item["description"] or "the study"
        return self._write("Restore from trash", "restore",
                           lambda db, progress, cancel: trash.restore(home, db, user, uid, "", progress, cancel),
                           CacheChange.of(TRASH, STUDIES, JOURNAL, study_uids=[uid]),
                           lambda _change: f"Restored {name} from the trash.")

    def ask_empty(self) -> Optional[QMessageBox]:
        if not self.empty_button.isEnabled():
            return None
        return ask(self, f"Erase the {len(self.trashed)} studies in the trash for good?",
                   "Their files are deleted and cannot be restored. This is audited.",
                   "Empty trash", self.empty)

    def empty(self) -> Job:
        home, user = self.home, self.user
        return self._write("Empty trash", "empty", lambda db, progress, cancel: trash.empty(home, db, user),
                           CacheChange.of(TRASH, JOURNAL),
                           lambda erased: f"Erased {len(erased)} studies for good.")

    def _write(self, title: str, kind: str, fn, changed: CacheChange, done_text) -> Job:
        def succeeded(result) -> None:
            self.note.setText(done_text(result))
            self.message.emit(done_text(result))

        job = self.runner.write(self.home, title, fn, changed=changed, on_success=succeeded,
                                on_failure=lambda message: self.note.setText(f"{title}: refused. {message}"),
                                on_cancel=lambda: self.note.setText(f"{title}: cancelled."))
        job.finished.connect(lambda: self.finished.emit(kind))
        return job
