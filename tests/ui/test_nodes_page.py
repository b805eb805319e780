"""The Nodes settings page: list, add, change, remove, and Echo with its
round-trip (against a real listener of our own on loopback, and a real
Orthanc's DICOMweb plugin); a DICOMweb node added through the form."""

from __future__ import annotations

import pytest

from app.net import nodes
from app.net.listener import Listener
from tests.net.test_dicomweb import web_pacs  # noqa: F401 - the real Orthanc with its DICOMweb plugin
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
    assert cells == ["pacs", "ORTHANC", "10.0.0.5", "4242", "yes", "query-retrieve", ""]
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


def test_add_a_dicomweb_node_through_the_form(qtbot, page, home):
    page.form.kind_box.setCurrentText("DICOMweb")
    assert page.form.url_edit.isVisibleTo(page) and not page.aet_edit.isVisibleTo(page)
    assert not page.purpose_checks["worklist"].isVisibleTo(page)  # worklist is DIMSE only
    assert "never saved" in page.form.credentials_note.text()
    page.name_edit.setText("cloud")
    page.form.url_edit.setText("https://pacs.example.org/dicom-web/")
    page.form.token_env_edit.setText("CLOUD_TOKEN")
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.add_button.click()
    row = [page.table.item(0, c).text() for c in range(page.table.columnCount())]
    assert row[0] == "cloud" and row[-1] == "https://pacs.example.org/dicom-web"
    assert "Added cloud" in page.form_note.text()
    db = home.connect()
    try:
        [saved] = nodes.list_nodes(db)
    finally:
        db.close()
    assert saved.url == "https://pacs.example.org/dicom-web" and saved.token_env == "CLOUD_TOKEN"
    assert saved.aet == "" and saved.tls and saved.purposes == ("query-retrieve", "store")

    page.select("cloud")  # Edit: only store now, and no credentials
    page.edit_button.click()
    assert page.form.web and page.form.url_edit.text() == saved.url and not page.name_edit.isEnabled()
    page.purpose_checks["query-retrieve"].setChecked(False)
    page.form.token_env_edit.clear()
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.add_button.click()
    db = home.connect()
    try:
        [changed] = nodes.list_nodes(db)
    finally:
        db.close()
    assert changed.purposes == ("store",) and changed.token_env == "" and changed.url == saved.url
    assert page.add_button.text() == "Add" and page.name_edit.isEnabled()


def test_an_invalid_url_is_explained_and_nothing_saved(qtbot, page, home):
    page.form.kind_box.setCurrentText("DICOMweb")
    page.name_edit.setText("cloud")
    page.form.url_edit.setText("ftp://pacs.example.org")
    page.add_button.click()
    assert "http:// or https://" in page.form_note.text() and "--url" not in page.form_note.text()
    page.form.url_edit.setText("https://user:secret@pacs.example.org/dicom-web")
    page.add_button.click()
    assert "no credentials in the address" in page.form_note.text()
    page.form.url_edit.setText("https://pacs.example.org/dicom-web")
    page.form.token_env_edit.setText("Bearer abc123")  # a value, not a variable's name: refused by the core
    page.add_button.click()
    qtbot.waitUntil(lambda: "environment variable" in page.form_note.text(), timeout=WAIT)
    db = home.connect()
    try:
        assert nodes.list_nodes(db) == []
    finally:
        db.close()
    assert page.table.rowCount() == 0


@pytest.mark.network
def test_echo_of_a_dicomweb_node(qtbot, page, home, admin, web_pacs, monkeypatch):
    from tests.net import test_dicomweb as web

    monkeypatch.setenv(web.TOKEN_ENV, f"{web.USER}:{web.PASSWORD}")
    add(home, admin, "pacs-web", None, None, None, url=web_pacs.url, token_env=web.TOKEN_ENV)
    reload(qtbot, page)
    page.select("pacs-web")
    with qtbot.waitSignal(page.echoed, timeout=WAIT):
        page.echo_button.click()
    assert "pacs-web answered in" in page.echo_result.text()
