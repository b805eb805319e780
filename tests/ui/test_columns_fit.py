"""Columns that fit: at the window's default size the worklist shows every column
whole (the assignment and the description too), and the merge drawer opened
beside it shrinks the text columns instead of pushing Assigned to off screen."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.accounts import accounts
from app.importing.demo import import_demo
from app.worklist import assignments
from tests.ui.conftest import tick
from ui.worklist.column_fit import HARD_MIN
from ui.worklist.model import COLUMNS, column_index

WAIT = 10000  # ms; never reached when green
ASSIGNED = column_index("assigned_to")


def content_width(window, column: int) -> int:
    """The widest value of *column* over every row (the demo fits on screen)."""
    view, model = window.table, window.model
    return max(view.sizeHintForIndex(model.index(r, column)).width() for r in range(model.rowCount()))


def visible_in_viewport(window, column: int) -> bool:
    header, viewport = window.table.horizontalHeader(), window.table.viewport()
    left = header.sectionViewportPosition(column)
    return left >= 0 and left + header.sectionSize(column) <= viewport.width()


def fits(window) -> bool:
    return window.table.horizontalHeader().length() <= window.table.viewport().width()


def settled(window) -> bool:
    """Every row's values read (the model reads them in blocks) and fitted to."""
    model = window.model
    return (model.rowCount() > 0 and all(model.row_if_cached(r) for r in range(model.rowCount()))
            and not window.table.column_fit._timer.isActive() and fits(window))


def test_demo_columns_fit_the_default_window_and_the_drawer_does_not_push_them_off(
        qtbot, make_window, home, admin):
    import_demo(home, admin, patients=6)
    db = home.connect()
    try:
        accounts.add_user(db, admin, "drlindqvist", ["radiologist"])
        study = db.execute("SELECT study_instance_uid FROM studies LIMIT 1").fetchone()[0]
        assignments.assign(db, admin, study, "drlindqvist")
    finally:
        db.close()
    window = make_window(home)
    assert (window.width(), window.height()) == (1500, 940)  # the default size
    header = window.table.horizontalHeader()
    qtbot.waitUntil(lambda: settled(window), timeout=WAIT)
    saved_layout = window.columns._encode()
    for i, column in enumerate(COLUMNS):
        if column.key == "select":
            continue  # the tick box: a fixed width of its own, no text to cut
        assert header.sectionSize(i) >= content_width(window, i), column.key
    assert "drlindqvist" in {window.model.cell(r, ASSIGNED) for r in range(window.model.rowCount())}
    assert visible_in_viewport(window, ASSIGNED)

    pids = ("PID1002", "PID1002-B")
    rows = [next(r for r in range(window.model.rowCount()) if window.model.study(r)["patient_id"] == p)
            for p in pids]
    tick(window, *rows)
    with qtbot.waitSignal(window.drawer.panel.checked, timeout=WAIT):
        QTest.mouseClick(window.bar.buttons["merge_patients"], Qt.MouseButton.LeftButton)
    assert window.drawer.isVisible()
    qtbot.waitUntil(lambda: window.table.viewport().width() < 1200 and fits(window), timeout=WAIT)
    assert visible_in_viewport(window, ASSIGNED)
    assert header.sectionSize(column_index("patient_name")) >= HARD_MIN
    assert window.columns._encode() == saved_layout  # the shrinking is not remembered as the user's

    window.drawer.close()
    qtbot.waitUntil(lambda: window.table.viewport().width() > 1400, timeout=WAIT)
    qtbot.waitUntil(lambda: header.sectionSize(column_index("description"))
                    >= content_width(window, column_index("description")), timeout=WAIT)
