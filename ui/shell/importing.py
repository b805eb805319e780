"""Importing from the window: File menu actions, drag and drop, the outcome.

Every way in ends in :meth:`Importer.import_paths`, which runs
app.importing.importer.import_paths as a cache-writing job (one at a time;
it opens connections of its own, so through ``runner.start``), broadcasts
the studies it recorded (ui/cache_events.py), then puts a summary in the
status bar and, when inputs were refused, lists each refused path with its
reason in a dialog.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QFileDialog,
                               QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from app.accounts.accounts import User
from app.home import Home
from app.importing.importer import ImportResult, import_paths
from ui.cache_events import STUDIES, CacheChange, announce
from ui.jobs import Job, JobRunner


def summary(result: ImportResult) -> str:
    text = (f"Imported {result.imported} file{'s' if result.imported != 1 else ''} "
            f"into {len(result.studies)} stud{'ies' if len(result.studies) != 1 else 'y'}")
    if result.duplicates:
        text += f", {result.duplicates} already in the cache"
    if result.rejected:
        text += f", {len(result.rejected)} refused"
    return text


def local_paths(urls: list[QUrl]) -> list[str]:
    return [url.toLocalFile() for url in urls if url.isLocalFile() and url.toLocalFile()]


class RefusedDialog(QDialog):
    """Each refused input with its reason (non-modal; the window stays usable)."""

    def __init__(self, result: ImportResult, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("refusedDialog")
        self.setWindowTitle("Import: files refused")
        self.resize(820, 360)
        label = QLabel(f"{summary(result)}.\nThese inputs were not imported:")
        self.table = QTableWidget(len(result.rejected), 2)
        self.table.setAccessibleName("Refused files")
        self.table.setHorizontalHeaderLabels(["Path", "Reason"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        for row, item in enumerate(result.rejected):
            for column, key in enumerate(("path", "reason")):
                cell = QTableWidgetItem(item[key])
                cell.setToolTip(item[key])
                self.table.setItem(row, column, cell)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(0, 360)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def refused(self) -> list[tuple[str, str]]:
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text())
                for r in range(self.table.rowCount())]


class Importer(QObject):
    """Owns the import actions of one window."""

    imported = Signal(object)  # ImportResult, after the broadcast and the status bar summary
    message = Signal(str)  # a line for the status bar

    def __init__(self, home: Home, user: User, runner: JobRunner, window: QWidget):
        super().__init__(window)
        self.home = home
        self.user = user
        self.runner = runner
        self.window = window
        self.dialogs: list[RefusedDialog] = []
        allowed = user.can("import")
        self.actions: dict[str, QAction] = {}
        for key, text, slot in (
                ("files", "Import &files...", self.choose_files),
                ("folder", "Import f&older...", self.choose_folder),
                ("zip", "Import &ZIP...", self.choose_zip),
                ("dicomdir", "Import &DICOMDIR...", self.choose_dicomdir)):
            action = QAction(text, window)
            action.setObjectName(f"import_{key}")
            action.triggered.connect(slot)
            action.setEnabled(allowed)
            if not allowed:
                action.setToolTip(f"User {user.name} has no import privilege")
            self.actions[key] = action
        self.actions["files"].setShortcut("Ctrl+I")

    # -- choosing ----------------------------------------------------------------

    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self.window, "Import files", "",
                                                "DICOM files (*.dcm *.DCM *);;All files (*)")
        self._start(paths)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Import folder")
        self._start([folder] if folder else [])

    def choose_zip(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self.window, "Import ZIP archives", "",
                                                "ZIP archives (*.zip *.ZIP)")
        self._start(paths)

    def choose_dicomdir(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Import DICOMDIR", "",
                                              "DICOMDIR (DICOMDIR dicomdir DicomDir);;All files (*)")
        self._start([path] if path else [])

    def _start(self, paths: list[str]) -> None:
        if paths:
            self.import_paths(paths)

    # -- running -----------------------------------------------------------------

    def import_paths(self, paths: list[str],
                     on_done: Optional[Callable[[ImportResult], None]] = None) -> Optional[Job]:
        """Import *paths* as a writer job; None when the user may not import."""
        if not paths:
            return None
        if not self.user.can("import"):
            self.message.emit(f"User {self.user.name} may not import images")
            return None
        home, user, chosen = self.home, self.user, [str(p) for p in paths]
        names = ", ".join(Path(p).name or p for p in chosen[:2]) + (", ..." if len(chosen) > 2 else "")
        self.message.emit(f"Importing {names}")

        def job(progress, cancel):
            return import_paths(home, chosen, user, mode="copy", progress=progress, cancel=cancel)

        running = self.runner.start(f"Import {names}", job, kind="write",
                                    on_success=lambda result: self._done(result, on_done),
                                    on_cancel=self._cancelled, summarize=summary)
        # Batches recorded before a failure stay in the cache: which studies, unknown.
        running.failed.connect(lambda _message: announce(home, CacheChange.of(STUDIES)))
        return running

    def _cancelled(self) -> None:
        announce(self.home, CacheChange.of(STUDIES))  # batches recorded before the cancel stay
        self.message.emit("Import cancelled")

    def _done(self, result: ImportResult, on_done) -> None:
        if result.studies:
            announce(self.home, CacheChange.of(STUDIES, study_uids=result.studies))
        self.message.emit(summary(result))
        if result.rejected:
            dialog = RefusedDialog(result, self.window)
            dialog.finished.connect(lambda _=0, d=dialog: self._forget(d))
            self.dialogs.append(dialog)
            dialog.open()
        self.imported.emit(result)
        if on_done is not None:
            on_done(result)

    def _forget(self, dialog: RefusedDialog) -> None:
        if dialog in self.dialogs:
            self.dialogs.remove(dialog)
        dialog.deleteLater()
