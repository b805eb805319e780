"""The Synapse rule in the Content Manager's confirmation: before the user
confirms, the dialog says how many measurements are on the images and
whether they move (an Advanced Reporting destination) or are removed."""

from __future__ import annotations

from app.measurements import index, record
from tests.ui.cm_helpers import (cached_uid, close_cm, confirm, confirmation, drag_and_drop, open_cm,
                                 search, series_node, tree_of)


def _measure(home, user, series_uid: str, count: int) -> None:
    for n in range(count):
        record.measure_length(home, user, series_uid, 1 + n % 2, (2, 2), (20, 2 + n), f"m{n}")


def _drag_lung(qtbot, window):
    left, right = window.panes
    search(qtbot, left, "ACC001", scope="All studies")
    search(qtbot, right, "ACC002", scope="All studies")
    drag_and_drop(left, [series_node(left, "Lung 1mm").uid], right, "ACC002")
    return confirmation(qtbot, window)


def test_the_confirmation_says_they_will_be_removed(qtbot, qapp, loaded_home, admin):
    window = open_cm(qtbot, qapp, loaded_home, admin)
    try:
        search(qtbot, window.panes[0], "ACC001", scope="All studies")
        _measure(loaded_home, admin, series_node(window.panes[0], "Lung 1mm").uid, 3)
        dialog = _drag_lung(qtbot, window)
        notice = dialog.measurements
        assert notice.isVisible()
        assert notice.text() == ("3 measurements on these images will be removed: the destination "
                                 "is not an Advanced Reporting study")
        outcome = confirm(qtbot, window, dialog)
        assert (outcome.measurements.moved, outcome.measurements.removed) == (0, 3)
        db = loaded_home.connect()
        try:
            source = cached_uid(loaded_home, "studies", "accession_number", "ACC001")
            assert index.measurements_of(db, source) == []
        finally:
            db.close()
    finally:
        close_cm(window)


def test_the_confirmation_says_they_move_into_an_advanced_reporting_study(qtbot, qapp, loaded_home,
                                                                          admin):
    window = open_cm(qtbot, qapp, loaded_home, admin)
    try:
        left, right = window.panes
        search(qtbot, left, "ACC001", scope="All studies")
        search(qtbot, right, "ACC002", scope="All studies")
        _measure(loaded_home, admin, series_node(left, "Lung 1mm").uid, 3)
        _measure(loaded_home, admin, series_node(right, "Head axial").uid, 1)
        dialog = _drag_lung(qtbot, window)
        assert dialog.measurements.text() == \
            "3 measurements move with the series into this Advanced Reporting study"
        outcome = confirm(qtbot, window, dialog)
        assert (outcome.measurements.moved, outcome.measurements.removed) == (3, 0)
        qtbot.waitUntil(lambda: "Lung 1mm" in tree_of(right).get("ACC002", []), timeout=20000)
        db = loaded_home.connect()
        try:
            dest = cached_uid(loaded_home, "studies", "accession_number", "ACC002")
            assert sorted(m.label for m in index.measurements_of(db, dest)) == ["m0", "m0", "m1", "m2"]
        finally:
            db.close()
    finally:
        close_cm(window)
