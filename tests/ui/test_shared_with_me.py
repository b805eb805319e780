"""Send "to another location or user": the Send dialog offers the users of
this workstation beside the DICOM nodes; a study shared with a note shows in
that user's "Shared with me" view, with who shared it and the note."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.worklist import sharing
from tests.ui.conftest import add_user, row_of, tick
from ui.net.send_dialog import SendDialog


def _click(widget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def _shown(window) -> list[str]:
    return sorted(window.model.study(r)["accession_number"] for r in range(window.model.rowCount()))


def test_share_from_the_send_dialog_then_the_recipient_sees_it(qtbot, make_window, loaded_home, admin):
    from app.net import nodes

    rita = add_user(loaded_home, "rita", ["radiologist"])
    db = loaded_home.connect()
    try:
        nodes.add_node(db, admin, "ARCHIVE", "ARCH", "127.0.0.1", 104)
    finally:
        db.close()
    window = make_window(loaded_home)
    tick(window, row_of(window, accession_number="ACC003"))
    _click(window.bar.buttons["send"])
    dialog = window.findChild(SendDialog, "sendDialog")
    qtbot.waitUntil(lambda: dialog.loaded and bool(dialog.user_names()))
    assert dialog.user_names() == ["rita"]                  # not the sender
    assert "another location or user" in dialog.findChild(type(dialog.note_label), "dialogHeading").text()
    assert dialog.node_names()[0] == "ARCHIVE" and dialog.nodes.currentRow() == 0   # nodes first
    assert not dialog.note.isVisible() and dialog.send_button.text() == "Send"
    dialog.nodes.setCurrentRow(next(i for i in range(dialog.nodes.count())
                                    if dialog.nodes.item(i).data(Qt.ItemDataRole.UserRole) == "user:rita"))
    assert dialog.note.isVisible() and dialog.send_button.text() == "Share"
    QTest.keyClicks(dialog.note, "MR brain: please compare with 2021")
    _click(dialog.send_button)
    qtbot.waitUntil(lambda: window.last_message == "Shared 1 study with rita", timeout=10000)
    db = loaded_home.connect()
    try:
        (uid, info), = sharing.shares_of(db, "rita").items()
    finally:
        db.close()
    assert uid == window.model.study_uid(row_of(window, accession_number="ACC003"))
    assert (info["by"], info["note"]) == (admin.name, "MR brain: please compare with 2021")

    theirs = make_window(loaded_home, rita)
    assert len(_shown(theirs)) == 4 and not theirs.shared_banner.isVisible()
    qtbot.waitUntil(lambda: theirs.scope.shared.text() == "Shared with me (1)")   # rita notices
    with qtbot.waitSignal(theirs.model.searched, timeout=10000):
        _click(theirs.scope.shared)
    assert _shown(theirs) == ["ACC003"]
    qtbot.waitUntil(lambda: theirs.shared_banner.isVisible())
    text = theirs.shared_banner.text()
    assert f"Shared by {admin.name}" in text and "please compare with 2021" in text and "ACC003" in text
    tip = theirs.model.data(theirs.model.index(0, 8), Qt.ItemDataRole.ToolTipRole)
    assert "please compare with 2021" in tip
    view_action = next(a for a in theirs.scope_actions if a.objectName() == "viewShared")
    assert view_action.isChecked()
    with qtbot.waitSignal(theirs.model.searched, timeout=10000):
        _click(theirs.scope.all_studies)
    assert len(_shown(theirs)) == 4 and not theirs.shared_banner.isVisible()


def test_nothing_shared_says_how_sharing_works(qtbot, window):
    assert window.scope.shared.text() == "Shared with me"
    with qtbot.waitSignal(window.model.searched, timeout=10000):
        _click(window.scope.shared)
    assert window.model.rowCount() == 0
    qtbot.waitUntil(lambda: window.shared_banner.isVisible())
    assert "Nothing has been shared with you" in window.shared_banner.text()
