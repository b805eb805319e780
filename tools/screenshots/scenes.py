"""Screenshots of the worklist experience, for the docs (called by tools.screenshots.screenshot).

On the demo home, with a radiologist, two assigned and two locked studies
added: ``bar.png`` (two ticked studies and the action bar),
``card.png`` (the patient card over the worklist), ``drawer.png`` (the merge
drawer on two patients the pre-flight check calls different, reason typed),
``drawer-studies.png`` (the split exam of one patient), and
``history.png`` (the history dock after that merge, with Undo).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from PySide6.QtCore import QPoint
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtTest import QTest

from app.worklist import query as worklist
from app.clock import now_iso
from app.worklist.query import Query
from ui.worklist.model import column_index


def scratch_root(prefix: str) -> Path:
    """A temporary folder that stands in for the user's home folder, so the
    window shows its paths as ``~/StudyDesk`` in screenshots."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["HOME"] = str(root)
    return root


@contextmanager
def demo_home(prefix: str, patients: int, account: str = "") -> Iterator[tuple[Any, Any]]:
    """What a screenshot script starts with: the themed application and a
    scratch home (removed afterwards) with `patients` demo patients
    imported; (home, its first account, or an administrator named `account`
    so that the OS login never shows in a picture)."""
    from app.importing.demo import import_demo
    from app.startup import open_home
    from tools.screenshots.screenshot import named_account
    from ui.app import application, apply_theme, resolve_user

    apply_theme(application())
    root = scratch_root(prefix)
    try:
        home = open_home(root / "StudyDesk")
        user = resolve_user(home)
        if account:
            user = named_account(home, user, account)
        if patients:
            import_demo(home, user, patients=patients)
        yield home, user
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _save(pixmap: QPixmap, out: Path) -> Path:
    if not pixmap.save(str(out)):
        raise SystemExit(f"screenshot: could not write {out}")
    print(out)
    return out


def _rows_of(window, accessions: list[str]) -> list[int]:
    model = window.model
    return [r for r in range(model.rowCount()) if model.study(r).get("accession_number") in accessions]


def _tick(window, rows: list[int]) -> None:
    window.ticks.clear()
    for row in rows:
        window.model.toggle_row(row)


def add_demo_appointment(window, patient_id: str) -> None:
    """An upcoming appointment, as a modality worklist query would have left it
    (the demo has no worklist server): only so the card shows one."""
    db = window.home.connect()
    try:
        with db.conn:
            db.execute("INSERT INTO appointments (patient_id, date, time, description, modality,"
                       " location, node, fetched_at) VALUES (?, '20990312', '093000',"
                       " 'CT Chest follow-up', 'CT', 'CT 2, Level 1', 'demo', ?)",
                       [patient_id, now_iso()])
    finally:
        db.close()


def add_demo_workflow(window) -> None:
    """Some workflow state for the status column: a reading radiologist with an
    assigned study, a study locked by them and one locked by the current user."""
    from app.accounts import accounts
    from app.worklist import assignments
    from app.changes import locks

    db = window.home.connect()
    try:
        reader = accounts.add_user(db, window.user, "drchen", ["radiologist"])
        by_accession = {row["accession_number"]: row["study_instance_uid"] for row in worklist.studies(db, Query())}
        assignments.assign(db, window.user, by_accession["ACC10011"], "drchen")
        assignments.assign(db, window.user, by_accession["ACC10052"], "drchen")
        locks.lock(db, reader, by_accession["ACC10052"])
        locks.lock(db, window.user, by_accession["ACC10041"])
    finally:
        db.close()


def shoot(window, out_dir: Path, wait_until: Callable, settle: Callable) -> list[Path]:
    model, written = window.model, []
    add_demo_workflow(window)
    window.refresh()
    wait_until(lambda: not model.is_searching() and model.study(0).get("locked_by"), 20,
               "the worklist with locks")
    # -- the action bar: the split exam of PID1002 (two studies, one patient) --
    split = [r for r in range(model.rowCount()) if model.study(r).get("patient_id") == "PID1002"]
    window.table.selectRow(split[0])
    _tick(window, split)
    wait_until(lambda: window.bar.isVisible(), 10, "the action bar")
    window.table.setFocus()
    settle()
    written.append(_save(window.grab(), out_dir / "bar.png"))

    # -- the patient card of a VIP patient --
    window.ticks.clear()
    add_demo_appointment(window, "PID1003")
    vip = next(r for r in range(model.rowCount()) if model.study(r).get("patient_id") == "PID1003")
    rect = window.table.visualRect(model.index(vip, column_index("patient_name")))
    QTest.mouseMove(window.table.viewport(), rect.center() - QPoint(rect.width() // 4, 0))
    card = window.card_popup.card
    wait_until(lambda: card.isVisible(), 10, "the patient card")
    settle()
    shot = window.grab()
    painter = QPainter(shot)
    painter.drawPixmap(window.mapFromGlobal(card.pos()), card.grab())
    painter.end()
    written.append(_save(shot, out_dir / "card.png"))
    window.card_popup.hide()
    QTest.mouseMove(window.qbe)

    # -- the drawer: two different patients (red), then the split exam --
    panel = window.drawer.panel
    pair = [next(r for r in range(model.rowCount()) if model.study(r).get("patient_id") == pid)
            for pid in ("PID1003", "PID1002-B")]
    _tick(window, pair)
    window.worklist_actions.trigger("merge_patients")
    wait_until(lambda: panel.check is not None and _thumbs_done(window), 30, "the pre-flight check")
    panel.reason.setText("Same patient per the registration desk (ticket 4471)")
    settle()
    written.append(_save(window.grab(), out_dir / "drawer.png"))

    window.table.selectRow(split[0])
    _tick(window, split)
    window.worklist_actions.trigger("merge")
    wait_until(lambda: panel.check is not None and _thumbs_done(window), 30, "the pre-flight check")
    settle()
    written.append(_save(window.grab(), out_dir / "drawer-studies.png"))

    # -- history after the merge --
    panel.reason.setText("Split exam: the scanner restarted mid-study")
    job = panel.run()
    wait_until(lambda: job.done, 60, "the merge")
    wait_until(lambda: not window.history.is_loading() and window.history.changes
               and window.history.selected_change() is not None
               and not model.is_searching(), 30, "the history")
    settle()
    written.append(_save(window.grab(), out_dir / "history.png"))
    return written


def _thumbs_done(window) -> bool:
    panel = window.drawer.panel
    return all(card._thumb_labels for card in panel.cards) and not panel.thumbnails.is_busy()
