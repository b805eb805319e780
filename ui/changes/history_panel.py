"""The history dock: every change to clinical data, with Undo; and the trash.

*Changes* lists the change journal (app.changes.journal.history), newest
first. Undo asks, then applies the inverse change set as a job; when the
journal refuses (a later change depends on this one), the reason is shown
under the list. *Trash* lists deleted studies with Restore, and Empty for
those allowed to erase for good (admins). Both lists are read in jobs and
read again after every change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QDockWidget, QHBoxLayout, QHeaderView, QLabel,
                               QMessageBox, QPushButton, QTableWidget, QTableWidgetItem, QTabWidget,
                               QVBoxLayout, QWidget)

from app.worklist import query as worklist
from app.accounts.accounts import User
from app.changes import journal, trash
from app.home import Home
from ui import formatting
from ui.worklist.action_bar import privilege_reason
from ui.jobs import Job, JobRunner

ACTIONS = {"merge-studies": "Merge studies", "merge-patients": "Merge patients", "delete": "Delete",
           "undo": "Undo", "reallocate": "Reallocate series"}
SHOWN = 200  # the newest changes listed
PLANS_READ = 40  # at most this many change plans are read to name studies that are gone


def load_history(home: Home) -> list[dict]:
    """Job body: the newest changes, each with a readable line for its objects."""
    db = home.connect()
    try:
        changes = journal.history(db)[:SHOWN]
        wanted = {uid for c in changes for uid in c["objects"][:4]}
        studies = {r["study_uid"]: r for r in worklist.study_rows(db, sorted(wanted))}
        plans_read = 0
        for change in changes:
            gone = [u for u in change["objects"][:2] if u not in studies and "." in u]
            if gone and plans_read < PLANS_READ:
                plans_read += 1
                studies.update(_studies_in_plan(db, change["change_id"], gone))
            change["what"] = describe(change, studies)
        return changes
    finally:
        db.close()


def _studies_in_plan(db, change_id: int, uids: list[str]) -> dict[str, dict]:
    """Studies that no longer exist (merged away), as the change recorded them."""
    _info, plan = journal.load(db, change_id)
    found = {}
    for side in ("before", "after"):
        for row in plan.get(side, {}).get("studies", []):
            uid = row.get("study_instance_uid")
            if uid in uids and uid not in found:
                found[uid] = {"patient_name": "", "study_date": row.get("study_date") or "",
                              "accession": row.get("accession_number") or "",
                              "study_id": row.get("study_id") or ""}
    return found


def local_time(iso: str) -> str:
    """An ISO time from the journal as local ``YYYY-MM-DD HH:MM:SS``."""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return (iso or "")[:19].replace("T", " ")


def describe(change: dict, studies: dict[str, dict]) -> str:
    """The change's main objects: studies by patient, date and accession."""
    head = change["objects"][:2] if change["action"] != "delete" else change["objects"][:1]
    parts = []
    for uid in head:
        row = studies.get(uid)
        if row:
            study_id = f"study ID {row['study_id']}" if row.get("study_id") else ""
            parts.append("  ".join(filter(None, (formatting.person_name(row["patient_name"]),
                                                 formatting.dicom_date(row["study_date"]),
                                                 row["accession"], study_id))))
        elif change["action"] == "merge-patients" or (change["action"] == "undo" and "." not in uid):
            parts.append(f"patient {uid}")
        else:
            parts.append(f"study {uid[:24]}…" if len(uid) > 24 else f"study {uid}")
    arrow = "  →  " if change["action"] in ("merge-studies", "merge-patients") else ", "
    return arrow.join(parts)


def load_trash(home: Home) -> list[dict]:
    db = home.connect()
    try:
        return trash.trashed(db)
    finally:
        db.close()


def _table(columns: list[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setWordWrap(False)
    table.setShowGrid(False)
    table.setAlternatingRowColors(True)
    table.horizontalHeader().setStretchLastSection(True)
    table.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.verticalHeader().setDefaultSectionSize(24)
    return table


def _fill(table: QTableWidget, rows: list[list[str]], keys: list) -> None:
    table.setRowCount(len(rows))
    for r, (values, key) in enumerate(zip(rows, keys)):
        for c, value in enumerate(values):
            item = QTableWidgetItem(value)
            item.setToolTip(value)
            item.setData(Qt.ItemDataRole.UserRole, key)
            table.setItem(r, c, item)


class HistoryPanel(QTabWidget):
    """``loaded()`` after each refresh; ``changed(kind)`` after an undo, restore or empty."""

    loaded = Signal()
    changed = Signal(str)
    message = Signal(str)

    def __init__(self, home: Home, user: User, runner: JobRunner, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("historyPanel")
        self.home, self.user, self.runner = home, user, runner
        self.changes: list[dict] = []
        self.trashed: list[dict] = []
        self.confirm_box: Optional[QMessageBox] = None
        self._pending = 0

        self.table = _table(["#", "Time", "User", "Action", "Reason", "What"], "historyTable")
        for column, width in enumerate((44, 160, 90, 150, 320)):
            self.table.setColumnWidth(column, width)
        self.undo_button = QPushButton("Undo...")
        self.undo_button.setObjectName("undoButton")
        self.undo_button.clicked.connect(self.ask_undo)
        self.note = QLabel()
        self.note.setObjectName("historyNote")
        self.note.setWordWrap(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.addTab(self._page(self.table, [self.undo_button], self.note), "Changes")

        self.trash_table = _table(["Patient", "ID", "Study date", "Accession", "Description",
                                   "Deleted", "By", "Reason"], "trashTable")
        for column, width in enumerate((170, 90, 90, 100, 200, 160, 80)):
            self.trash_table.setColumnWidth(column, width)
        self.restore_button = QPushButton("Restore")
        self.restore_button.setObjectName("restoreButton")
        self.restore_button.clicked.connect(self.restore)
        self.empty_button = QPushButton("Empty trash...")
        self.empty_button.setObjectName("emptyTrash")
        self.empty_button.setProperty("danger", True)
        self.empty_button.clicked.connect(self.ask_empty)
        self.trash_note = QLabel()
        self.trash_note.setObjectName("historyNote")
        self.trash_note.setWordWrap(True)
        self.trash_table.itemSelectionChanged.connect(self._update_buttons)
        self.addTab(self._page(self.trash_table, [self.restore_button, self.empty_button],
                               self.trash_note), "Trash")
        self._update_buttons()

    @staticmethod
    def _page(table: QTableWidget, buttons: list[QPushButton], note: QLabel) -> QWidget:
        page = QWidget()
        layout = QHBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        left = QVBoxLayout()
        left.addWidget(table, 1)
        left.addWidget(note)
        layout.addLayout(left, 1)
        side = QVBoxLayout()
        side.setContentsMargins(8, 6, 8, 6)
        for button in buttons:
            side.addWidget(button)
        side.addStretch(1)
        layout.addLayout(side)
        return page

    # -- reading ------------------------------------------------------------------------

    def refresh(self) -> None:
        home = self.home
        self._pending += 2
        self.runner.start("History", lambda p, c: load_history(home), kind="read", visible=False,
                          on_success=self._history_loaded, on_failure=self._load_failed)
        self.runner.start("Trash", lambda p, c: load_trash(home), kind="read", visible=False,
                          on_success=self._trash_loaded, on_failure=self._load_failed)

    def is_loading(self) -> bool:
        return self._pending > 0

    def _history_loaded(self, changes: list[dict]) -> None:
        self.changes = changes
        rows = [[str(c["change_id"]), local_time(c["time"]), c["user"],
                 ACTIONS.get(c["action"], c["action"]) + ("  (undone)" if c["undone"] else ""),
                 c["reason"] or "", c["what"]] for c in changes]
        _fill(self.table, rows, [c["change_id"] for c in changes])
        self._loaded_one()

    def _trash_loaded(self, items: list[dict]) -> None:
        self.trashed = items
        rows = [[formatting.person_name(t["patient_name"]), t["patient_id"],
                 formatting.dicom_date(t["study_date"]), t["accession"], t["description"],
                 local_time(t["trashed_at"]), t["trashed_by"] or "",
                 t["reason"] or ""] for t in items]
        _fill(self.trash_table, rows, [t["study_uid"] for t in items])
        self.setTabText(1, f"Trash ({len(items)})" if items else "Trash")
        self._loaded_one()

    def _load_failed(self, message: str) -> None:
        self.note.setText(f"Could not read the journal: {message}")
        self._loaded_one()

    def _loaded_one(self) -> None:
        self._pending -= 1
        self._update_buttons()
        if not self._pending:
            self.loaded.emit()

    # -- selection and buttons ----------------------------------------------------------

    def selected_change(self) -> Optional[dict]:
        row = self.table.currentRow()
        items = self.table.selectedItems()
        return self.changes[row] if items and 0 <= row < len(self.changes) else None

    def selected_trash(self) -> Optional[dict]:
        row = self.trash_table.currentRow()
        items = self.trash_table.selectedItems()
        return self.trashed[row] if items and 0 <= row < len(self.trashed) else None

    def _update_buttons(self) -> None:
        manage = privilege_reason(self.user, "content-management", "Undoing changes")
        change = self.selected_change()
        why = manage or ("Choose a change to undo." if change is None else
                         "This change is already undone." if change["undone"] else
                         "An undo cannot itself be undone." if change["action"] == "undo" else "")
        self.undo_button.setEnabled(not why)
        self.undo_button.setToolTip(why or f"Undo change {change['change_id']}")
        restore = privilege_reason(self.user, "content-management", "Restoring studies") or \
            ("" if self.selected_trash() else "Choose a study in the trash.")
        self.restore_button.setEnabled(not restore)
        self.restore_button.setToolTip(restore or "Put the study back in the worklist, files and all")
        empty = privilege_reason(self.user, "empty-trash", "Emptying the trash") or \
            ("" if self.trashed else "The trash is empty.")
        self.empty_button.setEnabled(not empty)
        self.empty_button.setToolTip(empty or "Erase every study in the trash for good")

    # -- undo, restore, empty ----------------------------------------------------------

    def select_change(self, change_id: int) -> bool:
        for row, change in enumerate(self.changes):
            if change["change_id"] == change_id:
                self.table.selectRow(row)
                return True
        return False

    def ask_undo(self) -> Optional[QMessageBox]:
        change = self.selected_change()
        if change is None or not self.undo_button.isEnabled():
            return None
        label = ACTIONS.get(change["action"], change["action"])
        return self._confirm(f"Undo change {change['change_id']} ({label})?",
                             f"{change['what']}\n\nThe inverse change is recorded in the journal too.",
                             "Undo", lambda: self.undo(change["change_id"]))

    def undo(self, change_id: int) -> Job:
        home, user = self.home, self.user
        self.note.setText(f"Undoing change {change_id}...")

        def job(progress, cancel):
            db = home.connect()
            try:
                return journal.undo(home, db, change_id, user, "", progress, cancel)
            finally:
                db.close()

        return self._change_job(f"Undo change {change_id}", job, "undo", self.note,
                                lambda new_id: f"Change {change_id} undone (change {new_id}).")

    def restore(self) -> Optional[Job]:
        item = self.selected_trash()
        if item is None:
            return None
        home, user, uid = self.home, self.user, item["study_uid"]

        def job(progress, cancel):
            db = home.connect()
            try:
                return trash.restore(home, db, user, uid, "", progress, cancel)
            finally:
                db.close()

        return self._change_job("Restore from trash", job, "restore", self.trash_note,
                                lambda _id: f"Restored {item['accession'] or uid}.")

    def ask_empty(self) -> Optional[QMessageBox]:
        if not self.empty_button.isEnabled():
            return None
        return self._confirm(f"Erase the {len(self.trashed)} studies in the trash for good?",
                             "Their files are deleted and cannot be restored. This is audited.",
                             "Empty trash", self.empty)

    def empty(self) -> Job:
        home, user = self.home, self.user

        def job(progress, cancel):
            db = home.connect()
            try:
                return trash.empty(home, db, user)
            finally:
                db.close()

        return self._change_job("Empty trash", job, "empty", self.trash_note,
                                lambda erased: f"Erased {len(erased)} studies for good.")

    def _change_job(self, title: str, job, kind: str, note: QLabel, done_text) -> Job:
        def succeeded(result) -> None:
            note.setText(done_text(result))
            self.message.emit(done_text(result))

        def failed(message: str) -> None:
            note.setText(f"{title}: refused. {message}")  # shown here, not in a dialog

        running = self.runner.start(title, job, kind="write", on_success=succeeded,
                                    on_failure=failed,
                                    on_cancel=lambda: note.setText(f"{title}: cancelled."))
        running.finished.connect(lambda: self.changed.emit(kind))
        return running

    def _confirm(self, text: str, detail: str, verb: str, then) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Question, "StudyDesk", text,
                          QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("historyConfirm")
        box.setInformativeText(detail)
        go = box.addButton(verb, QMessageBox.ButtonRole.AcceptRole)
        go.setObjectName("confirmButton")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        go.clicked.connect(then)
        self.confirm_box = box
        box.open()
        return box


def history_dock(panel: HistoryPanel, parent: QWidget) -> QDockWidget:
    dock = QDockWidget("History", parent)
    dock.setObjectName("historyDock")
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QDockWidget.DockWidgetFeature.DockWidgetClosable
                     | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
    dock.setWidget(panel)
    return dock
