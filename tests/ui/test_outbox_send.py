"""The Outbox window's Send now and Choose node for held... against a real
Orthanc (tests/net/conftest.py): what the window sends is in the archive
afterwards, the entries read sent, and the status bar's indicator empties."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from app.changes.reallocate import reallocate_series
from app.importing.importer import import_paths
from app.net import nodes
from app.net.retrieve import study as retrieve
from tests.factories import uid, write_series
from tests.net import conftest as net_fixtures
from ui.net.outbox.window import FILTERS, OutboxWindow

pytestmark = pytest.mark.network

WAIT = 30000

orthanc, net_home = net_fixtures.orthanc, net_fixtures.net_home


def two_studies(folder, patient: str) -> None:
    common = dict(patient_id=patient, patient_name="OUTBOX^UMA")
    write_series(folder, 2, study="a", series="ax", accession="OUTA", **common)
    write_series(folder, 2, study="a", series="mis", accession="OUTA", **common)
    write_series(folder, 1, study="b", series="x", accession="OUTB", description="CT ABDOMEN", **common)


def move_misfiled(home, admin, patient: str) -> None:
    """IOCM on; the "mis" series of study a moved to study b: 2 corrected
    instances and 1 rejection note in the outbox."""
    home.set_setting("iocm", "true")
    db = home.connect()
    try:
        reallocate_series(home, db, admin, uid(patient, "a", "mis"), uid(patient, "b"), reason="wrong study")
    finally:
        db.close()


def in_orthanc(orthanc, sop_uid: str):
    found = orthanc.rest("/tools/find", "POST", json.dumps(
        {"Level": "Instance", "Query": {"SOPInstanceUID": sop_uid}}).encode())
    return orthanc.rest(f"/instances/{found[0]}/simplified-tags") if found else None


def show(qtbot, outbox_window, text: str) -> list[dict]:
    outbox_window.filter.setCurrentIndex([t for t, _ in FILTERS].index(text))
    qtbot.waitUntil(lambda: not outbox_window.is_loading(), timeout=WAIT)
    return outbox_window.model.entries()


def send(qtbot, outbox_window, messages: list | None = None):
    """Click Send now; wait for its end. *messages*: the job's progress, as reported."""
    assert outbox_window.send_button.isEnabled(), outbox_window.send_button.toolTip()
    with qtbot.waitSignal(outbox_window.changed, timeout=WAIT):
        qtbot.mouseClick(outbox_window.send_button, Qt.MouseButton.LeftButton)
        job = outbox_window.send_job
        assert outbox_window.job_row.job is job            # its progress bar and Cancel, in the window
        if messages is not None:
            job.progress.connect(lambda fraction, message: messages.append((fraction, message)))
    return outbox_window.last_result


def test_send_now_puts_the_correction_in_the_archive(qtbot, make_window, net_home, admin, orthanc, tmp_path):
    two_studies(tmp_path / "pacs", "OUTUI1")
    orthanc.load(tmp_path / "pacs")
    got = retrieve.retrieve(net_home, admin, "pacs", [uid("OUTUI1", "a"), uid("OUTUI1", "b")])
    assert got.retrieved == 5
    move_misfiled(net_home, admin, "OUTUI1")
    window = make_window(net_home)
    qtbot.waitUntil(lambda: window.outbox_label.isVisible(), timeout=WAIT)
    assert window.outbox_label.text() == "Outbox: 3 waiting" and "3 queued for pacs" in window.outbox_label.toolTip()
    qtbot.mouseClick(window.outbox_label, Qt.MouseButton.LeftButton)
    ow = window.findChild(OutboxWindow)
    qtbot.waitUntil(lambda: ow.model.rowCount() == 3 and not ow.is_loading(), timeout=WAIT)
    entries = ow.model.entries()
    assert {(e["node"], e["state"]) for e in entries} == {("pacs", "queued")}
    assert all(in_orthanc(orthanc, e["sop_instance_uid"]) is None for e in entries)

    progress: list = []
    result = send(qtbot, ow, progress)
    assert result.sent == 3 and not result.failed
    assert progress[-1][0] == 1.0
    assert any(message.startswith("Sending ") and message.endswith(" to pacs") for _, message in progress)
    assert ow.note.text() == "Outbox: 3 of 3 sent to pacs"
    for entry in entries:
        tags = in_orthanc(orthanc, entry["sop_instance_uid"])
        if entry["reason"] == "IOCM: rejection note":
            assert tags["StudyInstanceUID"] == uid("OUTUI1", "a")
            assert tags["ConceptNameCodeSequence"][0]["CodeValue"] == "113038"
        else:
            assert tags["StudyInstanceUID"] == uid("OUTUI1", "b") and tags["AccessionNumber"] == "OUTB"
    qtbot.waitUntil(lambda: not window.outbox_label.isVisible(), timeout=WAIT)
    assert show(qtbot, ow, "Waiting (queued, held, failed)") == []
    sent = show(qtbot, ow, "Sent")
    assert len(sent) == 3 and all(e["attempts"] == 1 and e["sent_at"] for e in sent)
    assert not ow.send_button.isEnabled() and "Nothing is queued" in ow.send_button.toolTip()


def test_held_entries_get_a_store_node_then_go(qtbot, make_window, net_home, admin, orthanc, tmp_path):
    two_studies(tmp_path / "files", "OUTUI2")
    import_paths(net_home, [tmp_path / "files"], admin.name)   # from files: the outbox holds them
    db = net_home.connect()
    nodes.add_node(db, admin, "brain-ai", "AIBOX", "127.0.0.1", 104, purposes=["ai"])
    db.close()
    move_misfiled(net_home, admin, "OUTUI2")
    window = make_window(net_home)
    ow = window.open_outbox()
    qtbot.waitUntil(lambda: ow.model.rowCount() == 3 and not ow.is_loading(), timeout=WAIT)
    assert {e["state"] for e in ow.model.entries()} == {"held"}
    assert not ow.send_button.isEnabled()
    assert ow.assign_button.toolTip() == "Choose the node for all 3 held entries"
    chooser = ow.choose_node()
    qtbot.waitUntil(lambda: chooser.loaded, timeout=WAIT)
    assert chooser.node_names() == ["pacs"]                      # the AI node takes no images
    assert "1 other node is not for store" in chooser.note.text()
    with qtbot.waitSignal(ow.changed, timeout=WAIT):
        chooser.choose("pacs")
    qtbot.waitUntil(lambda: not ow.is_loading() and
                    {(e["node"], e["state"]) for e in ow.model.entries()} == {("pacs", "queued")},
                    timeout=WAIT)
    assert "3 entries queued for pacs" in ow.note.text()
    qtbot.waitUntil(lambda: "3 queued for pacs" in window.outbox_label.toolTip(), timeout=WAIT)
    result = send(qtbot, ow)
    assert result.sent == 3 and result.held == 0
    assert all(in_orthanc(orthanc, e["sop_instance_uid"]) for e in show(qtbot, ow, "Sent"))
