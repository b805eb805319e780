"""The glue between the ticked studies and what can be done with them.

Keeps the action bar in step with the tick set, turns bar clicks and the
row menu into dialogs and jobs (ui/worklist/study_actions.py), opens the merge
drawer, and reads the rows of ticked studies the model has not fetched
(after Ctrl+A over a long list) in a job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QObject, QPoint, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from app.worklist import query as worklist
from ui.worklist import study_actions
from ui.worklist.action_bar import action_states, privilege_reason
from ui.worklist.assign_dialog import AssignDialog
from ui.changes.delete_dialog import DeleteDialog

if TYPE_CHECKING:
    from ui.shell.main_window import MainWindow


class WorklistActions(QObject):
    """``dialog_opened(dialog)`` whenever an assign or delete dialog opens (tests)."""

    dialog_opened = Signal(object)

    def __init__(self, window: "MainWindow"):
        super().__init__(window)
        self.w = window
        self.dialog = None  # the assign or delete dialog last opened
        self.menu: Optional[QMenu] = None
        self._unavailable: Optional[dict[str, str]] = None
        self._loading_rows = False
        window.ticks.changed.connect(self.update_bar)
        window.bar.triggered.connect(self.trigger)
        window.bar.unselect.connect(window.ticks.clear)

    # -- the bar ------------------------------------------------------------------------

    def unavailable(self) -> dict[str, str]:
        if self._unavailable is None:  # the optional dialogs are looked up once
            self._unavailable = study_actions.unavailable()
        return self._unavailable

    def update_bar(self) -> None:
        ticks, model = self.w.ticks, self.w.model
        if not len(ticks):
            self.w.bar.show_state(0, 0, {})
            return
        hidden = sum(1 for uid in ticks.uids() if not model.contains(uid))
        self.w.bar.show_state(len(ticks), hidden,
                              action_states(self.w.user, ticks.rows(), self.unavailable()))
        if ticks.missing():
            self.load_missing_rows()

    def load_missing_rows(self) -> None:
        if self._loading_rows:
            return
        self._loading_rows = True
        home, uids = self.w.home, self.w.ticks.missing()

        def job(progress, cancel):
            db = home.connect()
            try:
                return worklist.study_rows(db, uids)
            finally:
                db.close()

        self.w.runner.start("Ticked studies", job, kind="read", visible=False,
                            on_success=self._rows_loaded,
                            on_failure=lambda _m: setattr(self, "_loading_rows", False))

    def _rows_loaded(self, rows: list[dict]) -> None:
        self._loading_rows = False
        found = {r["study_uid"] for r in rows}
        self.w.ticks.update_rows(rows)
        gone = [uid for uid in self.w.ticks.missing() if uid not in found]
        self.w.ticks.discard(gone)  # no longer in the cache (merged away, erased)

    def reload_ticked_rows(self) -> None:
        """After a change: fresh rows for every ticked study (locks, patients)."""
        home, uids = self.w.home, self.w.ticks.uids()
        if not uids:
            return

        def job(progress, cancel):
            db = home.connect()
            try:
                return worklist.study_rows(db, uids)
            finally:
                db.close()

        def loaded(rows: list[dict]) -> None:
            found = {r["study_uid"] for r in rows}
            self.w.ticks.discard([u for u in uids if u not in found])
            self.w.ticks.update_rows(rows)

        self.w.runner.start("Ticked studies", job, kind="read", visible=False, on_success=loaded,
                            on_failure=lambda _m: None)

    def trigger(self, key: str) -> None:
        uids = self.w.ticks.uids()
        if not uids:
            return
        if key == "assign":
            self.open_assign(uids)
        elif key == "delete":
            self.open_delete(uids)
        elif key in ("merge", "merge_patients"):
            self.open_merge("patients" if key == "merge_patients" else "studies")
        elif key == "download":
            anonymised = self.w.bar.anonymised.isChecked()
            self.w.actions.open_dialog("download", uids, anonymize=anonymised, anonymise=anonymised)
        else:
            self.w.actions.open_dialog(key, uids)

    # -- dialogs -------------------------------------------------------------------------

    def open_assign(self, uids: list[str]) -> AssignDialog:
        rows = [self.w.ticks.row(u) or self.w.model.study(self.w.model.row_of(u)) for u in uids]
        current = {(r or {}).get("assigned_to") for r in rows}
        dialog = AssignDialog(self.w.home, self.w.runner, self.w.user.name, len(uids),
                              current.pop() if len(current) == 1 else None, self.w)
        dialog.chosen.connect(lambda to: self.w.actions.assign(uids, to))
        return self._open(dialog)

    def open_delete(self, uids: list[str]) -> DeleteDialog:
        items = [(u, self.w.ticks.row(u) or self._cached_row(u)) for u in uids]
        dialog = DeleteDialog(items, self.w)
        dialog.confirmed.connect(lambda reason: self._delete(uids, reason))
        return self._open(dialog)

    def _delete(self, uids: list[str], reason: str) -> None:
        self.w.actions.delete(uids, reason)

    def _open(self, dialog):
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        self.dialog_opened.emit(dialog)
        return dialog

    def _cached_row(self, uid: str) -> Optional[dict]:
        row = self.w.model.row_of(uid)
        return self.w.model.study(row) if row >= 0 else None

    def open_merge(self, mode: str) -> None:
        rows = [r for r in self.w.ticks.rows() if r is not None]
        if mode == "patients":
            by_patient: dict[tuple, list[dict]] = {}
            for row in rows:  # by record: an ID with two issuers is two patients
                by_patient.setdefault((row["patient_id"], row.get("issuer") or ""), []).append(row)
            sides = list(by_patient.values())
        else:
            sides = [[row] for row in rows]
        if len(sides) != 2:
            return
        self.w.drawer.panel.open_merge(mode, sides)
        self.w.drawer.show()
        self.w.drawer.raise_()
        self.w.resizeDocks([self.w.drawer], [430], Qt.Orientation.Horizontal)

    # -- the row menu ------------------------------------------------------------------

    def targets(self, row: int) -> list[str]:
        """The ticked studies when the row is one of them, else the row's study."""
        uid = self.w.model.study_uid(row)
        if uid in self.w.ticks:
            return self.w.ticks.uids()
        return [uid] if uid else []

    def row_menu(self, row: int, pos: Optional[QPoint] = None) -> QMenu:
        uids = self.targets(row)
        rows = [self.w.ticks.row(u) or self._cached_row(u) or {} for u in uids]
        me, admin = self.w.user.name, "admin" in self.w.user.roles
        count = f" {len(uids)} studies" if len(uids) > 1 else " study"
        menu = QMenu(self.w.table)
        menu.setObjectName("rowMenu")
        menu.setToolTipsVisible(True)
        holders = [r.get("locked_by") for r in rows]
        lock_why = "" if any(h is None for h in holders) else \
            ("Already locked" if len(uids) > 1 else
             "Locked by you" if holders[0] == me else f"Locked by {holders[0]}")
        others = [h for h in holders if h and h != me]
        unlock_why = "" if any(h == me or (h and admin) for h in holders) else \
            (f"Locked by {others[0]}: only they or an admin can unlock it" if others
             else "Not locked")
        self._add(menu, "lock", "Lock" + count, lock_why,
                  "Lock: changes by other users are refused until you unlock",
                  lambda: self.w.actions.lock(uids))
        self._add(menu, "unlock", "Unlock" + count, unlock_why, "Release the lock",
                  lambda: self.w.actions.unlock(uids))
        menu.addSeparator()
        self._add(menu, "assign", "Assign" + count + "...",
                  privilege_reason(self.w.user, "assign", "Assigning studies"),
                  "Assign to a reading radiologist", lambda: self.open_assign(uids))
        states = action_states(self.w.user, rows, self.unavailable())
        self._add(menu, "delete", "Delete" + count + "...", states["delete"],
                  "Move to the trash", lambda: self.open_delete(uids))
        menu.addSeparator()
        self._add(menu, "history", "Show history", "", "The change journal",
                  self.w.show_history)
        self.menu = menu
        if pos is not None:
            menu.popup(pos)
        return menu

    @staticmethod
    def _add(menu: QMenu, key: str, text: str, why: str, tip: str, slot) -> QAction:
        action = QAction(text, menu)
        action.setObjectName(f"menu_{key}")
        action.setEnabled(not why)
        action.setToolTip(why or tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action
