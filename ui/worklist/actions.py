"""The glue between the ticked studies and what can be done with them.

Keeps the action bar in step with the tick set, turns bar clicks and the
row menu into dialogs and jobs (ui/worklist/study_actions.py), opens the merge
drawer, and reads the rows of ticked studies the model has not fetched
(after Ctrl+A over a long list) in a job. When the cache broadcasts a change
to studies, the ticked studies' rows are read again (locks, patients) and
those gone from the cache are unticked.

It works with the parts it is given (the tick set, the model and view, the
bar, the study jobs, a parent for dialogs and two callables of the window),
not with the window itself.
"""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import QObject, QPoint, Signal
from PySide6.QtWidgets import QDialog, QMenu, QWidget

from app.accounts.accounts import User
from app.home import Home
from app.worklist import query as worklist
from ui.cache_events import PATIENTS, STUDIES, CacheChange, events_of
from ui.jobs import JobRunner
from ui.worklist.action_bar import ActionBar, action_states
from ui.worklist.assign_dialog import AssignDialog
from ui.worklist.model import WorklistModel
from ui.worklist.row_menu import RowSlots, study_menu
from ui.worklist.selection import TickSet
from ui.worklist.study_actions import StudyActions


def _rows_of(study_uids: list[str]) -> Callable:
    """A read job's body: the worklist rows of *study_uids*."""
    return lambda db, progress, cancel: worklist.study_rows(db, study_uids)


class WorklistActions(QObject):
    """``dialog_opened(dialog)`` whenever an assign or delete dialog opens (tests)."""

    dialog_opened = Signal(object)

    def __init__(self, home: Home, user: User, runner: JobRunner, *, ticks: TickSet,
                 model: WorklistModel, view: QWidget, bar: ActionBar, actions: StudyActions,
                 parent: QWidget, delete_dialog: Callable[[list, QWidget], QDialog],
                 open_merge: Callable[[str, list], None], show_history: Callable[[], None]):
        """*delete_dialog(items, parent)* makes the delete confirmation (it
        belongs to ui/changes, which the shell hands over); *open_merge(mode,
        sides)* opens the merge drawer; *show_history()* raises the history
        dock; dialogs open over *parent*."""
        super().__init__(parent)
        self.home, self.user, self.runner = home, user, runner
        self.ticks, self.model, self.view, self.bar, self.actions = ticks, model, view, bar, actions
        self.parent_widget = parent
        self._delete_dialog, self._open_merge, self._show_history = delete_dialog, open_merge, show_history
        self.dialog = None  # the assign or delete dialog last opened
        self.menu: Optional[QMenu] = None
        self._unavailable: Optional[dict[str, str]] = None
        self._loading_rows = False
        ticks.changed.connect(self.update_bar)
        bar.triggered.connect(self.trigger)
        bar.unselect.connect(ticks.clear)
        actions.changed.connect(self._study_job_ended)
        events_of(home).cache_changed.connect(self._cache_changed)

    # -- the bar ------------------------------------------------------------------------

    def unavailable(self) -> dict[str, str]:
        if self._unavailable is None:  # the dialogs' own reasons are asked once
            self._unavailable = self.actions.unavailable()
        return self._unavailable

    def update_bar(self) -> None:
        ticks, model = self.ticks, self.model
        if not len(ticks):
            self.bar.show_state(0, 0, {})
            return
        hidden = sum(1 for uid in ticks.uids() if not model.contains(uid))
        self.bar.show_state(len(ticks), hidden,
                            action_states(self.user, ticks.rows(), self.unavailable()))
        if ticks.missing():
            self.load_missing_rows()

    def load_missing_rows(self) -> None:
        if self._loading_rows:
            return
        self._loading_rows = True
        uids = self.ticks.missing()
        self.runner.read(self.home, "Ticked studies", _rows_of(uids), on_success=self._rows_loaded,
                         on_failure=lambda _m: setattr(self, "_loading_rows", False))

    def _rows_loaded(self, rows: list[dict]) -> None:
        self._loading_rows = False
        found = {r["study_instance_uid"] for r in rows}
        self.ticks.update_rows(rows)
        gone = [uid for uid in self.ticks.missing() if uid not in found]
        self.ticks.discard(gone)  # no longer in the cache (merged away, erased)

    def _cache_changed(self, change: CacheChange) -> None:
        if change.touches(STUDIES, PATIENTS):
            self.reload_ticked_rows()

    def _study_job_ended(self, kind: str, study_uids: list) -> None:
        if kind == "delete":
            self.ticks.discard(study_uids)  # at once, not when the rows are read again

    def reload_ticked_rows(self) -> None:
        """After a change: fresh rows for every ticked study (locks, patients)."""
        uids = self.ticks.uids()
        if not uids:
            return

        def loaded(rows: list[dict]) -> None:
            found = {r["study_instance_uid"] for r in rows}
            self.ticks.discard([u for u in uids if u not in found])
            self.ticks.update_rows(rows)

        self.runner.read(self.home, "Ticked studies", _rows_of(uids), on_success=loaded, on_failure=lambda _m: None)

    def trigger(self, key: str) -> None:
        uids = self.ticks.uids()
        if not uids:
            return
        if key == "assign":
            self.open_assign(uids)
        elif key == "delete":
            self.open_delete(uids)
        elif key in ("merge", "merge_patients"):
            self.open_merge("patients" if key == "merge_patients" else "studies")
        elif key == "download":
            anonymised = self.bar.anonymised.isChecked()
            self.actions.open_dialog("download", uids, anonymize=anonymised, anonymise=anonymised)
        else:
            self.actions.open_dialog(key, uids)

    # -- dialogs -------------------------------------------------------------------------

    def open_assign(self, uids: list[str]) -> AssignDialog:
        rows = [self.ticks.row(u) or self.model.study(self.model.row_of(u)) for u in uids]
        current = {(r or {}).get("assigned_to") for r in rows}
        dialog = AssignDialog(self.home, self.runner, self.user.name, len(uids),
                              current.pop() if len(current) == 1 else None, self.parent_widget)
        dialog.chosen.connect(lambda to: self.actions.assign(uids, to))
        return self._open(dialog)

    def open_delete(self, uids: list[str]) -> QDialog:
        items = [(u, self.ticks.row(u) or self._cached_row(u)) for u in uids]
        dialog = self._delete_dialog(items, self.parent_widget)
        dialog.confirmed.connect(lambda reason: self._delete(uids, reason))
        return self._open(dialog)

    def _delete(self, uids: list[str], reason: str) -> None:
        self.actions.delete(uids, reason)

    def _open(self, dialog):
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        self.dialog_opened.emit(dialog)
        return dialog

    def _cached_row(self, uid: str) -> Optional[dict]:
        row = self.model.row_of(uid)
        return self.model.study(row) if row >= 0 else None

    def open_merge(self, mode: str) -> None:
        rows = [r for r in self.ticks.rows() if r is not None]
        if mode == "patients":
            by_patient: dict[tuple, list[dict]] = {}
            for row in rows:  # by record: an ID with two issuers is two patients
                by_patient.setdefault((row["patient_id"], row.get("issuer") or ""), []).append(row)
            sides = list(by_patient.values())
        else:
            sides = [[row] for row in rows]
        if len(sides) != 2:
            return
        self._open_merge(mode, sides)

    # -- the row menu ------------------------------------------------------------------

    def targets(self, row: int) -> list[str]:
        """The ticked studies when the row is one of them, else the row's study."""
        uid = self.model.study_uid(row)
        if uid in self.ticks:
            return self.ticks.uids()
        return [uid] if uid else []

    def row_menu(self, row: int, pos: Optional[QPoint] = None) -> QMenu:
        uids = self.targets(row)
        rows = [self.ticks.row(u) or self._cached_row(u) or {} for u in uids]
        slots = RowSlots(lock=lambda: self.actions.lock(uids), unlock=lambda: self.actions.unlock(uids),
                         assign=lambda: self.open_assign(uids), delete=lambda: self.open_delete(uids),
                         history=self._show_history)
        self.menu = study_menu(self.view, self.user, rows, self.unavailable(), slots)
        if pos is not None:
            self.menu.popup(pos)
        return self.menu
