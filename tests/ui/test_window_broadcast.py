"""One broadcast per write: a change made in one window shows in every other
window of the same home, with nobody refreshing those by hand."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.ui.conftest import add_user, row_of, tick
from ui.worklist.model import column_index


def _accessions(window) -> list[str]:
    return sorted(window.model.study(r).get("accession_number") for r in range(window.model.rowCount()))


def test_a_delete_from_one_windows_bar_leaves_the_other_windows_worklist(qtbot, make_window, loaded_home):
    first, second = make_window(loaded_home), make_window(loaded_home)
    assert _accessions(second) == ["ACC001", "ACC002", "ACC003", "ACC004"]
    uid = first.model.study_uid(row_of(first, accession_number="ACC004"))
    second.select_study(uid)
    qtbot.waitUntil(lambda: second.strip.study_uid == uid and bool(second.strip.cards()), timeout=10000)
    tick(first, first.model.row_of(uid))
    with qtbot.waitSignal(first.worklist_actions.dialog_opened) as opened:
        QTest.mouseClick(first.bar.buttons["delete"], Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(second.model.searched, timeout=20000):
        QTest.mouseClick(opened.args[0].delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not second.model.is_searching()
                    and _accessions(second) == ["ACC001", "ACC002", "ACC003"], timeout=10000)
    assert second.model.row_of(uid) < 0 and second.strip.study_uid != uid
    assert second.count_label.text() == "3 studies"


def test_an_assignment_in_one_window_shows_in_the_others_column_and_ticks(qtbot, make_window, loaded_home):
    reader = add_user(loaded_home, "drlee", ["radiologist"])
    first, second = make_window(loaded_home, reader), make_window(loaded_home)
    uid = second.model.study_uid(row_of(second, accession_number="ACC002"))
    tick(second, second.model.row_of(uid))  # the other window's ticked row is read again too
    assigned = column_index("assigned_to")
    first.actions.assign([uid], "drlee")
    qtbot.waitUntil(lambda: second.model.data(second.model.index(second.model.row_of(uid), assigned))
                    == "drlee", timeout=20000)
    qtbot.waitUntil(lambda: (second.ticks.row(uid) or {}).get("assigned_to") == "drlee", timeout=10000)
