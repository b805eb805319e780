"""The docks around the worklist: jobs and history below, the merge drawer on
the left; and what follows a merge.

A mixin of :class:`ui.shell.main_window.MainWindow`; it uses the window's
home, user, runner, ticks and show_message. A merge's change reaches the
worklist and the history through the home's broadcast (the drawer's
``runner.write``); here the window only unticks the merged studies, keeps
the merged study current and shows the change in the history.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

from ui.changes.history_panel import HistoryPanel, history_dock
from ui.changes.merge_drawer import MergeDrawer, MergePanel
from ui.shell.jobs_panel import jobs_dock


class WindowDocks:
    """Mixed into MainWindow: the jobs, history and merge docks."""

    def _build_docks(self) -> None:
        self.jobs_dock = jobs_dock(self.runner, self)
        self.jobs_panel = self.jobs_dock.widget()
        self.history = HistoryPanel(self.home, self.user, self.runner)
        self.history_dock = history_dock(self.history, self)
        self.drawer = MergeDrawer(MergePanel(self.home, self.user, self.runner), self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.jobs_dock)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.history_dock)
        self.tabifyDockWidget(self.jobs_dock, self.history_dock)
        self.jobs_dock.raise_()
        self.resizeDocks([self.jobs_dock], [110], Qt.Orientation.Vertical)
        # the drawer runs the full height, beside the jobs and history docks
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.drawer)
        self.drawer.hide()
        self.resizeDocks([self.drawer], [400], Qt.Orientation.Horizontal)

    def _open_merge(self, mode: str, sides: list) -> None:
        self.drawer.panel.open_merge(mode, sides)
        self.drawer.show()
        self.drawer.raise_()
        self.resizeDocks([self.drawer], [430], Qt.Orientation.Horizontal)

    def _merged(self, change_id: int, mode: str, source: str, destination: str) -> None:
        cards = self.drawer.panel.cards
        merged = [row["study_instance_uid"] for card in cards for row in card.rows]
        labels = {card.key: card.label() for card in cards}
        self.ticks.discard(merged)
        if mode == "studies":
            self.select_study(destination)  # the merged study stays the current one
        self.show_message(f"Merged {labels.get(source, source)} into "
                          f"{labels.get(destination, destination)} (change {change_id}); "
                          "History undoes it")
        self.drawer.close()
        self.show_history()
        self._select_after = change_id

    def _history_loaded(self) -> None:
        if self._select_after is not None and self.history.select_change(self._select_after):
            self._select_after = None

    def show_history(self, trash: bool = False) -> None:
        self.history_dock.show()
        self.history_dock.raise_()
        self.history.setCurrentIndex(1 if trash else 0)
        self.resizeDocks([self.history_dock], [240], Qt.Orientation.Vertical)
