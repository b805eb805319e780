"""An empty home shows what to do (import, the demo, a node) instead of a blank
table, and goes when the first study arrives; a search that finds nothing says
"No studies match" with a Clear button instead."""

from __future__ import annotations

from PySide6.QtWidgets import QPushButton

from app.net import nodes
from ui.worklist.empty_home import EMPTY, NO_MATCH

WAIT = 10000  # ms; never reached when green


def test_an_empty_home_says_what_to_do_and_the_demo_button_fills_it(qtbot, make_window, home):
    window = make_window(home)
    empty = window.empty
    qtbot.waitUntil(lambda: empty.isVisible(), timeout=WAIT)
    assert empty.state == EMPTY
    buttons = {b.text() for b in empty.findChildren(QPushButton) if b.isVisible()}
    assert buttons == {"Import files or a folder", "Open the demo studies", "Add a DICOM node in Settings"}
    assert empty.geometry() == window.table.viewport().rect()  # over the table, under its titles
    menu = [a.objectName() for a in empty.import_button.menu().actions()]
    assert menu == [a.objectName() for a in window.importer.actions.values()]  # files, folder, ZIP, DICOMDIR

    window.findChild(QPushButton, "emptyDemo").click()
    # the demo job announces its studies; the model follows the broadcast and the panel goes
    qtbot.waitUntil(lambda: window.model.rowCount() > 0 and not empty.isVisible(), timeout=60000)
    assert empty.state is None


def test_without_nodes_the_third_button_opens_the_node_settings(qtbot, make_window, home):
    window = make_window(home)
    qtbot.waitUntil(lambda: window.empty.isVisible(), timeout=WAIT)
    window.empty.retrieve_button.click()
    dialog = window.settings_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.tabs.currentWidget() is dialog.nodes_page


def test_with_a_node_the_third_button_searches_it(qtbot, make_window, home, admin, free_port):
    db = home.connect()
    try:  # a closed port on this machine: the search fails at once, harmlessly
        nodes.add_node(db, admin, "pacs", "ORTHANC", "127.0.0.1", free_port(), purposes=["query-retrieve"])
    finally:
        db.close()
    window = make_window(home)
    button = window.empty.retrieve_button
    qtbot.waitUntil(lambda: button.text() == "Retrieve from a node", timeout=WAIT)
    assert button.accessibleName() == "Retrieve from a node"
    button.click()
    assert window.scope.node() == "pacs" and window.remote.active


def test_a_search_without_match_says_so_and_clear_lists_everything(qtbot, make_window, loaded_home):
    window = make_window(loaded_home)
    assert window.model.rowCount() == 4 and not window.empty.isVisible()
    window.qbe.patient_name.setText("NOBODY*")
    with qtbot.waitSignal(window.model.searched, timeout=WAIT):
        window.qbe.request_search()
    assert window.empty.isVisible() and window.empty.state == NO_MATCH
    assert window.empty.no_match.text() == "No studies match"
    assert not window.empty.demo_button.isVisible()  # not the empty home

    window.findChild(QPushButton, "noMatchClear").click()
    qtbot.waitUntil(lambda: window.model.rowCount() == 4 and not window.empty.isVisible(), timeout=WAIT)
    assert window.qbe.patient_name.text() == ""


def test_my_studies_with_none_assigned_is_no_match_not_the_empty_home(qtbot, make_window, loaded_home):
    window = make_window(loaded_home)
    with qtbot.waitSignal(window.model.searched, timeout=WAIT):
        window.my_studies.click()
    assert window.empty.state == NO_MATCH
    window.empty.clear_button.click()
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=WAIT)
    assert window.all_studies.isChecked() and not window.empty.isVisible()
