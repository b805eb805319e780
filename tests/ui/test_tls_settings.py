"""The TLS page of the settings dialog: a certificate, its key and the trusted
certificates, checked with the ssl module on Save and kept in the settings;
a listener started afterwards runs over TLS and answers an Echo over TLS.

Certificates are generated per test (tests/net/conftest.py self_signed:
the cryptography package when installed, else the openssl command)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.accounts import audit
from app.net import nodes
from tests.net.conftest import self_signed
from tests.ui.conftest import add_user
from ui.shell.settings_dialog import SettingsDialog

WAIT = 15000  # ms; never reached when green


@pytest.fixture
def pair(tmp_path) -> tuple[Path, Path]:
    return self_signed(_folder(tmp_path / "ours"))


@pytest.fixture
def other_pair(tmp_path) -> tuple[Path, Path]:
    return self_signed(_folder(tmp_path / "theirs"))


def _folder(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def tls_page(qtbot, window):
    dialog = window.open_settings()
    page = dialog.tls
    qtbot.waitUntil(lambda: page.is_loaded, timeout=WAIT)
    dialog.tabs.setCurrentWidget(page)
    return dialog, page


def fill(page, certificate="", key="", ca="", listen=False) -> None:
    for name, value in (("certificate", certificate), ("key", key), ("ca", ca)):
        page.edits[name].setText(str(value))
    page.listen_check.setChecked(listen)


def save_refused(qtbot, page) -> str:
    """Click Save and wait for the refusal; returns what the page says."""
    page.save_button.click()
    qtbot.waitUntil(lambda: page.note.text().startswith("Not saved"), timeout=WAIT)
    assert page.save_button.isEnabled()
    return page.note.text()


def test_a_certificate_and_key_picked_in_the_dialog_are_checked_and_saved(qtbot, make_window, home,
                                                                         pair, monkeypatch):
    cert, key = pair
    window = make_window(home)
    dialog, page = tls_page(qtbot, window)
    assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == "TLS"
    assert [e.text() for e in page.edits.values()] == ["", "", ""] and not page.listen_check.isChecked()
    # the file pickers fill the fields
    picked = iter([str(cert), str(key), str(cert)])
    monkeypatch.setattr("ui.shell.tls_page.QFileDialog.getOpenFileName",
                        lambda *args: (next(picked), "PEM files (*.pem *.crt *.cer *.key)"))
    for name in ("certificate", "key", "ca"):
        page.browse[name].click()
    assert [page.edits[n].text() for n in ("certificate", "key", "ca")] == [str(cert), str(key), str(cert)]
    page.listen_check.setChecked(True)
    with qtbot.waitSignal(dialog.tls_saved, timeout=WAIT) as saved:
        page.save_button.click()
    assert saved.args[0] == {"certificate": str(cert), "key": str(key), "ca": str(cert), "listen": True}
    assert page.note.text() == "Saved: the certificate and key belong together; the listener runs over TLS"
    assert home.settings()["tls"] == {"certificate": str(cert), "key": str(key), "ca": str(cert),
                                      "listen": True}
    db = home.connect()
    try:
        entry = [e for e in audit.entries(db) if e["action"] == "config-set"][-1]
    finally:
        db.close()
    assert "tls" in entry["objects"] and str(cert) in entry["detail"]
    # a new dialog shows what was saved
    again = SettingsDialog(home, window.user, window.runner)
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.tls.is_loaded, timeout=WAIT)
    assert again.tls.edits["key"].text() == str(key) and again.tls.listen_check.isChecked()


def test_a_missing_file_is_named(qtbot, make_window, home, pair):
    cert, key = pair
    window = make_window(home)
    _, page = tls_page(qtbot, window)
    missing = cert.parent / "gone.pem"
    fill(page, missing, key)
    assert save_refused(qtbot, page) == f"Not saved: TLS certificate {missing}: no such file"
    assert page.problem_fields() == ["certificate"]
    fill(page, cert, key, cert.parent / "ca-gone.pem")
    assert save_refused(qtbot, page) == f"Not saved: Trusted certificates {cert.parent / 'ca-gone.pem'}: no such file"
    assert page.problem_fields() == ["ca"]
    assert "tls" not in home.settings()


def test_a_key_chosen_as_the_certificate_is_not_a_pem_certificate(qtbot, make_window, home, pair):
    cert, key = pair
    window = make_window(home)
    _, page = tls_page(qtbot, window)
    fill(page, key, key)
    said = save_refused(qtbot, page)
    assert said.startswith(f"Not saved: TLS certificate {key}: not a PEM certificate")
    fill(page, cert, cert)  # and the other way round
    assert save_refused(qtbot, page).startswith(f"Not saved: TLS key {cert}: not a PEM private key")
    assert "tls" not in home.settings()


def test_a_key_of_another_certificate_does_not_match(qtbot, make_window, home, pair, other_pair):
    cert, _key = pair
    _other_cert, other_key = other_pair
    window = make_window(home)
    _, page = tls_page(qtbot, window)
    fill(page, cert, other_key)
    assert save_refused(qtbot, page) == f"Not saved: TLS key {other_key}: does not match the certificate {cert}"
    assert page.problem_fields() == ["key"]
    page.edits["key"].setFocus()
    qtbot.keyClick(page.edits["key"], "x")  # editing the field clears its mark
    assert page.problem_fields() == []
    fill(page, "", "", "", listen=True)
    assert "needs this workstation's certificate and key" in save_refused(qtbot, page)
    assert "tls" not in home.settings()


def test_after_saving_the_listener_runs_over_tls_and_answers_an_echo_over_tls(qtbot, make_window, home,
                                                                             admin, pair, free_port):
    cert, key = pair
    port = free_port()
    home.set_setting("port", str(port))
    db = home.connect()
    try:  # this workstation itself, over TLS (the listener accepts its own AE from here)
        nodes.add_node(db, admin, "self", "STUDYDESK", "127.0.0.1", port, tls=True)
    finally:
        db.close()
    window = make_window(home)
    dialog, page = tls_page(qtbot, window)
    fill(page, cert, key, cert, listen=True)
    with qtbot.waitSignal(dialog.tls_saved, timeout=WAIT):
        page.save_button.click()
    window.listener_action.trigger()
    qtbot.waitUntil(lambda: window.listener.listening, timeout=WAIT)
    assert window.listener_label.text() == f"Listening on port {port} (TLS)"
    nodes_page = dialog.nodes_page
    qtbot.waitUntil(lambda: bool(nodes_page.nodes), timeout=WAIT)
    nodes_page.select("self")
    with qtbot.waitSignal(nodes_page.echoed, timeout=WAIT) as echoed:
        nodes_page.echo_button.click()
    assert echoed.args[1].startswith("self answered in"), echoed.args[1]


def test_others_see_the_tls_settings_read_only_with_the_reason(qtbot, make_window, home):
    clerk = add_user(home, "frontdesk", ["clerk"])
    window = make_window(home, clerk)
    _, page = tls_page(qtbot, window)
    for widget in page._inputs():
        assert not widget.isEnabled()
        assert "configure privilege" in widget.toolTip()
    assert "configure privilege" in page.note.text()
