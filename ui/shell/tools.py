"""The main window's other tools: the Content Manager, Outbox, Settings and
Research windows it opens, the demo set it imports, Help > About, and
files dropped on the window (imported).

A mixin of :class:`ui.shell.main_window.MainWindow`; it uses the window's home,
user, runner, outbox, settings_dialog, importer and show_message. The tools'
writes reach the worklist through the home's broadcast (ui/cache_events.py),
not through the window."""

from __future__ import annotations

from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QMessageBox

from app import __version__
from ui.cache_events import STUDIES, CacheChange, announce
from ui.jobs import Job
from ui.shell.importing import local_paths, summary


class WindowTools:
    """Mixed into MainWindow: the tools it opens, the demo set, About, dropped files."""

    def open_content_manager(self) -> None:
        try:
            from ui.changes.content_manager import open_content_manager
        except ImportError as e:
            self.show_message(f"The Content Manager is not part of this installation ({e})")
            return
        open_content_manager(self, self.home, self.user)

    def open_outbox(self):
        """Tools > Outbox..., or a click on the status bar's "Outbox: N waiting"."""
        from ui.net.outbox.window import open_outbox

        return open_outbox(self, self.home, self.user, self.runner, self.outbox)

    def open_settings(self):
        """Edit > Settings...: the nodes and this workstation (non-modal, one at a time)."""
        from ui.shell.settings_dialog import open_settings

        self.settings_dialog = open_settings(self.home, self.user, self.runner, self, self.listener.restart,
                                             self.settings_dialog)
        return self.settings_dialog

    def open_research(self) -> None:
        from ui.research import open_research_window

        open_research_window(self, self.home, self.user)

    def start_demo(self, patients: int = 6) -> Job:
        """Generate and import the demo set as a writer job (it opens its own
        connections), then broadcast the new studies."""
        from app.importing.demo import import_demo

        home, user = self.home, self.user

        def job(progress, cancel):
            return import_demo(home, user, patients=patients, progress=progress, cancel=cancel)

        self.show_message("Generating the demo studies...")
        demo = self.runner.start("Demo studies", job, kind="write",
                                 on_success=lambda result: self.show_message(f"Demo: {summary(result)}"),
                                 summarize=summary)
        demo.finished.connect(lambda: announce(home, CacheChange.of(STUDIES)))  # a cancel keeps some
        return demo

    def about(self) -> None:
        QMessageBox.about(self, "About StudyDesk",
                          f"<b>StudyDesk</b> {__version__}<br>"
                          "An open-source desktop PACS workstation.<br><br>"
                          f"Home: {self.home.root}<br>User: {self.user.name}")

    # -- drag and drop -----------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and local_paths(event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event.mimeData().urls()) if event.mimeData().hasUrls() else []
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.importer.import_paths(paths)
