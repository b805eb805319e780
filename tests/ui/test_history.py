"""The one history panel: the same Undo in the main window's dock and in the
Content Manager (confirmation in plain words, undo with the window's User,
both windows updated); changes told without a UID; the Trash (restore for
content managers, empty for admins only); and the Tools menu."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton

from tests.ui.cm_helpers import cached_uid, close_cm, search, tree_of
from tests.ui.conftest import add_user, row_of

UID = re.compile(r"\d+(\.\d+){3,}")   # what a DICOM UID looks like


def _click(widget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def _delete(qtbot, window, *accessions: str) -> None:
    uids = [window.model.study_uid(row_of(window, accession_number=a)) for a in accessions]
    with qtbot.waitSignal(window.actions.changed, timeout=20000):
        window.actions.delete(uids)
    qtbot.waitUntil(lambda: len(window.history.trashed) == len(accessions))


def _as_admin(home, act):
    """Run *act(db, admin)* on the core, as the command line would."""
    from app.accounts import accounts
    from app.home import os_login

    db = home.connect()
    try:
        return act(db, accounts.get_user(db, os_login()))
    finally:
        db.close()


def _undo_through(qtbot, history, change_id: int) -> str:
    """Select the change, press Undo, answer the question; returns its text."""
    qtbot.waitUntil(lambda: history.select_change(change_id), timeout=20000)
    _click(history.undo_button)
    box = history.question
    assert box is not None and box.isVisible()
    said = f"{box.text()}\n{box.informativeText()}"
    with qtbot.waitSignal(history.changed, timeout=30000):
        _click(box.findChild(QPushButton, "confirmButton"))
    return said


def _newest_is_undo_of(history, change_id: int) -> bool:
    return bool(history.changes) and history.changes[0]["action"] == "undo" \
        and history.changes[0]["undoes"] == change_id


def test_one_undo_in_both_windows_confirms_undoes_and_updates_both(qtbot, make_window, loaded_home,
                                                                   admin):
    from app.changes import merge
    from app.changes.reallocate import reallocate_series
    from ui.changes.content_manager import open_content_manager
    from ui.changes.history_panel import HistoryPanel

    lung = cached_uid(loaded_home, "series", "series_description", "Lung 1mm")
    acc001, acc002, acc003, acc004 = (cached_uid(loaded_home, "studies", "accession_number", a)
                                      for a in ("ACC001", "ACC002", "ACC003", "ACC004"))
    moved = _as_admin(loaded_home, lambda db, user: reallocate_series(
        loaded_home, db, user, [lung], acc002, reason="filed under the wrong exam"))
    merged = _as_admin(loaded_home, lambda db, user: merge.merge_studies(
        loaded_home, db, user, acc004, acc003, force=True, reason="one exam"))
    window = make_window(loaded_home)
    cm = open_content_manager(window, loaded_home, admin)
    try:
        assert type(cm.history) is type(window.history) is HistoryPanel
        assert window.model.study(row_of(window, accession_number="ACC001"))["series_count"] == 2   # moved
        qtbot.waitUntil(lambda: len(cm.history.changes) == 2 and len(window.history.changes) == 2)
        reallocation = next(c for c in cm.history.changes if c["action"] == "reallocate")
        assert reallocation["what"].startswith("Moved series 'Lung 1mm' (2 images) from study "
                                               "'CT CHEST 2024-01-10' (ACC001) to 'CT HEAD")
        assert "of DOE, John" in reallocation["what"]
        search(qtbot, cm.panes[0], "ACC001")

        # Undo in the Content Manager: asked in words, undone, both windows show it
        said = _undo_through(qtbot, cm.history, moved.change_id)
        assert "Undo this reallocation?" in said and "'Lung 1mm'" in said
        assert "goes back to study 'CT CHEST 2024-01-10' (ACC001)" in said and not UID.search(said)
        for history in (cm.history, window.history):
            qtbot.waitUntil(lambda h=history: _newest_is_undo_of(h, moved.change_id), timeout=20000)
        qtbot.waitUntil(lambda: "Lung 1mm" in tree_of(cm.panes[0]).get("ACC001", []), timeout=20000)
        qtbot.waitUntil(lambda: not window.model.is_searching() and window.model.study(
            row_of(window, accession_number="ACC001"))["series_count"] == 3, timeout=20000)   # the worklist too
        assert "Change " in cm.status.text() and "undone" in cm.status.text()

        # the same from the main window's dock: the Content Manager follows
        said = _undo_through(qtbot, window.history, merged)
        assert "Undo this study merge?" in said and "split out again" in said
        qtbot.waitUntil(lambda: _newest_is_undo_of(cm.history, merged), timeout=20000)
        qtbot.waitUntil(lambda: window.model.rowCount() == 4 and not window.model.is_searching())
        search(qtbot, cm.panes[1], patient_id="P003", scope="All studies")
        assert list(tree_of(cm.panes[1])) == ["ACC004"]
        for history in (cm.history, window.history):
            assert [c["undone"] for c in history.changes] == [False, False, True, True]
            assert not history.undo_button.isEnabled()   # the newest is an undo
    finally:
        close_cm(cm)


def test_the_history_names_studies_and_series_never_uids(qtbot, make_window, loaded_home):
    from app.changes import trash
    from app.changes.reallocate import reallocate_series

    lung = cached_uid(loaded_home, "series", "series_description", "Lung 1mm")
    acc002 = cached_uid(loaded_home, "studies", "accession_number", "ACC002")
    acc003 = cached_uid(loaded_home, "studies", "accession_number", "ACC003")
    _as_admin(loaded_home, lambda db, user: reallocate_series(loaded_home, db, user, [lung], acc002))
    deleted = _as_admin(loaded_home, lambda db, user: trash.delete(loaded_home, db, user, acc003, "misfiled"))
    _as_admin(loaded_home, lambda db, user: trash.restore(loaded_home, db, user, acc003))
    window = make_window(loaded_home)
    history = window.history
    qtbot.waitUntil(lambda: len(history.changes) == 3 and not history.is_loading())
    table = history.table
    shown = [table.item(r, c).text() for r in range(table.rowCount()) for c in range(table.columnCount())]
    shown += [table.item(r, c).toolTip() for r in range(table.rowCount()) for c in range(table.columnCount())]
    assert shown and not any(UID.search(text) for text in shown), shown
    assert history.changes[0]["what"] == \
        "Restored study 'MR BRAIN 2022-06-15' (ACC003) of SMITH, Anna from the trash"
    assert history.changes[1]["what"].startswith("Moved study") and "to the trash" in history.changes[1]["what"]
    assert history.changes[1]["reason"] == "misfiled" and history.changes[1]["change_id"] == deleted
    assert history.changes[2]["label"] == "Reallocate series"
    history.select_change(history.changes[2]["change_id"])
    box = history.ask_undo()
    assert box.isVisible() and not UID.search(box.informativeText())
    box.reject()


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
    box = admin_window.history.trash.ask_empty()
    assert "for good" in box.text()
    with qtbot.waitSignal(admin_window.history.changed, timeout=20000):
        _click(box.findChild(QPushButton, "confirmButton"))
    qtbot.waitUntil(lambda: admin_window.history.trashed == [] and
                    admin_window.history.tabText(1) == "Trash")
    assert "Erased 2 studies" in admin_window.history.trash_note.text()
    # the deletes stay in the history, no longer undoable
    changes = admin_window.history
    qtbot.waitUntil(lambda: [changes.table.item(r, 3).text() for r in range(changes.table.rowCount())]
                    == ["Delete  (erased)"] * 2)
    assert changes.select_change(changes.changes[0]["change_id"])
    assert not changes.undo_button.isEnabled() and "erased" in changes.undo_button.toolTip()
    # the first window's trash follows (one broadcast for every view of the home)
    qtbot.waitUntil(lambda: history.trashed == [] and history.tabText(1) == "Trash")


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
    from app.accounts import audit
    from app.changes import journal, trash

    uid = cached_uid(loaded_home, "studies", "accession_number", "ACC004")
    change = _as_admin(loaded_home, lambda db, user: trash.delete(loaded_home, db, user, uid, "misfiled"))
    clerk = add_user(loaded_home, "clara", ["clerk"])
    window = make_window(loaded_home, clerk)
    history = window.history
    qtbot.waitUntil(lambda: history.select_change(change))
    assert not history.undo_button.isEnabled()
    with qtbot.waitSignal(history.changed, timeout=20000):
        history.undo(change)
    qtbot.waitUntil(lambda: "refused" in history.note.text())
    assert "content-management" in history.note.text()
    assert "refused" in window.last_message   # told in the status bar too, no box
    db = loaded_home.connect()
    try:
        assert journal.history(db)[0]["state"] == "applied"   # nothing undone
        refused = [e for e in audit.entries(db) if e["user"] == "clara" and e["action"] == "undo"]
        assert [(e["action"], e["outcome"], e["outcome_code"]) for e in refused] == \
            [("undo", audit.SERIOUS_FAILURE, 8)]
        assert uid in refused[0]["objects"] and audit.verify(db) is None
    finally:
        db.close()
