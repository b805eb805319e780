"""The Outbox screenshot (outbox.png), taken by tools/screenshots/remote.py with
the Orthanc it started and the demo files it loaded there.

A home of its own (in a new scratch folder, so it shows as ~/StudyDesk) that
knows that Orthanc as ``pacs``; IOCM on. Haddad's two studies are retrieved
from the node and his misfiled "Abdomen portal venous 8mm" series is moved
into the abdomen study: 16 corrected instances and a rejection note queued
for pacs. Okafor's split exam is imported from files and one series moved
between its two studies: those entries are held (no node). The window opens,
the Outbox is opened from the status bar's "Outbox: N waiting", Send now
sends Haddad's correction to Orthanc; then the Outbox shows every entry
(sent and held) over the main window, whose status bar still counts the
held ones.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QPainter
from app.startup import open_home

SENT_BOUNDARY_ROWS = 5   # sent rows left above the first held one


def _series(db, patient_id: str, description: str) -> tuple[str, str]:
    """(Series Instance UID, its Study Instance UID) of a patient's series."""
    row = db.execute("SELECT se.series_instance_uid, se.study_instance_uid FROM series se"
                     " JOIN studies s USING (study_instance_uid) JOIN patients p ON p.id = s.patient_pk"
                     " WHERE p.patient_id = ? AND se.series_description = ?",
                     [patient_id, description]).fetchone()
    if row is None:
        raise SystemExit(f"screenshot: no series {description!r} of {patient_id} in the demo set")
    return row[0], row[1]


def _other_study(db, patient_id: str, not_this: str) -> str:
    row = db.execute("SELECT s.study_instance_uid FROM studies s JOIN patients p ON p.id = s.patient_pk"
                     " WHERE p.patient_id = ? AND s.study_instance_uid != ?", [patient_id, not_this]).fetchone()
    if row is None:
        raise SystemExit(f"screenshot: {patient_id} has one study only")
    return row[0]


def prepare(root: Path, demo_files: Path, node) -> tuple[object, object]:
    """The home with Haddad's correction queued for pacs and Okafor's held."""
    import pydicom

    from app.changes.reallocate import reallocate_series
    from app.importing.importer import import_paths
    from app.net import nodes
    from app.net.retrieve import study as retrieve
    from app.net.client import query_studies
    from app.worklist.query import Query
    from ui.app import resolve_user
    from tools.screenshots.remote import OUR_AET

    home = open_home(root / "StudyDesk")
    home.set_setting("aet", OUR_AET)
    home.set_setting("port", str(node.our_port))
    home.set_setting("iocm", "true")
    user = resolve_user(home)
    db = home.connect()
    try:
        nodes.add_node(db, user, "pacs", node.aet, node.host, node.port, purposes=["query-retrieve", "store"])
        haddad = [row["study_instance_uid"] for row in query_studies(home, user, "pacs", Query(patient_id="PID1003"))]
        retrieve.retrieve(home, user, "pacs", haddad)
        okafor = [p for p in sorted(demo_files.rglob("*.dcm"))
                  if pydicom.dcmread(p, stop_before_pixels=True).PatientID == "PID1002"]
        import_paths(home, okafor, user)
        misfiled, chest = _series(db, "PID1003", "Abdomen portal venous 8mm")
        reallocate_series(home, db, user, misfiled, _other_study(db, "PID1003", chest),
                          reason="abdomen series filed in the chest study")
        t2, split = _series(db, "PID1002", "T2 TSE axial")
        reallocate_series(home, db, user, t2, _other_study(db, "PID1002", split),
                          reason="split exam: one visit")
        queued = db.execute("SELECT count(*) FROM outbox WHERE node = 'pacs'").fetchone()[0]
        if not queued:
            raise SystemExit("screenshot: Haddad's correction was not queued for pacs")
    finally:
        db.close()
    return home, user


def shoot(root: Path, demo_files: Path, node, out_dir: Path, width: int, height: int) -> Path:
    from ui.shell.main_window import MainWindow
    from ui.net.outbox.window import FILTERS, OutboxWindow
    from tools.screenshots.screenshot import settle, wait_until

    home, user = prepare(root, demo_files, node)
    window = MainWindow(home, user)
    window.resize(width, height)
    window.show()
    wait_until(lambda: window.outbox_label.isVisible(), 20, "the outbox indicator")
    window.outbox_label.clicked.emit()   # what a click on "Outbox: N waiting" does
    outbox = window.findChild(OutboxWindow)
    wait_until(lambda: outbox.model.rowCount() > 0 and not outbox.is_loading(), 20, "the outbox")
    outbox.resize(min(1400, width - 120), min(620, height - 300))
    job = outbox.send_now()
    if job is None:
        raise SystemExit(f"screenshot: Send now is disabled: {outbox.send_button.toolTip()}")
    wait_until(lambda: job.done and not outbox.is_loading() and not window.outbox.is_reading(), 120,
               "the send")
    outbox.filter.setCurrentIndex([text for text, _ in FILTERS].index("All"))
    wait_until(lambda: not outbox.is_loading() and outbox.model.rowCount() > 0, 20, "every entry")
    states = [e["state"] for e in outbox.model.entries()]
    if "held" in states:
        first_held = states.index("held")
        outbox.table.scrollTo(outbox.model.index(max(0, first_held - SENT_BOUNDARY_ROWS), 0),
                              outbox.table.ScrollHint.PositionAtTop)
    settle(0.5)
    shot = window.grab()
    panel = outbox.grab()
    where = QPoint((shot.width() - panel.width()) // 2, (shot.height() - panel.height()) // 2 - 40)
    painter = QPainter(shot)
    painter.drawPixmap(where, panel)
    painter.setPen(QColor("#3a4047"))
    painter.drawRect(where.x() - 1, where.y() - 1, panel.width() + 1, panel.height() + 1)
    painter.end()
    out = out_dir / "outbox.png"
    if not shot.save(str(out)):
        raise SystemExit(f"screenshot: could not write {out}")
    print(out)
    outbox.close()
    window.runner.shutdown()
    window.close()
    return out
