"""The settings dialog: the Nodes page, and this workstation's AE title and port
(admins change them; anyone else sees them read-only and why)."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QAction

from app.errors import NotFound
from app.net import nodes
from tests.ui.conftest import add_user
from ui.net.listener_status import SETTING

WAIT = 10000  # ms; never reached when green


def add(home, admin, *args, **kwargs):
    db = home.connect()
    try:
        return nodes.add_node(db, admin, *args, **kwargs)
    finally:
        db.close()


def open_settings(qtbot, window):
    dialog = window.open_settings()
    qtbot.waitUntil(lambda: dialog.nodes_page.loads >= 1 and dialog.workstation.is_loaded, timeout=WAIT)
    return dialog


@pytest.fixture
def node_home(home, admin):
    add(home, admin, "pacs", "ORTHANC", "10.0.0.5", 4242, purposes=["query-retrieve"])
    add(home, admin, "printer", "STORE", "10.0.0.6", 104, purposes=["store"])
    return home


def test_the_dialog_lists_the_nodes_and_saves_the_ae_title(qtbot, make_window, node_home):
    window = make_window(node_home)
    window.findChild(QAction, "settings").trigger()  # Edit > Settings...
    dialog = window.settings_dialog
    qtbot.waitUntil(lambda: dialog.nodes_page.loads >= 1 and dialog.workstation.is_loaded, timeout=WAIT)
    assert dialog.isVisible() and dialog.tabs.tabText(0) == "DICOM nodes"
    table = dialog.nodes_page.table
    assert [table.item(r, 0).text() for r in range(table.rowCount())] == ["pacs", "printer"]
    page = dialog.workstation
    assert (page.aet_edit.text(), page.port_edit.value()) == ("STUDYDESK", 11112)
    assert page.aet_edit.isEnabled() and not page.listen_check.isChecked()
    page.aet_edit.setText("READING1")
    page.port_edit.setValue(11120)
    page.listen_check.setChecked(True)
    with qtbot.waitSignal(dialog.workstation_saved, timeout=WAIT) as saved:
        page.save_button.click()
    assert saved.args == ["READING1", 11120]
    assert node_home.get_setting("aet") == "READING1"
    assert node_home.get_setting("port") == 11120
    assert node_home.get_setting(SETTING) is True
    assert "Saved" in page.note.text()
    assert window.open_settings() is dialog  # one dialog, raised again


def test_a_bad_ae_title_is_explained_not_saved(qtbot, make_window, home):
    window = make_window(home)
    page = open_settings(qtbot, window).workstation
    page.aet_edit.setText("   ")
    page.save_button.click()
    assert "AE title" in page.note.text()
    assert home.get_setting("aet") == "STUDYDESK"
    with pytest.raises(NotFound):
        home.get_setting(SETTING)


def test_others_see_the_workstation_read_only_with_the_reason(qtbot, make_window, node_home):
    clerk = add_user(node_home, "frontdesk", ["clerk"])
    window = make_window(node_home, clerk)
    dialog = open_settings(qtbot, window)
    page = dialog.workstation
    assert page.aet_edit.text() == "STUDYDESK"
    for widget in (page.aet_edit, page.port_edit, page.listen_check, page.save_button):
        assert not widget.isEnabled()
        assert "configure privilege" in widget.toolTip() and "admin" in widget.toolTip()
    assert dialog.nodes_page.table.rowCount() == 2  # the nodes are listed to everyone
    assert not dialog.nodes_page.add_button.parentWidget().isEnabled()


def test_a_node_added_in_the_dialog_becomes_a_source(qtbot, make_window, home):
    window = make_window(home)
    assert window.scope.source.count() == 1  # the local cache only
    page = open_settings(qtbot, window).nodes_page
    page.name_edit.setText("archive")
    page.aet_edit.setText("ARCHIVE")
    page.host_edit.setText("127.0.0.1")
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.add_button.click()
    qtbot.waitUntil(lambda: window.scope.source.findData("archive") >= 0, timeout=WAIT)
    # a store-only node is no source
    page.name_edit.setText("sink")
    page.aet_edit.setText("SINK")
    page.host_edit.setText("127.0.0.1")
    page.purpose_checks["query-retrieve"].setChecked(False)
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.add_button.click()
    assert window.scope.source.findData("sink") < 0


def test_the_listener_limits_are_shown_and_saved(qtbot, make_window, home):
    from app.net.listener import Limits, read_limits

    page = open_settings(qtbot, make_window(home)).workstation
    assert page.called_check.isChecked()  # on by default
    assert (page.connections_edit.value(), page.artim_edit.value()) == (32, 15)
    page.called_check.setChecked(False)
    page.connections_edit.setValue(8)
    page.artim_edit.setValue(20)
    with qtbot.waitSignal(page.saved, timeout=WAIT):
        page.save_button.click()
    assert read_limits(home) == Limits(check_called_aet=False, max_connections=8, artim_timeout=20.0)
