"""Screenshot of the worklist on a fresh demo home, for the docs.

    python -m tools.screenshots.screenshot OUT_DIR [--width 1600 --height 1000]

Opens the window on a temporary home, runs the demo import in the jobs panel,
waits for it and for the thumbnails, selects the study with the most series
and saves OUT_DIR/worklist.png; then the worklist experience
(tools/screenshots/scenes.py): bar.png, card.png, drawer.png,
drawer-studies.png and history.png. Run it under ``xvfb-run -a`` on a
machine without a display.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEvent, QEventLoop
from PySide6.QtWidgets import QApplication
from app.startup import open_home


def named_account(home, first, name: str = "jlee"):
    """An administrator with a plain name, so the OS login never shows in a picture."""
    from app.accounts import accounts

    db = home.connect()
    try:
        return accounts.add_user(db, first, name, ["admin"])
    finally:
        db.close()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Run the event loop until *condition* holds (a script, not the GUI: it may block)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"screenshot: gave up waiting for {what} after {timeout:.0f} s")
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def save_widget(widget, out: Path) -> None:
    """Grab *widget* into *out* (PNG), or stop the script saying it could not."""
    if not widget.grab().save(str(out)):
        raise SystemExit(f"screenshot: could not write {out}")
    print(out)


def settle(seconds: float = 0.3) -> None:
    """Let layouts and repaints finish before grabbing (and widgets whose
    deleteLater() only an event loop run by exec() would carry out go)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots.screenshot")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--patients", type=int, default=6)
    args = parser.parse_args(argv)

    from ui.app import application, apply_theme, resolve_user
    from ui.shell.main_window import MainWindow
    from tools.screenshots.scenes import scratch_root

    qapp = application()
    apply_theme(qapp)
    root = scratch_root("studydesk-shot-")
    try:
        home = open_home(root / "StudyDesk")
        window = MainWindow(home, named_account(home, resolve_user(home)), temporary_home=True)
        window.resize(args.width, args.height)
        window.show()
        demo = window.start_demo(args.patients)
        wait_until(lambda: demo.done, 180, "the demo import")
        if demo.state != "succeeded":
            raise SystemExit(f"screenshot: the demo import {demo.state}: {demo.error}")
        wait_until(lambda: not window.model.is_searching() and window.model.rowCount() > 0,
                   30, "the worklist")
        model = window.model
        best = max(range(model.rowCount()),
                   key=lambda r: (model.study(r).get("series_count") or 0, -r))
        window.table.selectRow(best)
        wait_until(lambda: window.strip.study_uid == model.study_uid(best)
                   and bool(window.strip.cards()) and window.strip.is_complete(),
                   60, "the thumbnails")
        window.table.setFocus()
        settle()
        args.out_dir.mkdir(parents=True, exist_ok=True)
        out = args.out_dir / "worklist.png"
        if not window.grab().save(str(out)):
            raise SystemExit(f"screenshot: could not write {out}")
        print(out)
        from tools.screenshots.scenes import shoot

        shoot(window, args.out_dir, wait_until, settle)
        window.close()
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
