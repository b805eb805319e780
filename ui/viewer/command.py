"""`studydesk view`: the viewer window alone, without the workstation
window, run until it is closed. The command (app/cli/view.py) makes the
themed QApplication with ui.app's functions and hands it here, so this
folder stays below the shell in the window's layers."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QApplication

from app.home import Home


def run_viewer(qapp: QApplication, home: Home, user, series_uid: str,
               image: Optional[int] = None) -> int:
    from ui.jobs import JobRunner
    from ui.viewer import open_viewer

    runner = JobRunner()
    window = open_viewer(None, home, user, runner, series_uid, image)
    runner.error_parent = window
    window.destroyed.connect(qapp.quit)
    code = qapp.exec()
    runner.shutdown()
    return code
