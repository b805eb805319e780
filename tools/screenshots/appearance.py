"""Screenshots of what users expect of a desktop window, for the docs.

    xvfb-run -a .venv/bin/python -m tools.screenshots.appearance [OUT_DIR]

- ``worklist_light.png``: the demo worklist in the light theme at the
  window's default size (every column whole), a study with its series;
- ``empty_home.png``: a new home's worklist: what to do first instead of a
  blank table.

A scratch home stands in for the user's folder and a named account
(``alex``, admin) for the login, so no machine path or OS user shows.
Default OUT_DIR: docs/screenshots.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from app.startup import open_home
from tools.screenshots.scenes import scratch_root
from tools.screenshots.screenshot import save_widget, settle, wait_until

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _account(home):
    from app.accounts import accounts
    from ui.app import resolve_user

    first = resolve_user(home)
    db = home.connect()
    try:
        return accounts.add_user(db, first, "alex", ["admin"])
    finally:
        db.close()


def empty_home(root: Path, out: Path) -> None:
    from ui.shell.main_window import MainWindow

    home = open_home(root / "StudyDesk")
    window = MainWindow(home, _account(home), temporary_home=False)
    window.show()
    wait_until(lambda: window.empty.isVisible(), 30, "the empty home")
    settle(0.5)
    save_widget(window, out / "empty_home.png")
    window.runner.shutdown()
    window.close()


def worklist_light(root: Path, out: Path, patients: int) -> None:
    from PySide6.QtWidgets import QApplication

    from app.importing.demo import import_demo
    from ui.app import apply_theme
    from ui.shell.main_window import MainWindow

    home = open_home(root / "Demo")
    user = _account(home)
    import_demo(home, user, patients=patients)
    home.set_setting("theme", "light")
    apply_theme(QApplication.instance(), "light")   # what `studydesk gui` does with this home
    window = MainWindow(home, user)
    window.show()
    wait_until(lambda: not window.model.is_searching() and window.model.rowCount() > 0, 30, "the worklist")
    model = window.model
    best = max(range(model.rowCount()), key=lambda r: (model.study(r).get("series_count") or 0, -r))
    window.table.selectRow(best)
    wait_until(lambda: window.strip.study_uid == model.study_uid(best) and bool(window.strip.cards())
               and window.strip.is_complete(), 60, "the thumbnails")
    window.table.setFocus()
    settle(0.8)
    save_widget(window, out / "worklist_light.png")
    window.runner.shutdown()
    window.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots.appearance")
    parser.add_argument("out_dir", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--patients", type=int, default=6)
    args = parser.parse_args(argv)

    from ui.app import application, apply_theme

    apply_theme(application())
    root = scratch_root("studydesk-appearance-shot-")
    try:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        empty_home(root, args.out_dir)
        worklist_light(root, args.out_dir, args.patients)
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
