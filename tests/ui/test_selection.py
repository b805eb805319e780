"""Ticking studies: the box on click, Space / Ctrl+A / Esc, the action bar and its rules."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.accounts.accounts import User
from tests.ui.conftest import add_user, check_point, click_row, row_of, tick
from ui.worklist.action_bar import action_states
from ui.worklist.model import SELECT, column_index

CHECK = Qt.ItemDataRole.CheckStateRole


def _box(window, row: int):
    return window.model.data(window.model.index(row, SELECT), CHECK)


def test_checkbox_appears_on_click_and_ticking_shows_the_bar(qtbot, window):
    row = row_of(window, accession_number="ACC003")
    assert _box(window, row) is None  # no box on a row the user has not touched
    assert not window.bar.isVisible()
    click_row(window, row)
    assert _box(window, row) == Qt.CheckState.Unchecked  # revealed, not ticked
    assert window.ticks.uids() == []
    QTest.mouseClick(window.table.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, check_point(window, row))
    assert _box(window, row) == Qt.CheckState.Checked
    qtbot.waitUntil(window.bar.isVisible)
    assert window.bar.count.text() == "1 study selected"
    other = row_of(window, accession_number="ACC004")
    tick(window, other)
    assert window.bar.count.text() == "2 studies selected"
    assert _box(window, row) == Qt.CheckState.Checked  # the first stays ticked and shown
    QTest.mouseClick(window.bar.unselect_button, Qt.MouseButton.LeftButton)
    assert not window.bar.isVisible() and len(window.ticks) == 0
    assert _box(window, row) is None and _box(window, other) == Qt.CheckState.Unchecked


def test_space_ctrl_a_and_escape(qtbot, window):
    table = window.table
    click_row(window, 1)
    table.setFocus()
    QTest.keyClick(table, Qt.Key.Key_Space)
    assert window.ticks.uids() == [window.model.study_uid(1)]
    QTest.keyClick(table, Qt.Key.Key_Space)
    assert window.ticks.uids() == []
    QTest.keyClick(table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert len(window.ticks) == 4 and window.bar.count.text() == "4 studies selected"
    assert all(_box(window, r) == Qt.CheckState.Checked for r in range(4))
    QTest.keyClick(table, Qt.Key.Key_Escape)
    assert len(window.ticks) == 0 and not window.bar.isVisible()


def test_ticks_survive_sorting_and_new_searches(qtbot, window):
    tick(window, row_of(window, accession_number="ACC003"))
    uid = window.ticks.uids()[0]
    header = window.table.horizontalHeader()
    with qtbot.waitSignal(window.model.searched):
        header.setSortIndicator(column_index("patient_name"), Qt.SortOrder.AscendingOrder)
    assert _box(window, window.model.row_of(uid)) == Qt.CheckState.Checked
    window.qbe.patient_name.setText("doe*")
    with qtbot.waitSignal(window.model.searched):
        window.qbe.request_search()
    assert window.model.row_of(uid) == -1 and window.ticks.uids() == [uid]
    assert window.bar.isVisible()
    assert window.bar.count.text() == "1 study selected  (1 not in this list)"
    with qtbot.waitSignal(window.model.searched):
        window.qbe.clear()
    assert _box(window, window.model.row_of(uid)) == Qt.CheckState.Checked
    assert window.bar.count.text() == "1 study selected"


def test_merge_needs_two_studies_of_one_patient(window):
    bar = window.bar
    tick(window, row_of(window, accession_number="ACC001"))
    assert not bar.buttons["merge"].isEnabled()
    assert "exactly two" in bar.reason("merge")
    tick(window, row_of(window, accession_number="ACC002"))  # the other study of DOE^JOHN
    assert bar.buttons["merge"].isEnabled()
    assert not bar.buttons["merge_patients"].isEnabled()
    assert "exactly two patients" in bar.reason("merge_patients")
    window.ticks.clear()
    tick(window, row_of(window, accession_number="ACC003"), row_of(window, accession_number="ACC004"))
    assert bar.buttons["merge_patients"].isEnabled()
    assert "different patients" in bar.reason("merge")
    tick(window, row_of(window, accession_number="ACC001"))  # a third patient
    assert not bar.buttons["merge_patients"].isEnabled()


def test_disabled_actions_explain_themselves(qtbot, make_window, loaded_home):
    reader = add_user(loaded_home, "drlee", ["radiologist"])
    window = make_window(loaded_home, reader)
    tick(window, row_of(window, accession_number="ACC001"), row_of(window, accession_number="ACC002"))
    bar = window.bar
    for key in ("merge", "delete", "merge_patients"):
        assert not bar.buttons[key].isEnabled()
        assert "content-management privilege" in bar.buttons[key].toolTip()
        assert "drlee has radiologist" in bar.buttons[key].toolTip()
    assert bar.buttons["assign"].isEnabled()  # radiologists may assign
    menu = window.worklist_actions.row_menu(row_of(window, accession_number="ACC001"))
    delete = menu.findChild(type(menu.actions()[0]), "menu_delete")
    assert not delete.isEnabled() and "content-management" in delete.toolTip()
    assert window.history.undo_button.toolTip().startswith("Undoing changes needs the "
                                                           "content-management privilege")


def test_rules_without_a_window():
    admin = User("ann", frozenset({"admin"}))
    one = {"study_instance_uid": "1.2.3", "patient_id": "P1", "accession_number": "A1"}
    two = {"study_instance_uid": "1.2.4", "patient_id": "P1", "accession_number": "A2", "locked_by": "bob"}
    states = action_states(admin, [one, two], {"send": "Sending is not installed."})
    assert states["merge"] == states["delete"] == \
        "The study A2 is locked by bob: they (or an admin, by unlocking) must release it first."
    assert states["send"] == "Sending is not installed."
    assert states["assign"] == ""
    assert action_states(admin, [one, None])["merge"] == "Reading the ticked studies..."
    clerk = User("cid", frozenset({"clerk"}))
    assert "needs the content-management privilege" in action_states(clerk, [one])["delete"]
    assert action_states(admin, [one, dict(two, locked_by="ann")])["merge"] == ""
