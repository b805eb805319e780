"""The window applies the plan the user confirmed, or refuses it: a study
locked by another user while the confirmation is open is named in the
refusal, and nothing moves."""

from __future__ import annotations

from app.accounts import accounts
from app.changes import locks
from tests.ui.cm_helpers import (cached_uid, close_cm, confirmation, drag_and_drop, open_cm, refusal,
                                 search, series_node, tree_of)


def test_a_lock_taken_while_the_confirmation_is_open_refuses_the_move(qtbot, qapp, loaded_home, admin):
    db = loaded_home.connect()
    chris = accounts.add_user(db, admin, "chris", ["content-manager"])
    db.close()
    window = open_cm(qtbot, qapp, loaded_home, admin)
    try:
        left, right = window.panes
        search(qtbot, left, "ACC001", scope="All studies")
        search(qtbot, right, "ACC002", scope="All studies")
        drag_and_drop(left, [series_node(left, "Lung 1mm").uid], right, "ACC002")
        dialog = confirmation(qtbot, window)
        db = loaded_home.connect()                     # chris, at another workstation
        locks.lock(db, chris, cached_uid(loaded_home, "studies", "accession_number", "ACC002"))
        db.close()
        dialog.ok.click()
        text = refusal(qtbot, window)
        assert "ACC002" in text and "was locked by chris since you opened the preview" in text
        assert "Unlock study" in text
        assert "Lung 1mm" in tree_of(left)["ACC001"] and "Lung 1mm" not in tree_of(right)["ACC002"]
        db = loaded_home.connect()
        try:
            assert db.execute("SELECT count(*) FROM changes").fetchone() == (0,)
            assert db.execute("SELECT outcome FROM audit WHERE action = 'reallocate'").fetchall() == \
                [("minor failure",)]
        finally:
            db.close()
    finally:
        close_cm(window)
