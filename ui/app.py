"""`studydesk gui`: resolve the home and the user, open the window, run the loop."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from contextlib import closing
from typing import Optional

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit, QMessageBox

from app import __version__, logs
from app.accounts import accounts
from app.accounts.accounts import User
from app.errors import StudyDeskError
from app.home import Home, os_login
from app.resources import resources_dir
from app.startup import open_home
from ui.shell import theme

DEMO_PATIENTS = 6


def application() -> QApplication:
    """The QApplication (an existing one is reused: tests, embedding)."""
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    qapp.setApplicationName("StudyDesk")
    qapp.setApplicationDisplayName("StudyDesk")
    qapp.setOrganizationName("StudyDesk")
    qapp.setApplicationVersion(__version__)
    icon = resources_dir() / "icons" / "app.svg"
    if icon.exists():
        qapp.setWindowIcon(QIcon(str(icon)))
    return qapp


def apply_theme(qapp: QApplication, name: str = "dark") -> str:
    """The theme *name* (``dark``, ``light``, ``system``: ui/shell/theme.py)."""
    return theme.apply(qapp, name)


def password_source(name: str):
    """Where a password comes from: $STUDYDESK_PASSWORD, else a prompt."""

    def ask() -> Optional[str]:
        if "STUDYDESK_PASSWORD" in os.environ:
            return os.environ["STUDYDESK_PASSWORD"]
        text, ok = QInputDialog.getText(None, "StudyDesk", f"Password for {name}:",
                                        QLineEdit.EchoMode.Password)
        return text if ok else None

    return ask


def resolve_user(home: Home, name: Optional[str] = None) -> User:
    """``--user``, else $STUDYDESK_USER, else the login name (as the CLI does).

    The one read of the window side that runs in place, not as a job: it comes
    before the window and its job runner, and the password prompt it may show
    belongs on the GUI thread."""
    name = name or os.environ.get("STUDYDESK_USER") or os_login()
    with closing(home.connect()) as db:
        return accounts.authenticate(db, name, password_source(name))


def run(args: argparse.Namespace) -> int:
    from ui.shell.main_window import MainWindow

    logs.setup(verbose=bool(getattr(args, "verbose", False)))  # before the home opens: its recovery is logged
    log = logging.getLogger("ui")
    qapp = application()
    apply_theme(qapp)
    demo = bool(getattr(args, "demo", False))
    home_arg = getattr(args, "home", None)
    temporary: Optional[str] = None
    if demo and not home_arg:
        temporary = home_arg = tempfile.mkdtemp(prefix="studydesk-demo-")
    try:
        try:
            home = open_home(home_arg)
            user = resolve_user(home, getattr(args, "user", None))
        except StudyDeskError as e:
            print(f"studydesk: {e}", file=sys.stderr)
            QMessageBox.critical(None, "StudyDesk", e.message)
            return e.exit_code
        apply_theme(qapp, theme.of_home(home))  # the home's ``theme`` setting
        log.info("window opened by %s on %s (studydesk %s)", user.name, home.root, __version__)
        window = MainWindow(home, user, temporary_home=temporary is not None)
        window.show()
        if demo:
            QTimer.singleShot(0, lambda: window.start_demo(DEMO_PATIENTS))
        code = qapp.exec()
        window.runner.shutdown()
        log.info("window closed")
        return code
    finally:
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)
        logs.teardown()
