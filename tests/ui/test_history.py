"""The history dock's Trash: restore for content managers, empty for admins only;
and the Tools menu's Content Manager."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest

from tests.ui.conftest import add_user, row_of


def _click(widget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def _delete(qtbot, window, *accessions: str) -> None:
    uids = [window.model.study_uid(row_of(window, accession=a)) for a in accessions]
    with qtbot.waitSignal(window.actions.changed, timeout=20000):
        window.actions.delete(uids)
    qtbot.waitUntil(lambda: len(window.history.trashed) == len(accessions))


def test_only_admins_empty_the_trash(qtbot, make_window, loaded_home):
    manager = add_user(loaded_home, "cm", ["content-manager"])
    window = make_window(loaded_home, manager)
    _delete(qtbot, window, "ACC003", "ACC004")
    history = window.history
    assert history.tabText(1) == "Trash (2)"
    assert not history.empty_button.isEnabled()
    assert "needs the empty-trash privilege" in history.empty_button.toolTip()
    history.trash_table.selectRow(0)
    assert history.restore_button.isEnabled()

    admin_window = make_window(loaded_home)
    qtbot.waitUntil(lambda: len(admin_window.history.trashed) == 2)
    admin_window.show_history(trash=True)
    assert admin_window.history.currentIndex() == 1 and admin_window.history_dock.isVisible()
    box = admin_window.history.ask_empty()
    assert "for good" in box.text()
    with qtbot.waitSignal(admin_window.history.changed, timeout=20000):
        _click(box.findChild(type(admin_window.history.empty_button), "confirmButton"))
    qtbot.waitUntil(lambda: admin_window.history.trashed == [] and
                    admin_window.history.tabText(1) == "Trash")
    assert "Erased 2 studies" in admin_window.history.trash_note.text()


def test_tools_menu_opens_the_content_manager(qtbot, window, monkeypatch):
    import ui.changes.content_manager

    opened = []
    monkeypatch.setattr(ui.changes.content_manager, "open_content_manager",
                        lambda parent, home, user: opened.append(parent))
    action = window.findChild(QAction, "contentManager")
    assert action.isEnabled()
    action.trigger()
    assert opened == [window]


def test_tools_menu_opens_research_projects_for_researchers(qtbot, make_window, loaded_home):
    from ui.research.window import ResearchWindow

    window = make_window(loaded_home)
    action = window.findChild(QAction, "research")
    assert action.isEnabled()
    action.trigger()
    qtbot.waitUntil(lambda: any(isinstance(w, ResearchWindow) and w.isVisible()
                                for w in window.findChildren(ResearchWindow)), timeout=10000)
    reader = make_window(loaded_home, add_user(loaded_home, "rad", ["radiologist"]))
    blocked = reader.findChild(QAction, "research")
    assert not blocked.isEnabled() and "research privilege" in blocked.toolTip()


def test_a_clerks_undo_from_the_history_dock_is_refused_and_audited(qtbot, make_window, loaded_home):
    """The dock's Undo runs the core's undo with the window's User: the core
    checks the privilege itself (the button being greyed out is not the
    check) and writes the refused attempt to the audit trail."""
    from app.accounts import accounts
    from app.accounts import audit
    from app.changes import journal, trash
    from app.home import os_login

    db = loaded_home.connect()
    try:
        admin = accounts.get_user(db, os_login())
        uid = db.execute("SELECT study_instance_uid FROM studies WHERE accession_number = 'ACC004'"
                         ).fetchone()[0]
        change = trash.delete(loaded_home, db, admin, uid, "misfiled")
    finally:
        db.close()
    clerk = add_user(loaded_home, "clara", ["clerk"])
    window = make_window(loaded_home, clerk)
    history = window.history
    qtbot.waitUntil(lambda: history.select_change(change))
    assert not history.undo_button.isEnabled()
    with qtbot.waitSignal(history.changed, timeout=20000):
        history.undo(change)
    qtbot.waitUntil(lambda: "refused" in history.note.text())
    assert "content-management" in history.note.text()
    db = loaded_home.connect()
    try:
        assert journal.history(db)[0]["state"] == "applied"   # nothing undone
        refused = [e for e in audit.entries(db) if e["user"] == "clara" and e["action"] == "undo"]
        assert [(e["action"], e["outcome"], e["outcome_code"]) for e in refused] == \
            [("undo", audit.SERIOUS_FAILURE, 8)]
        assert uid in refused[0]["objects"] and audit.verify(db) is None
    finally:
        db.close()
