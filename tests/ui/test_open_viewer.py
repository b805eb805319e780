"""Opening the viewer from every place that lists studies or series, as a
user does: a double-click on a worklist study (its first series with
images; a study without any says so in the status bar), on a series card of
the strip, on a series in the Content Manager's tree, and a double-click or
View in the research Edit dialog's table. Each opens a window of its own at
once, several stay open side by side, and they close with the main window.

Every check is on what the viewer shows: the series its first pane opened
and its first image painted (the viewport's ``shown`` signal).
"""

from __future__ import annotations

import gc

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.ui.cm_helpers import close_cm, open_cm, search
from tests.ui.conftest import StudySpec, click_row, row_of, write_studies
from tests.ui.test_research_support import (open_edit, research_home,  # noqa: F401
                                            research_window, rt_files)
from ui.viewer.launch import launches, viewers_of

TIMEOUT = 20000

SPECS = (
    # the structure set comes first: a double-click passes over it
    StudySpec("GREEN^OLIVE", "P101", "19590412", "20240905", "ACC101", "CT PLANNING",
              (("RTSTRUCT", 1, "Contours", 0), ("CT", 2, "Planning CT", 3), ("CT", 3, "Scout", 2))),
    StudySpec("GREEN^OLIVE", "P101", "19590412", "20240906", "ACC102", "RT STRUCTURES ONLY",
              (("RTSTRUCT", 1, "Contours only", 0),)),
)


@pytest.fixture(scope="module")
def viewer_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("open-viewer")
    return folder, write_studies(folder, SPECS)


@pytest.fixture
def viewer_home(home, viewer_files):
    from app.home import os_login
    from app.importing.importer import import_paths

    result = import_paths(home, [viewer_files[0]], os_login())
    assert not result.rejected, result.rejected
    return home


def series_uid(home, description: str) -> str:
    db = home.connect()
    try:
        return db.execute("SELECT series_instance_uid FROM series WHERE series_description = ?",
                          [description]).fetchone()[0]
    finally:
        db.close()


def opened_viewer(qtbot, action):
    """Run *action* (a double-click...), wait for the viewer window it opens
    and for that window's first image painted; return the window."""
    with qtbot.waitSignal(launches().opened, timeout=TIMEOUT) as opened:
        action()
    window = opened.args[0]
    viewport = window.panes[0].viewport
    with qtbot.waitSignal(viewport.shown, check_params_cb=lambda index: index == 0, timeout=TIMEOUT):
        pass  # the series is read, its first image decoded and painted
    assert window.isVisible() and viewport.current() is not None
    return window


def double_click(view, index) -> None:
    """A user's double-click on *index* of an item view: a press and release,
    then the second press the system reports as a double-click."""
    view.scrollTo(index)
    centre = view.visualRect(index).center()
    for click in (QTest.mouseClick, QTest.mouseDClick):
        click(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)


def double_click_row(window, row: int) -> None:
    from ui.worklist.model import column_index

    double_click(window.table, window.model.index(row, column_index("patient_name")))


def test_double_click_on_a_study_opens_its_first_series_with_images(qtbot, make_window, viewer_home):
    window = make_window(viewer_home)
    row = row_of(window, accession_number="ACC101")
    viewer = opened_viewer(qtbot, lambda: double_click_row(window, row))
    assert viewer.panes[0].series_uid == series_uid(viewer_home, "Planning CT")
    assert viewer.panes[0].viewport.count == 3 and viewer.panes[0].viewport.state.index == 0
    assert viewer.parent() is window and viewers_of(window) == [viewer]

    # a study of structures only: the status bar says so, nothing waits, no window opens
    row = row_of(window, accession_number="ACC102")
    double_click_row(window, row)
    qtbot.waitUntil(lambda: "no series with images" in window.last_message, timeout=TIMEOUT)
    assert QApplication.activeModalWidget() is None
    assert viewers_of(window) == [viewer]


def test_double_click_on_a_series_card_opens_that_series(qtbot, make_window, viewer_home):
    window = make_window(viewer_home)
    with qtbot.waitSignal(window.strip.loaded, timeout=TIMEOUT):
        click_row(window, row_of(window, accession_number="ACC101"))
    scout = series_uid(viewer_home, "Scout")
    card = window.strip.card(scout)
    viewer = opened_viewer(qtbot, lambda: QTest.mouseDClick(card, Qt.MouseButton.LeftButton))
    assert viewer.panes[0].series_uid == scout and viewer.panes[0].viewport.count == 2


def test_several_viewers_stay_open_and_close_with_the_main_window(qtbot, make_window, viewer_home):
    window = make_window(viewer_home)
    first = opened_viewer(qtbot, lambda: window.view_series(series_uid(viewer_home, "Planning CT")))
    second = opened_viewer(qtbot, lambda: window.view_series(series_uid(viewer_home, "Scout")))
    gc.collect()  # the main window keeps them: nothing is collected from under the user
    assert viewers_of(window) == [first, second]
    assert first.isVisible() and second.isVisible()
    assert first.panes[0].series_uid != second.panes[0].series_uid
    window.runner.shutdown()
    window.close()
    assert not first.isVisible() and not second.isVisible()


def test_double_click_on_a_series_in_the_content_manager_opens_it(qtbot, qapp, viewer_home, admin):
    cm = open_cm(qtbot, qapp, viewer_home, admin)
    try:
        pane = search(qtbot, cm.panes[0], accession="ACC101", scope="All studies")
        index = pane.model.index_of("series", series_uid(viewer_home, "Planning CT"))
        viewer = opened_viewer(qtbot, lambda: double_click(pane.tree, index))
        assert viewer.panes[0].series_uid == series_uid(viewer_home, "Planning CT")
        assert viewers_of(cm) == [viewer]
    finally:
        close_cm(cm)
    assert not viewer.isVisible()  # closed with the Content Manager that kept it


def test_research_edit_dialog_opens_a_series_by_double_click_and_view(qtbot, research_window):
    dialog = open_edit(qtbot, research_window)
    table, model = dialog.table, dialog.table.model
    row = next(r for r in range(model.rowCount()) if model.series_at(r)["modality"] == "CT")
    ct = model.series_at(row)["series_instance_uid"]
    viewer = opened_viewer(qtbot, lambda: double_click(table.view, model.index(row, model.DESCRIPTION)))
    assert viewer.panes[0].series_uid == ct

    table.view.setCurrentIndex(model.index(row, model.DESCRIPTION))
    again = opened_viewer(qtbot, lambda: qtbot.mouseClick(table.view_button, Qt.MouseButton.LeftButton))
    assert again is not viewer and again.panes[0].series_uid == ct
    for window in (viewer, again):
        window.close()
