"""The Nodes settings page: list, add, remove, and Echo with its round-trip
(against a real listener of our own on loopback)."""

from __future__ import annotations

import pytest

from app.net import nodes
from app.net.listener import Listener
from ui.net.nodes_page import NodesPage

WAIT = 10000  # ms; never reached when green


@pytest.fixture
def page(qtbot, home, admin):
    page = NodesPage(home, admin)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.loads == 1, timeout=WAIT)
    yield page
    page.runner.shutdown()


def add(home, admin, *args, **kwargs):
    db = home.connect()
    try:
        return nodes.add_node(db, admin, *args, **kwargs)
    finally:
        db.close()


def reload(qtbot, page):
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.refresh()


def test_lists_the_configured_nodes(qtbot, page, home, admin):
    add(home, admin, "pacs", "ORTHANC", "10.0.0.5", 4242, tls=True, purposes=["query-retrieve"])
    reload(qtbot, page)
    assert page.table.rowCount() == 1
    cells = [page.table.item(0, c).text() for c in range(page.table.columnCount())]
    assert cells == ["pacs", "ORTHANC", "10.0.0.5", "4242", "yes", "query-retrieve"]
    assert not page.echo_button.isEnabled()  # nothing selected yet


def test_add_and_remove_through_the_form(qtbot, page, home):
    page.name_edit.setText("archive")
    page.aet_edit.setText("ARCHIVE")
    page.host_edit.setText("127.0.0.1")
    page.port_edit.setValue(11112)
    page.purpose_checks["legacy"].setChecked(True)
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.add_button.click()
    assert [n.name for n in page.nodes] == ["archive"]
    assert "legacy" in page.nodes[0].purposes
    page.select("archive")
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.remove_button.click()
    assert page.table.rowCount() == 0
    db = home.connect()
    assert nodes.list_nodes(db) == []


def test_a_bad_entry_is_explained_not_added(qtbot, page):
    page.name_edit.setText("bad")
    page.aet_edit.setText("")
    page.host_edit.setText("h")
    page.add_button.click()
    qtbot.waitUntil(lambda: "AE title" in page.form_note.text(), timeout=WAIT)
    assert page.table.rowCount() == 0


@pytest.mark.network
def test_echo_shows_the_round_trip(qtbot, page, home, admin, free_port):
    port = free_port()
    add(home, admin, "self", "STUDYDESK", "127.0.0.1", port)  # ourselves: the listener knows us
    with Listener(home, admin.name, port, host="127.0.0.1"):
        reload(qtbot, page)
        page.select("self")
        assert page.echo_button.isEnabled()
        with qtbot.waitSignal(page.echoed, timeout=WAIT) as signal:
            page.echo_button.click()
    assert signal.args[0] == "self"
    assert "answered in" in page.echo_result.text() and "ms" in page.echo_result.text()


@pytest.mark.network
def test_echo_of_a_silent_node_says_so(qtbot, page, home, admin, free_port):
    add(home, admin, "gone", "NOBODY", "127.0.0.1", free_port())
    reload(qtbot, page)
    page.select("gone")
    with qtbot.waitSignal(page.echoed, timeout=WAIT):
        page.echo_button.click()
    assert "no answer" in page.echo_result.text()
