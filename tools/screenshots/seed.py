"""Screenshots of the views the seed asked for, on a fresh demo home, for the docs.

    xvfb-run -a .venv/bin/python -m tools.screenshots.seed [OUT_DIR]

- ``cm_admin_scope.png``: the Content Manager's Admin scope over every study,
  one in the trash, one locked by another user and one migrated, each with
  its state in the Status column;
- ``shared_with_me.png``: a radiologist's worklist in "Shared with me", the
  banner saying who shared the current study and the note;
- ``export_dialog.png``: the export dialog with Plain chosen ("Patient data
  WILL leave");
- ``merge_proposal.png``: Merge patients on the demo's PID1002 and PID1002-B,
  the drawer proposing to keep PID1002 and saying why.

Default OUT_DIR: docs/screenshots.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tools.screenshots.screenshot import save_widget, settle, wait_until
from tools.screenshots.scenes import demo_home

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _uid(home, accession: str) -> str:
    db = home.connect()
    try:
        return db.execute("SELECT study_instance_uid FROM studies WHERE accession_number = ?"
                          " ORDER BY study_time LIMIT 1", [accession]).fetchone()[0]
    finally:
        db.close()


def prepare(home, admin) -> dict:
    """Users, a trashed, a locked and a migrated study, and two shares."""
    from app.accounts import accounts
    from app.worklist import sharing
    from app.changes import locks, migrated, trash

    db = home.connect()
    try:
        chris = accounts.add_user(db, admin, "chris", ["content-manager"])
        rita = accounts.add_user(db, admin, "rita", ["radiologist"])
        trash.delete(home, db, admin, _uid(home, "ACC10052"), "filed twice")
        locks.lock(db, chris, _uid(home, "ACC10031"))
        migrated.mark(db, admin, _uid(home, "ACC10061"))
        sharing.share(db, admin, [_uid(home, "ACC10031")], "rita",
                      "Misfiled abdomen series in this chest CT: please check before reporting")
        sharing.share(db, admin, [_uid(home, "ACC10011")], "rita", "Second opinion on the RT plan")
    finally:
        db.close()
    return {"chris": chris, "rita": rita}


def cm_admin_scope(home, admin, out: Path) -> None:
    from ui.changes.content_manager import ContentManager

    window = ContentManager(home, admin)
    window.resize(1500, 900)
    window.set_split(False)
    window.show()
    wait_until(lambda: not window.is_busy(), 30, "the first searches")
    pane = window.panes[0]
    pane.scope.setCurrentText("Admin")
    pane.search()
    wait_until(lambda: not pane.is_searching(), 30, "the Admin search")
    pane.tree.collapseAll()
    pane.tree.expandToDepth(0)   # patients and their studies: every state in one view
    trashed = next(n for n in pane.model.nodes("study") if n.data.get("trashed"))
    pane.select("study", trashed.uid)
    for _ in range(3):
        settle(0.3)
        wait_until(lambda: not window.thumbnails.is_busy(), 60, "the thumbnails")
    pane.tree.setFocus()
    settle(0.3)
    save_widget(window, out / "cm_admin_scope.png")
    window.runner.shutdown()
    window.close()


def shared_with_me(home, rita, out: Path) -> None:
    from ui.shell.main_window import MainWindow

    window = MainWindow(home, rita)
    window.resize(1500, 900)
    window.show()
    wait_until(lambda: not window.model.is_searching(), 30, "the worklist")
    window.scope.shared.click()
    wait_until(lambda: not window.model.is_searching() and window.model.rowCount() == 2, 30,
               "the shared studies")
    window.table.selectRow(0)
    wait_until(lambda: window.shared_banner.isVisible() and "Shared by" in window.shared_banner.text(),
               30, "the banner")
    wait_until(lambda: window.strip.is_complete(), 60, "the thumbnails")
    window.table.setFocus()
    settle(0.5)
    save_widget(window, out / "shared_with_me.png")
    window.runner.shutdown()
    window.close()


def export_dialog(home, admin, out: Path) -> None:
    from ui.export.export_dialog import ExportDialog

    dialog = ExportDialog(home, admin, [_uid(home, "ACC10011"), _uid(home, "ACC10021")])
    dialog.destination.setText("~/for-referrer.zip")   # shown only; nothing is exported
    dialog.show()
    dialog.plain.click()
    settle(0.5)
    save_widget(dialog, out / "export_dialog.png")
    dialog.close()


def merge_proposal(home, admin, out: Path) -> None:
    from ui.shell.main_window import MainWindow

    window = MainWindow(home, admin)
    window.resize(1500, 900)
    window.show()
    wait_until(lambda: not window.model.is_searching() and window.model.rowCount() > 0, 30, "the worklist")
    model = window.model
    rows = [next(r for r in range(model.rowCount()) if model.study(r)["patient_id"] == pid)
            for pid in ("PID1002-B", "PID1002")]   # the suffixed one ticked first
    window.ticks.clear()
    for row in rows:
        model.toggle_row(row)
    window.table.selectRow(rows[1])
    checked = []
    window.drawer.panel.checked.connect(checked.append)
    window.bar.buttons["merge_patients"].click()
    wait_until(lambda: bool(checked), 30, "the merge proposal and pre-flight check")
    wait_until(lambda: all(c._thumb_labels for c in window.drawer.panel.cards), 30, "the cards")
    settle(1.0)
    save_widget(window, out / "merge_proposal.png")
    window.runner.shutdown()
    window.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots.seed")
    parser.add_argument("out_dir", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--patients", type=int, default=6)
    args = parser.parse_args(argv)


    with demo_home("studydesk-seed-shot-", args.patients) as (home, admin):
        users = prepare(home, admin)
        args.out_dir.mkdir(parents=True, exist_ok=True)
        cm_admin_scope(home, admin, args.out_dir)
        shared_with_me(home, users["rita"], args.out_dir)
        export_dialog(home, admin, args.out_dir)
        merge_proposal(home, admin, args.out_dir)
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
