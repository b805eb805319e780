"""The Content Manager window: both panes search, a series is dragged onto a
study through the real drag-and-drop path, the confirmation appears, the
trees update, the history shows the change and undoes it."""

from __future__ import annotations

import pydicom
import pytest
from PySide6.QtWidgets import QPushButton

from app import store
from app.accounts import accounts
from tests.ui.cm_helpers import (close_cm, confirm, confirmation, drag_and_drop, open_cm, search,
                                 series_node, study_node, tree_of)


def undo_newest(qtbot, cm) -> None:
    """Undo in the history panel the way a user does: the newest change is
    selected, Undo asks, the answer is Undo."""
    qtbot.waitUntil(cm.history.undo_button.isEnabled, timeout=20000)
    cm.history.undo_button.click()
    box = cm.history.question
    assert box is not None and "Undo puts it back" in box.informativeText()
    box.findChild(QPushButton, "confirmButton").click()


@pytest.fixture
def cm(qtbot, qapp, loaded_home, admin):
    window = open_cm(qtbot, qapp, loaded_home, admin)
    yield window
    close_cm(window)


def test_both_panes_search_with_scopes_and_accession_first(qtbot, cm):
    left, right = cm.panes
    assert cm.focusWidget() is left.accession
    assert cm.is_split()
    search(qtbot, left, "ACC001")                         # All patients: DOE's two studies
    assert tree_of(left) == {"ACC001": ["Axial 5mm", "Lung 1mm", "Contours"],
                             "ACC002": ["Head axial"]}
    search(qtbot, right, "ACC001", scope="All studies")   # only the study that matches
    assert list(tree_of(right)) == ["ACC001"]
    search(qtbot, right, patient_id="P00*", scope="All studies")
    assert sorted(tree_of(right)) == ["ACC001", "ACC002", "ACC003", "ACC004"]
    right.modality.setCurrentText("MR")
    with qtbot.waitSignal(right.searched, timeout=10000):
        right.search()
    assert list(tree_of(right)) == ["ACC003"]
    assert "1 patient, 1 study" in right.count.text()
    cm.split_action.trigger()
    assert not cm.is_split() and cm.visible_panes() == [left]
    cm.split_action.trigger()
    assert cm.is_split()


def test_model_passes_qtmodeltester(qtmodeltester, cm):
    qtmodeltester.check(cm.panes[0].model, force_py=True)


def test_drag_series_onto_study_then_undo(qtbot, cm, loaded_home):
    left, right = cm.panes
    search(qtbot, left, "ACC001", scope="All studies")
    search(qtbot, right, "ACC002", scope="All studies")
    lung = series_node(left, "Lung 1mm").uid
    drop = drag_and_drop(left, [lung], right, "ACC002")
    assert drop.isAccepted()
    dialog = confirmation(qtbot, cm)
    assert dialog.banner.property("level") == "ok" and dialog.ok.isEnabled()
    assert dialog.preview.destination["accession_number"] == "ACC002"
    dialog.reason.setText("filed under the wrong exam")
    outcome = confirm(qtbot, cm, dialog)
    assert outcome.series == [lung]
    assert tree_of(left) == {"ACC001": ["Axial 5mm", "Contours"]}
    assert tree_of(right) == {"ACC002": ["Head axial", "Lung 1mm"]}
    assert study_node(right, "ACC002").data["instance_count"] == 4
    db = loaded_home.connect()
    for (path,) in db.execute("SELECT path FROM instances WHERE series_instance_uid = ?", [lung]):
        ds = pydicom.dcmread(store.absolute(loaded_home, path))
        assert (ds.AccessionNumber, ds.StudyDescription) == ("ACC002", "CT HEAD")
    db.close()
    qtbot.waitUntil(lambda: cm.history.changes and cm.history.changes[0]["action"] == "reallocate")
    row = cm.history.changes[0]
    assert row["what"].startswith("Moved series 'Lung 1mm' (2 images) from study 'CT CHEST 2024-01-10' "
                                  "(ACC001) to 'CT HEAD 2023-03-05' (ACC002)")
    assert row["reason"] == "filed under the wrong exam"
    undo_newest(qtbot, cm)
    qtbot.waitUntil(lambda: cm.history.changes and cm.history.changes[0]["action"] == "undo"
                    and not cm.is_busy(), timeout=20000)
    qtbot.waitUntil(lambda: tree_of(left) == {"ACC001": ["Axial 5mm", "Lung 1mm", "Contours"]}
                    and tree_of(right) == {"ACC002": ["Head axial"]}, timeout=20000)
    assert cm.history.changes[1]["undone"]
    cm.history.select_change(cm.history.changes[1]["change_id"])
    assert not cm.history.undo_button.isEnabled()


def test_same_pane_drop_and_own_study_refused(qtbot, cm):
    left = cm.panes[0]
    search(qtbot, left, "ACC002")                         # DOE: ACC001 and ACC002
    axial = series_node(left, "Axial 5mm").uid
    drop = drag_and_drop(left, [axial], left, "ACC001")   # its own study: not a target
    assert not drop.isAccepted() and cm.actions.dialog is None
    drag_and_drop(left, [axial], left, "ACC002")
    outcome = confirm(qtbot, cm, confirmation(qtbot, cm))
    assert outcome.destination == study_node(left, "ACC002").uid
    assert sorted(tree_of(left)["ACC002"]) == ["Axial 5mm", "Head axial"]


def test_across_patients_is_red_and_needs_a_typed_reason(qtbot, cm, loaded_home):
    left, right = cm.panes
    search(qtbot, left, "ACC004")                          # BROWN^PETER
    search(qtbot, right, "ACC002", scope="All studies")    # DOE^JOHN
    portal = series_node(left, "Portal venous").uid
    drag_and_drop(left, [portal], right, "ACC002")
    dialog = confirmation(qtbot, cm)
    assert dialog.banner.property("level") == "red"
    assert "Different patients" in dialog.banner.text()
    assert not dialog.ok.isEnabled()
    dialog.reason.setText("   ")
    assert not dialog.ok.isEnabled()
    dialog.reason.setText("wrong patient selected at the modality")
    assert dialog.ok.isEnabled()
    confirm(qtbot, cm, dialog)
    assert tree_of(left) == {}                              # BROWN's only study left empty: gone
    assert sorted(tree_of(right)["ACC002"]) == ["Head axial", "Portal venous"]
    db = loaded_home.connect()
    path = db.execute("SELECT path FROM instances WHERE series_instance_uid = ?", [portal]).fetchone()[0]
    db.close()
    assert pydicom.dcmread(store.absolute(loaded_home, path)).PatientID == "P001"


def test_keyboard_reallocate_to(qtbot, cm):
    left, right = cm.panes
    search(qtbot, left, "ACC001", scope="All studies")
    search(qtbot, right, "ACC003", scope="All studies")
    node = series_node(left, "Lung 1mm")
    left.select("series", node.uid)
    menu = cm.actions.menu(node, left.selected_series())
    action = next(a for a in menu.actions() if a.objectName() == "reallocateTo")
    assert action.isEnabled()
    action.trigger()
    qtbot.waitUntil(lambda: cm.actions.dialog is not None and cm.actions.dialog.isVisible())
    chooser = cm.actions.dialog
    assert chooser.objectName() == "studyChooser"
    labels = [chooser.list.item(i).text() for i in range(chooser.list.count())]
    assert len(labels) == 1 and "ACC003" in labels[0]      # its own study is not offered
    chooser.filter.setText("acc003")
    chooser.accept()
    dialog = confirmation(qtbot, cm)
    dialog.reason.setText("keyboard")
    confirm(qtbot, cm, dialog)
    assert sorted(tree_of(right)["ACC003"]) == ["Lung 1mm", "T2 axial"]


def test_dependents_are_listed_and_move_along(qtbot, qapp, home, tmp_path, admin):
    from app.demo import generate_demo
    from app.importing.importer import import_paths

    generate_demo(tmp_path / "demo", patients=2)
    import_paths(home, [tmp_path / "demo"], admin.name)
    window = open_cm(qtbot, qapp, home, admin)
    try:
        left, right = window.panes
        search(qtbot, left, "ACC10011")                      # the RT planning study
        search(qtbot, right, "ACC10022", scope="All studies")
        ct = series_node(left, "RT Planning CT 3mm").uid
        drag_and_drop(left, [ct], right, "ACC10022")
        dialog = confirmation(qtbot, window)
        assert [s["modality"] for s in dialog.preview.dependents] == \
            ["RTSTRUCT", "RTPLAN", "RTDOSE", "RTPLAN", "RTDOSE"]
        assert dialog.dependents.isChecked() and "5 series refer to it" in dialog.dependents.text()
        dialog.reason.setText("demo: the whole RT chain")
        outcome = confirm(qtbot, window, dialog)
        assert len(outcome.series) == 6 and outcome.left_behind == []
        assert "ACC10011" not in tree_of(left)
        assert len(tree_of(right)["ACC10022"]) == 2 + 6
    finally:
        close_cm(window)


def test_read_only_user_cannot_drag(qtbot, qapp, loaded_home, admin):
    db = loaded_home.connect()
    reader = accounts.add_user(db, admin, "rob", ["radiologist"])
    db.close()
    window = open_cm(qtbot, qapp, loaded_home, reader)
    try:
        left = window.panes[0]
        search(qtbot, left, "ACC001")
        node = series_node(left, "Lung 1mm")
        index = left.model.index_of("series", node.uid)
        assert not left.model.flags(index) & left.model.flags(index).ItemIsDragEnabled
        action = next(a for a in window.actions.menu(node, []).actions()
                      if a.objectName() == "reallocateTo")
        assert not action.isEnabled() and "content-management privilege" in action.toolTip()
        assert not window.reallocate_action.isEnabled()
        assert "(read only)" in window.user_label.text()
        assert not window.history.undo_button.isEnabled()
    finally:
        close_cm(window)


def test_open_from_the_main_window_uses_its_runner(qtbot, window, admin):
    from ui.changes.content_manager import ContentManager, open_content_manager

    cm = open_content_manager(window, window.home, admin)
    try:
        assert isinstance(cm, ContentManager) and cm.runner is window.runner and cm.isVisible()
        qtbot.waitUntil(lambda: not cm.is_busy(), timeout=20000)
        assert open_content_manager(window, window.home, admin) is cm   # raised, not a second one
        qtbot.waitUntil(lambda: not cm.is_busy(), timeout=20000)
    finally:
        cm.close()
