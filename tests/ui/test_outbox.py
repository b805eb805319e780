"""The outbox in the window, without an archive: the status bar's "Outbox: N
waiting" (hidden when nothing waits, updated by a Content Manager
reallocation, a click opens the Outbox), the table, the buttons each user may
press (the others disabled with the reason), Discard with its required reason
and Restore, and a send to a node that is down: its summary, the failures
and the indicator saying so."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.net.outbox import queue as outbox
from app.changes.reallocate import reallocate_series
from app.net.nodes import add_node
from tests.ui.cm_helpers import (cached_uid, confirm, confirmation, drag_and_drop, search,
                                  series_node)
from tests.ui.conftest import add_user
from ui.net.outbox.model import OutboxModel
from ui.net.outbox.window import FILTERS, OutboxWindow

WAIT = 30000


def _series_uid(home, description: str) -> str:
    return cached_uid(home, "series", "series_description", description)


def _study_uid(home, accession: str) -> str:
    return cached_uid(home, "studies", "accession_number", accession)


@pytest.fixture
def corrected(loaded_home, admin):
    """IOCM on, "Lung 1mm" (2 images) moved from ACC001 to ACC002: 2 corrected
    instances and 1 rejection note, held (the studies came from files)."""
    loaded_home.set_setting("iocm", "true")
    db = loaded_home.connect()
    try:
        reallocate_series(loaded_home, db, admin, _series_uid(loaded_home, "Lung 1mm"),
                          _study_uid(loaded_home, "ACC002"), reason="wrong study")
    finally:
        db.close()
    return loaded_home


def open_outbox(qtbot, window) -> OutboxWindow:
    window.outbox_action.trigger()
    outbox_window = window.findChild(OutboxWindow)
    qtbot.waitUntil(lambda: outbox_window.isVisible() and not outbox_window.is_loading(), timeout=WAIT)
    return outbox_window


def select_rows(outbox_window, rows) -> None:
    outbox_window.table.clearSelection()
    selection = outbox_window.table.selectionModel()
    for row in rows:
        selection.select(outbox_window.model.index(row, 0),
                         selection.SelectionFlag.Select | selection.SelectionFlag.Rows)


def test_model_passes_qtmodeltester(qtmodeltester, corrected):
    from app.net.outbox import admin as outbox_admin

    model = OutboxModel()
    model.set_rows(outbox_admin.listing_of(corrected))
    assert model.rowCount() == 3
    qtmodeltester.check(model, force_py=True)


def test_indicator_counts_what_waits_and_a_click_opens_the_outbox(qtbot, make_window, corrected):
    window = make_window(corrected)
    label = window.outbox_label
    qtbot.waitUntil(lambda: label.isVisible(), timeout=WAIT)
    assert label.text() == "Outbox: 3 waiting"
    assert "3 held: no node chosen" in label.toolTip()
    qtbot.mouseClick(label, Qt.MouseButton.LeftButton)
    outbox_window = window.findChild(OutboxWindow)
    assert outbox_window is not None
    qtbot.waitUntil(lambda: outbox_window.isVisible() and outbox_window.model.rowCount() == 3, timeout=WAIT)
    rows = outbox_window.model.entries()
    assert sorted(r["reason"] for r in rows) == ["IOCM: corrected instance"] * 2 + ["IOCM: rejection note"]
    texts = [outbox_window.model.data(outbox_window.model.index(r, 2)) for r in range(3)]
    assert texts == ["DOE, John  (P001)"] * 3
    assert not outbox_window.send_button.isEnabled()
    assert "Nothing is queued or failed; 3 held entries wait" in outbox_window.send_button.toolTip()
    assert outbox_window.assign_button.isEnabled()


def test_nothing_waiting_hides_the_indicator_and_a_reallocation_shows_it(qtbot, make_window, loaded_home):
    loaded_home.set_setting("iocm", "true")
    window = make_window(loaded_home)
    qtbot.waitUntil(lambda: window.outbox.reads > 0, timeout=WAIT)
    assert not window.outbox_label.isVisible() and window.outbox_label.text() == "Outbox empty"
    window.open_content_manager()
    from ui.changes.content_manager import ContentManager

    manager = window.findChild(ContentManager)
    qtbot.waitUntil(lambda: not manager.is_busy(), timeout=WAIT)
    left, right = manager.panes
    search(qtbot, left, "ACC001", scope="All studies")
    search(qtbot, right, "ACC002", scope="All studies")
    drag_and_drop(left, [series_node(left, "Lung 1mm").uid], right, "ACC002")
    confirm(qtbot, manager, confirmation(qtbot, manager))
    for box in manager.actions.boxes():
        box.done(0)
    qtbot.waitUntil(lambda: window.outbox_label.isVisible(), timeout=WAIT)
    assert window.outbox_label.text() == "Outbox: 3 waiting"
    manager.close()


def test_buttons_follow_the_privileges_and_say_why(qtbot, make_window, corrected):
    researcher = add_user(corrected, "rita", ["researcher"])
    clerk = add_user(corrected, "cleo", ["clerk"])
    window = make_window(corrected, researcher)
    ow = open_outbox(qtbot, window)
    select_rows(ow, [0])
    for button in (ow.send_button, ow.assign_button):
        assert not button.isEnabled() and "network privilege" in button.toolTip()
        assert "rita has researcher" in button.toolTip()
    for button in (ow.discard_button, ow.restore_button):
        assert not button.isEnabled() and "content-management privilege" in button.toolTip()
    assert ow.choose_node() is None and ow.discard_selected() is None
    window = make_window(corrected, clerk)
    ow = open_outbox(qtbot, window)
    select_rows(ow, [0])
    assert ow.assign_button.isEnabled()
    assert not ow.discard_button.isEnabled() and "content-management" in ow.discard_button.toolTip()


def test_discard_needs_a_reason_and_restore_brings_them_back(qtbot, make_window, corrected):
    window = make_window(corrected)
    ow = open_outbox(qtbot, window)
    assert not ow.discard_button.isEnabled() and "Select the entries" in ow.discard_button.toolTip()
    note_row = next(n for n, r in enumerate(ow.model.entries()) if r["reason"] == "IOCM: rejection note")
    select_rows(ow, [note_row])
    assert ow.discard_button.isEnabled()
    dialog = ow.discard_selected()
    assert not dialog.discard_button.isEnabled()
    dialog.reason.setText("   ")
    assert not dialog.discard_button.isEnabled()
    dialog.reason.setText("the archive has no copy of the old study")
    with qtbot.waitSignal(ow.changed, timeout=WAIT):
        dialog.discard_button.click()
    qtbot.waitUntil(lambda: ow.model.rowCount() == 2 and not ow.is_loading(), timeout=WAIT)
    assert "1 entry discarded" in ow.note.text()
    qtbot.waitUntil(lambda: window.outbox_label.text() == "Outbox: 2 waiting", timeout=WAIT)
    ow.filter.setCurrentIndex([text for text, _ in FILTERS].index("Discarded"))
    qtbot.waitUntil(lambda: ow.model.rowCount() == 1 and not ow.is_loading(), timeout=WAIT)
    (kept,) = ow.model.entries()
    assert kept["discard_reason"] == "the archive has no copy of the old study"
    assert "discarded by" in ow.model.data(ow.model.index(0, 7))
    select_rows(ow, [0])
    assert ow.restore_button.isEnabled()
    with qtbot.waitSignal(ow.changed, timeout=WAIT):
        ow.restore_button.click()
    qtbot.waitUntil(lambda: ow.model.rowCount() == 0 and not ow.is_loading(), timeout=WAIT)
    qtbot.waitUntil(lambda: window.outbox_label.text() == "Outbox: 3 waiting", timeout=WAIT)


def test_a_send_to_a_node_that_is_down_says_what_failed(qtbot, make_window, corrected, admin, free_port):
    db = corrected.connect()
    try:
        add_node(db, admin, "archive", "ARCHIVE", "127.0.0.1", free_port(), purposes=["store"])
        from app.net.outbox import admin as outbox_admin

        outbox_admin.assign_node(db, admin, outbox_admin.held_ids(db), "archive")
    finally:
        db.close()
    window = make_window(corrected)
    ow = open_outbox(qtbot, window)
    assert ow.send_button.isEnabled() and "all 3 queued or failed entries" in ow.send_button.toolTip()
    with qtbot.waitSignal(ow.changed, timeout=WAIT):
        job = ow.send_now()
        assert not ow.send_button.isEnabled() and "under way" in ow.send_button.toolTip()
        assert ow.job_row.job is job and ow.job_row.cancel_button.isEnabled()   # progress and Cancel
    assert job.state == "succeeded" and ow.job_row is None    # the summary takes its place
    assert ow.note.text() == "Outbox: 0 of 3 sent to archive, 3 failed" == window.last_message
    assert ow.failure_box.isVisible() and "cannot connect" in ow.failure_box.informativeText()
    ow.failure_box.done(0)
    qtbot.waitUntil(lambda: window.outbox_label.text() == "Outbox: 3 waiting (3 failed)", timeout=WAIT)
    qtbot.waitUntil(lambda: not ow.is_loading() and
                    {r["state"] for r in ow.model.entries()} == {outbox.FAILED}, timeout=WAIT)
    assert all("cannot connect" in r["last_error"] and r["attempts"] == 1 for r in ow.model.entries())
    assert ow.send_button.isEnabled()   # a retry


def test_a_change_written_elsewhere_shows_through_the_broadcast(qtbot, make_window, corrected, admin):
    """A discard made by another window's job (not this window's buttons) that
    announces OUTBOX: the open Outbox and the status bar follow, unasked."""
    from app.net.outbox import admin as outbox_admin
    from ui.cache_events import OUTBOX, CacheChange

    window = make_window(corrected)
    ow = open_outbox(qtbot, window)
    qtbot.waitUntil(lambda: window.outbox_label.text() == "Outbox: 3 waiting", timeout=WAIT)
    note = next(r["id"] for r in ow.model.entries() if r["reason"] == "IOCM: rejection note")
    window.runner.write(corrected, "Discard elsewhere",
                        lambda db, progress, cancel: outbox_admin.discard(db, admin, [note], "made elsewhere"),
                        changed=CacheChange.of(OUTBOX))
    qtbot.waitUntil(lambda: ow.model.rowCount() == 2 and not ow.is_loading(), timeout=WAIT)
    assert note not in [r["id"] for r in ow.model.entries()]
    qtbot.waitUntil(lambda: window.outbox_label.text() == "Outbox: 2 waiting", timeout=WAIT)
