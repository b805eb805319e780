"""The worklist area of the main window: which source it searches (the cache
or a node), which study is current, what follows the current study (the
series strip, the "Shared with me" banner, the patient card), and the viewer
a double-click on a study or a series card opens (ui/viewer/launch.py).

A mixin of :class:`ui.shell.main_window.MainWindow`; it uses the window's
model, table, ticks, scope bar, strip, remote source, pages, banner, card
popup, count label and worklist actions. Refreshing after writes is not here:
the views follow the cache's broadcast (ui/cache_events.py).
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QRect

from app.worklist import sharing
from app.worklist.query import Query
from ui import formatting
from ui.viewer import launch
from ui.worklist.empty_home import EMPTY, NO_MATCH


class WorklistArea:
    """Mixed into MainWindow: searching, the source switch, the current study."""

    def search(self, query: Query) -> None:
        """Run *query* on the source: the cache (narrowed to the user's
        assigned studies under My studies) or the chosen node."""
        self._query = query
        if self.remote.active:
            self.remote.search(query)
            return
        if self.my_studies.isChecked():
            query = dataclasses.replace(query, assigned_to=self.user.name)
        query = dataclasses.replace(query, shared_with=self.user.name if self.scope.shared_only() else "")
        self.count_label.setText("Searching...")
        self.model.search(query)

    def refresh(self) -> None:
        """Read the cache again (View > Refresh: the command line may have
        changed it), the current study's series too."""
        self.model.refresh()
        self.count_shared()
        self.strip.reload()

    def count_shared(self) -> None:
        """The scope bar's "Shared with me (N)", read in a job."""
        home, name = self.home, self.user.name
        self.runner.start("Shared with me", lambda progress, cancel: sharing.count_shared_with(home, name),
                          kind="read", visible=False, on_success=self.scope.set_shared_count,
                          on_failure=lambda _m: None)

    def refresh_source(self) -> None:
        """View > Refresh: the cache, or the node asked again."""
        if self.remote.active:
            self.remote.search(self._query)
        else:
            self.refresh()

    # -- the source: the cache or a node ---------------------------------------------

    def _source_changed(self, node: str) -> None:
        remote = bool(node)
        self.scope.set_remote(remote)
        self.shared_banner.show_for(self.scope.shared_only() and not remote, None, 0)
        for action in self.scope_actions:
            action.setEnabled(not remote)
        if remote:
            self.remote.activate(node, self._query)
            self.pages.setCurrentIndex(1)
            self.remote.view.setFocus()
            return
        self.remote.deactivate()
        self.pages.setCurrentIndex(0)
        self.count_label.setText(self._local_count or "Searching...")
        self.strip.show_study(None)
        self._current_changed(self.table.currentIndex(), QModelIndex())
        self.table.setFocus()

    def _remote_status(self, text: str) -> None:
        self.count_label.setText(text)

    # -- the current study ------------------------------------------------------------

    def _remember_current(self) -> None:
        current = self.table.currentIndex()
        uid = self.model.study_uid(current.row()) if current.isValid() else None
        self._keep_study = uid or self._keep_study

    def _searched(self, count: int) -> None:
        self._local_count = f"{count:,} stud{'ies' if count != 1 else 'y'}"
        if not self.remote.active:
            self.count_label.setText(self._local_count)
        row = self.model.row_of(self._keep_study) if self._keep_study else -1
        if count and row < 0:
            row = 0
        if row >= 0:
            index = self.model.index(row, 0)
            self.table.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)
            self.model.reveal(self.model.study_uid(row))
            self.table.scrollTo(index)
        elif not self.remote.active:
            self.strip.show_study(None)
        self._show_shared()
        self.worklist_actions.update_bar()
        self._show_empty(count)

    def _show_empty(self, count: int) -> None:
        """Nothing listed: the empty home when the search was everything the
        cache holds, else "No studies match"."""
        if count:
            self.empty.show_state(None)
            return
        everything = self._query.is_empty() and not self.my_studies.isChecked() and not self.scope.shared_only()
        self.empty.show_state(EMPTY if everything else NO_MATCH)

    def clear_search(self) -> None:
        """No match > Clear: the search fields emptied and every study of the cache listed."""
        if not self.all_studies.isChecked():
            self.all_studies.click()
        self.qbe.clear()

    def _show_shared(self) -> None:
        current = self.table.currentIndex()
        row = self.model.study(current.row()) if current.isValid() else None
        self.shared_banner.show_for(self.scope.shared_only() and not self.remote.active, row,
                                    self.model.rowCount())

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        uid = self.model.study_uid(current.row())
        self._keep_study = uid
        if self.remote.active:  # the strip follows the node's table meanwhile
            return
        study = self.model.study(current.row())
        self._show_shared()
        heading = "  ·  ".join(filter(None, (
            formatting.person_name(study.get("patient_name")), study.get("patient_id"),
            formatting.dicom_date(study.get("study_date")), study.get("description"))))
        self.strip.show_study(uid, heading)

    def _open_study(self, index: QModelIndex) -> None:
        """Double-click: the viewer on the study's first series with images."""
        uid = self.model.study_uid(index.row()) if index.isValid() else None
        if uid:
            self.view_study(uid)

    def view_study(self, study_uid: str) -> None:
        """Open the viewer on *study_uid*'s first series with images (the
        series is found by a read job; a study without any says so in the
        status bar)."""
        launch.open_study(self, self.home, self.user, self.runner, study_uid, self.show_message)

    def view_series(self, series_uid: str):
        """Open the viewer on *series_uid* (a double-click on a series card)."""
        return launch.open_series(self, self.home, self.user, self.runner, series_uid)

    def _patient_hovered(self, row: int, cell: QRect) -> None:
        patient_id = self.model.study(row).get("patient_id")
        if patient_id:
            self.card_popup.hover(patient_id, cell)

    def current_study_uid(self) -> Optional[str]:
        current = self.table.currentIndex()
        return self.model.study_uid(current.row()) if current.isValid() else None

    def select_study(self, study_uid: str) -> bool:
        row = self.model.row_of(study_uid)
        if row < 0:
            return False
        self.table.selectRow(row)
        return True
