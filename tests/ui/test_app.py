"""`studydesk gui`: the whole start-up path, demo job included, and the Qt workaround."""

from __future__ import annotations

import argparse
import sys
import time
from types import SimpleNamespace

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

import ui.app
from ui.shell.main_window import MainWindow
from app.startup import open_home


DEADLINE = 30  # seconds before a check gives up and closes the window (never reached when green)


def _main_window():
    return next((w for w in QApplication.topLevelWidgets()
                 if isinstance(w, MainWindow) and w.isVisible()), None)


def test_demo_on_a_temporary_home(qtbot, qapp, tmp_path, monkeypatch):
    """No --home with --demo: a fresh temporary home, the demo job in the jobs
    panel, the worklist refreshed at the end, the home removed on exit."""
    monkeypatch.delenv("STUDYDESK_USER", raising=False)
    monkeypatch.setattr(ui.app, "DEMO_PATIENTS", 1)
    temporary = tmp_path / "demo-home"
    temporary.mkdir()
    # only ui.app's own mkdtemp: the demo job makes its scratch folder with the real one
    monkeypatch.setattr(ui.app, "tempfile", SimpleNamespace(mkdtemp=lambda **kw: str(temporary)))
    seen = {}
    deadline = time.monotonic() + DEADLINE

    def check():  # polls from the event loop run() is running
        window = _main_window()
        if window is not None and time.monotonic() > deadline:
            window.close()
            return
        if window is not None:
            rows = window.jobs_panel.rows()
            if rows and rows[-1].job.done and not window.model.is_searching() \
                    and window.model.rowCount():
                seen.update(state=rows[-1].job.state, title=rows[-1].job.title,
                            studies=window.model.rowCount(), app=QApplication.applicationName(),
                            home=window.home_label.text(), sheet=bool(qapp.styleSheet()))
                window.close()
                return
        QTimer.singleShot(20, check)

    QTimer.singleShot(0, check)
    code = ui.app.run(argparse.Namespace(demo=True))
    assert code == 0
    assert seen["state"] == "succeeded" and seen["title"] == "Demo studies"
    assert seen["studies"] >= 1
    assert seen["app"] == "StudyDesk" and seen["sheet"]
    assert "(temporary)" in seen["home"]
    assert not temporary.exists()


def test_home_and_user_from_the_arguments(qtbot, qapp, tmp_path, monkeypatch):
    from app.home import os_login

    open_home(tmp_path / "h")
    shown = {}
    deadline = time.monotonic() + DEADLINE

    def check():
        window = _main_window()
        if window is not None and time.monotonic() > deadline:
            window.close()
            return
        if window is None or window.model.is_searching():
            QTimer.singleShot(20, check)
            return
        shown.update(user=window.user_label.text(), home=window.home.root)
        window.close()

    QTimer.singleShot(0, check)
    code = ui.app.run(argparse.Namespace(home=str(tmp_path / "h"), user=os_login(), demo=False))
    assert code == 0
    assert shown == {"user": f"User: {os_login()} (admin)", "home": (tmp_path / "h").resolve()}
    assert (tmp_path / "h").exists()


def test_unknown_user_is_refused(tmp_path, monkeypatch):
    from app.errors import NotAllowed

    home = open_home(tmp_path / "h")
    try:
        ui.app.resolve_user(home, "nobody-here")
    except NotAllowed as e:
        assert "nobody-here" in str(e)
    else:
        raise AssertionError("an unknown account was accepted")


def test_password_comes_from_the_environment(tmp_path, monkeypatch):
    from app.accounts import accounts
    from app.home import os_login

    home = open_home(tmp_path / "h")
    db = home.connect()
    try:
        admin = accounts.get_user(db, os_login())
        accounts.add_user(db, admin, "reader", ["radiologist"], password="s3cret")
    finally:
        db.close()
    monkeypatch.setenv("STUDYDESK_PASSWORD", "s3cret")
    assert ui.app.resolve_user(home, "reader").roles == frozenset({"radiologist"})


def test_many_qt_calls_do_not_exhaust_none_or_true(qapp):
    """Void calls and emits by the ten thousand stay safe (PySide6 6.12.0 on
    Python 3.11 released a reference to None/True per call and aborted the
    interpreter; pyproject.toml excludes it)."""

    class Pinger(QObject):
        ping = Signal(int)

    pinger = Pinger()
    pinger.ping.connect(lambda n: None)
    for n in range(20000):
        pinger.setObjectName("p")
        pinger.ping.emit(n)
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for n in range(100):
        pinger.setObjectName("p")
        pinger.ping.emit(n)
    if sys.version_info < (3, 12):
        assert sys.getrefcount(None) >= none_before - 50
        assert sys.getrefcount(True) >= true_before - 50
