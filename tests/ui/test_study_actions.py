"""The action bar's actions: delete, assign, My studies, locks, the other dialogs."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest

from app.changes import locks
from tests.ui.conftest import add_user, row_of, tick
from ui.worklist.assign_dialog import AssignDialog
from ui.changes.delete_dialog import DeleteDialog
from ui.worklist.model import column_index


def _click(widget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def _dialog(qtbot, window, key: str):
    with qtbot.waitSignal(window.worklist_actions.dialog_opened) as opened:
        _click(window.bar.buttons[key])
    return opened.args[0]


def _accessions(window) -> list[str]:
    return [window.model.study(r).get("accession_number") for r in range(window.model.rowCount())]


def test_delete_asks_then_removes_the_studies(qtbot, window):
    tick(window, row_of(window, accession_number="ACC003"), row_of(window, accession_number="ACC004"))
    dialog = _dialog(qtbot, window, "delete")
    assert isinstance(dialog, DeleteDialog) and dialog.isVisible()
    lines = dialog.lines()
    assert len(lines) == 2
    assert "SMITH, Anna" in lines[0] and "ACC003" in lines[0] and "MR BRAIN" in lines[0]
    assert "ACC004" in lines[1]
    assert not dialog.delete_button.isDefault() and not dialog.delete_button.autoDefault()
    # Cancel first: nothing happens
    dialog.reject()
    assert sorted(_accessions(window)) == ["ACC001", "ACC002", "ACC003", "ACC004"]
    dialog = _dialog(qtbot, window, "delete")
    dialog.reason.setText("wrong patient")
    with qtbot.waitSignal(window.actions.changed, timeout=20000):
        _click(dialog.delete_button)
    qtbot.waitUntil(lambda: not window.model.is_searching() and window.model.rowCount() == 2)
    assert sorted(_accessions(window)) == ["ACC001", "ACC002"]
    assert len(window.ticks) == 0 and not window.bar.isVisible()
    qtbot.waitUntil(lambda: len(window.history.trashed) == 2)
    assert {t["reason"] for t in window.history.trashed} == {"wrong patient"}
    # and back from the trash
    window.history.trash_table.selectRow(0)
    with qtbot.waitSignal(window.history.changed, timeout=20000):
        _click(window.history.restore_button)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3)


def test_assign_from_the_bar_sets_the_column_and_my_studies(qtbot, make_window, loaded_home):
    reader = add_user(loaded_home, "drlee", ["radiologist"])
    add_user(loaded_home, "carl", ["clerk"])  # not a reading physician: not offered
    window = make_window(loaded_home, reader)
    row = row_of(window, accession_number="ACC003")
    tick(window, row)
    dialog = _dialog(qtbot, window, "assign")
    assert isinstance(dialog, AssignDialog)
    qtbot.waitUntil(lambda: dialog.loaded)
    assert dialog.names() == ["drlee"]
    with qtbot.waitSignal(window.actions.changed, timeout=20000):
        _click(dialog.assign_button)
    assigned = column_index("assigned_to")
    qtbot.waitUntil(lambda: window.model.data(
        window.model.index(window.model.row_of(window.ticks.uids()[0]), assigned)) == "drlee")
    status = window.model.index(window.model.row_of(window.ticks.uids()[0]), column_index("status"))
    assert window.model.data(status, Qt.ItemDataRole.ToolTipRole) == "Assigned to drlee"
    assert window.model.data(status, Qt.ItemDataRole.DecorationRole) is not None
    # My studies: only what is assigned to the current user
    with qtbot.waitSignal(window.model.searched):
        _click(window.my_studies)
    assert _accessions(window) == ["ACC003"] and window.model.query.assigned_to == "drlee"
    # unassign: My studies is empty then
    dialog = _dialog(qtbot, window, "assign")
    qtbot.waitUntil(lambda: dialog.loaded)
    with qtbot.waitSignal(window.model.searched, timeout=20000):
        _click(dialog.unassign_button)
    qtbot.waitUntil(lambda: window.model.rowCount() == 0)
    with qtbot.waitSignal(window.model.searched):
        _click(window.all_studies)
    assert window.model.rowCount() == 4


def test_lock_from_the_row_menu_and_a_lock_held_by_someone_else(qtbot, window, loaded_home):
    row = row_of(window, accession_number="ACC001")
    menu = window.worklist_actions.row_menu(row)
    lock = menu.findChild(QAction, "menu_lock")
    assert lock.isEnabled() and not menu.findChild(QAction, "menu_unlock").isEnabled()
    with qtbot.waitSignal(window.actions.changed, timeout=20000):
        lock.trigger()
    status = column_index("status")
    qtbot.waitUntil(lambda: window.model.data(window.model.index(
        window.model.row_of(window.model.study_uid(row)), status),
        Qt.ItemDataRole.ToolTipRole) == "Locked by you")
    # a study locked by another user: Delete says who holds it
    other = add_user(loaded_home, "bob", ["content-manager"])
    uid = window.model.study_uid(row_of(window, accession_number="ACC003"))
    db = loaded_home.connect()
    try:
        locks.lock(db, other, uid)
    finally:
        db.close()
    with qtbot.waitSignal(window.model.searched):
        window.refresh()
    tick(window, window.model.row_of(uid))
    assert "locked by bob" in window.bar.reason("delete")
    menu = window.worklist_actions.row_menu(window.model.row_of(uid))
    unlock = menu.findChild(QAction, "menu_unlock")
    assert unlock.isEnabled()  # an admin may release it
    with qtbot.waitSignal(window.actions.changed, timeout=20000):
        unlock.trigger()
    qtbot.waitUntil(lambda: window.bar.reason("delete") == "")


def test_columns_hide_move_and_are_remembered(qtbot, make_window, loaded_home):
    window = make_window(loaded_home)
    header = window.table.horizontalHeader()
    accession = column_index("accession_number")
    menu = window.columns.build_menu()
    action = menu.findChild(QAction, "column_accession_number")
    assert action.isChecked() and menu.findChild(QAction, "column_select") is None
    with qtbot.waitSignal(window.columns.saved, timeout=5000):
        action.trigger()
        assert header.isSectionHidden(accession)
    description = column_index("description")
    with qtbot.waitSignal(window.columns.saved, timeout=5000):
        header.moveSection(header.visualIndex(description), 2)
    text = loaded_home.get_setting("ui.worklist_columns")
    assert "-accession_number:" in text and text.split(",")[2].startswith("description:")
    header.moveSection(0, 3)  # the tick column stays first
    assert header.visualIndex(0) == 0
    again = make_window(loaded_home)
    qtbot.waitUntil(lambda: again.table.horizontalHeader().isSectionHidden(accession))
    assert again.table.horizontalHeader().visualIndex(description) == 2
    again.columns.reset()
    assert not again.table.horizontalHeader().isSectionHidden(accession)


def test_burn_opens_the_burn_dialog_and_missing_parts_are_explained(qtbot, window, monkeypatch):
    import ui.export.burn_dialog
    from ui.net import send_dialog

    opened = []
    monkeypatch.setattr(ui.export.burn_dialog, "open_burn_dialog",
                        lambda parent, home, user, uids: opened.append((parent, uids)))
    tick(window, row_of(window, accession_number="ACC001"))
    _click(window.bar.buttons["burn"])
    assert opened == [(window, window.ticks.uids())]
    # a dialog that says it cannot work here, and one the window was not given
    monkeypatch.setattr(send_dialog, "unavailable", lambda: "No node to send to on this network.",
                        raising=False)
    monkeypatch.delitem(window.actions.dialogs, "download")
    window.worklist_actions._unavailable = None
    window.worklist_actions.update_bar()
    assert not window.bar.buttons["send"].isEnabled()
    assert "No node to send to on this network." in window.bar.buttons["send"].toolTip()
    assert not window.bar.buttons["download"].isEnabled()
    assert "is not part of this installation" in window.bar.buttons["download"].toolTip()
    assert window.bar.buttons["burn"].isEnabled()


def test_download_opens_the_export_dialog_anonymised(qtbot, window):
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication, QDialog

    tick(window, row_of(window, accession_number="ACC001"), row_of(window, accession_number="ACC002"))
    assert window.bar.buttons["download"].isEnabled()
    window.bar.anonymised.setChecked(True)
    _click(window.bar.buttons["download"])
    dialog = window.findChild(QDialog, "exportDialog")
    qtbot.waitUntil(lambda: dialog is not None and dialog.isVisible())
    assert dialog.summary.text() == "2 studies selected"
    assert dialog.anonymize.isChecked()
    dialog.close()  # deletes on close: let that happen now, so no other test finds it
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert window.findChild(QDialog, "exportDialog") is None


def test_send_picks_a_node_and_sends(qtbot, window, loaded_home, monkeypatch):
    from app.net import nodes, send
    from ui.net import send_dialog
    from ui.net.send_dialog import SendDialog

    db = loaded_home.connect()
    try:
        nodes.add_node(db, window.user, "ARCHIVE", "ARCH", "127.0.0.1", 104)
    finally:
        db.close()
    sent = []
    monkeypatch.setattr(send_dialog.send, "send_studies",
                        lambda home, user, uids, node, progress=None, cancel=None:
                        sent.append((uids, node)) or send.SendResult(node, uids, sent=5))
    tick(window, row_of(window, accession_number="ACC004"))
    _click(window.bar.buttons["send"])
    dialog = window.findChild(SendDialog, "sendDialog")
    qtbot.waitUntil(lambda: dialog.loaded)
    assert dialog.nodes.item(0).text().startswith("ARCHIVE (ARCH@127.0.0.1:104")
    _click(dialog.send_button)
    qtbot.waitUntil(lambda: window.last_message == "Sent 5 instances to ARCHIVE")
    assert sent == [(window.ticks.uids(), "ARCHIVE")]


def test_a_batch_reports_what_was_refused_and_why(qtbot, window, loaded_home):
    from PySide6.QtWidgets import QMessageBox

    other = add_user(loaded_home, "bob", ["content-manager"])
    locked = window.model.study_uid(row_of(window, accession_number="ACC003"))
    free = window.model.study_uid(row_of(window, accession_number="ACC004"))
    db = loaded_home.connect()
    try:
        locks.lock(db, other, locked)  # taken after the user ticked, before Delete runs
    finally:
        db.close()
    with qtbot.waitSignal(window.actions.changed, timeout=20000):
        window.actions.delete([locked, free])
    box = window.findChild(QMessageBox, "refusals")
    qtbot.waitUntil(lambda: box is not None and box.isVisible())
    assert "1 study was refused" in box.text() and "locked by bob" in box.informativeText()
    qtbot.waitUntil(lambda: not window.model.is_searching() and window.model.rowCount() == 3)
    assert window.model.row_of(locked) >= 0 and window.model.row_of(free) < 0
    assert window.last_message == "Moved to the trash: 1 study; 1 refused"
    box.close()


def test_a_layout_saved_before_the_accession_column_was_renamed_still_applies():
    from ui.worklist.columns import decode

    assert decode("-accession:90,description:200") == [("accession_number", True, 90), ("description", False, 200)]
