"""The Content Manager's Admin scope (content managers only): every study,
trashed, locked by others and migrated ones too, each with its state shown;
dragging still obeys the rules. And the AI rescan after a reallocation is
sent at once in the background, a failure told in a box that does not block,
naming the study and the node, the entry left in the outbox."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.accounts import accounts
from app.changes import view as content
from app.net.outbox import queue as outbox
from app.changes import locks, migrated, trash
from app.errors import NotAllowed
from app.net.nodes import add_node
from app.worklist.query import Query
from tests.ui.cm_helpers import (cached_uid, close_cm, confirm, confirmation, drag_and_drop, open_cm, refusal,
                                 search, series_node, study_node, tree_of)
from tests.ui.test_content_manager_rules import _ai_sr


@pytest.fixture
def users(loaded_home, admin):
    db = loaded_home.connect()
    made = {"carla": accounts.add_user(db, admin, "carla", ["content-manager"]),
            "chris": accounts.add_user(db, admin, "chris", ["content-manager"]),
            "rob": accounts.add_user(db, admin, "rob", ["radiologist"])}
    db.close()
    return made


def _states(home, admin, users) -> dict[str, str]:
    """ACC002 in the trash, ACC003 locked by chris, ACC004 migrated."""
    uid = {acc: cached_uid(home, "studies", "accession_number", acc) for acc in ("ACC002", "ACC003", "ACC004")}
    db = home.connect()
    try:
        trash.delete(home, db, admin, uid["ACC002"], "misfiled test")
        locks.lock(db, users["chris"], uid["ACC003"])
        migrated.mark(db, admin, uid["ACC004"])
    finally:
        db.close()
    return uid


def _status(pane, accession: str) -> str:
    node = study_node(pane, accession)
    return pane.model.data(pane.model.index_of("study", node.uid).siblingAtColumn(5))


def test_admin_scope_shows_every_study_with_its_state_and_drags_obey_the_rules(
        qtbot, qapp, loaded_home, admin, users):
    uid = _states(loaded_home, admin, users)
    window = open_cm(qtbot, qapp, loaded_home, users["carla"])
    try:
        left, right = window.panes
        search(qtbot, left)                                  # All patients: no trashed study
        assert "ACC002" not in tree_of(left)
        search(qtbot, right, scope="Admin")
        shown = tree_of(right)
        assert set(shown) == {"ACC001", "ACC002", "ACC003", "ACC004"}
        assert "in the trash" in _status(right, "ACC002")
        assert "locked by chris" in _status(right, "ACC003")
        assert "migrated" in _status(right, "ACC004")
        tip = right.model.data(right.model.index_of("study", uid["ACC002"]), Qt.ItemDataRole.ToolTipRole)
        assert "In the trash" in tip and "restore it first" in tip
        axial = series_node(right, "Axial 5mm").uid
        drag_and_drop(right, [axial], right, "ACC002")       # into the trash: refused, clearly
        text = refusal(qtbot, window)
        assert "in the trash" in text and "ACC002" in text and "Restore it first" in text
        head = series_node(right, "Head axial").uid          # out of the trash: refused too
        drag_and_drop(right, [head], right, "ACC001")
        assert "in the trash" in refusal(qtbot, window)
        drag_and_drop(right, [axial], right, "ACC003")
        assert "locked by chris" in refusal(qtbot, window)
        drag_and_drop(right, [axial], right, "ACC004")
        assert "migrated" in refusal(qtbot, window)
        assert window.actions.dialog is None                 # no confirmation was offered
        db = loaded_home.connect()
        try:                                                 # each refused drag is audited
            refused = db.execute("SELECT outcome, detail FROM audit WHERE action = 'reallocate'"
                                 " AND user = 'carla' ORDER BY id").fetchall()
        finally:
            db.close()
        assert [o for o, _ in refused] == ["minor failure"] * 4
        assert "in the trash" in refused[0][1] and "locked by chris" in refused[2][1]
    finally:
        close_cm(window)


def test_admin_scope_is_for_content_managers_only_and_a_refusal_is_audited(qtbot, qapp, loaded_home, users):
    window = open_cm(qtbot, qapp, loaded_home, users["rob"])
    try:
        scopes = [window.panes[0].scope.itemText(i) for i in range(window.panes[0].scope.count())]
        assert "Admin" not in scopes and "All patients" in scopes
    finally:
        close_cm(window)
    db = loaded_home.connect()
    try:
        with pytest.raises(NotAllowed, match="content-management"):
            content.search_tree(db, users["rob"], Query(), content.ADMIN)
        with pytest.raises(NotAllowed):                       # a bare name is no checked user
            content.search_tree(db, "carla", Query(), content.ADMIN)
        outcomes = [r for r in db.execute("SELECT user, outcome, detail FROM audit WHERE action = 'query'"
                                          " AND detail LIKE '%Admin scope%'")]
        assert [(u, o) for u, o, _ in outcomes] == [("rob", "serious failure"), ("carla", "serious failure")]
        assert content.search_tree(db, users["carla"], Query(), content.ADMIN)["studies"] == 4
    finally:
        db.close()


def test_a_rescan_that_cannot_be_sent_is_told_at_once(qtbot, qapp, loaded_home, admin, tmp_path, free_port):
    loaded_home.set_setting("ai.algorithms", "AcmeAI")
    db = loaded_home.connect()
    add_node(db, admin, "AIBOX", "AIBOX", "127.0.0.1", free_port(), purposes=["ai"])   # nothing listens
    db.close()
    _ai_sr(tmp_path / "ai", loaded_home, "ACC001", "Axial 5mm", "acmeai")
    window = open_cm(qtbot, qapp, loaded_home, admin)
    try:
        left, right = window.panes
        search(qtbot, left, "ACC001", scope="All studies")
        search(qtbot, right, "ACC002", scope="All studies")
        axial = series_node(left, "Axial 5mm").uid
        drag_and_drop(left, [axial], right, "ACC002")
        confirm(qtbot, window, confirmation(qtbot, window))
        qtbot.waitUntil(lambda: any(b.objectName() == "cmRescanFailed" for b in window.actions.boxes()),
                        timeout=30000)
        box = next(b for b in window.actions.boxes() if b.objectName() == "cmRescanFailed")
        assert box.isVisible() and box.windowModality() == Qt.WindowModality.NonModal  # window stays usable
        text = box.informativeText()
        assert "AIBOX" in text and "ACC002" in text and "Outbox" in text
        assert window.actions.last_rescans and not window.actions.last_rescans[0]["sent"]
    finally:
        close_cm(window)
    db = loaded_home.connect()
    (entry,) = outbox.entries(db)
    db.close()
    assert (entry["kind"], entry["state"], entry["node"]) == ("ai-rescan", "failed", "AIBOX")
