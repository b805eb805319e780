"""C-STORE to DCMTK storescp and to Orthanc: one association, raw data sets,
decompression for a peer that refuses a compressed syntax, per-instance
status, audit 110104."""

from __future__ import annotations

import shutil

import pydicom
import pytest

from app.accounts import audit
from app.importing.importer import import_paths
from app.net import dimse, nodes, send
from app.startup import open_home
from tests.factories import pydicom_test_files, uid, write_series

pytestmark = pytest.mark.network


@pytest.fixture
def local_study(home, admin, tmp_path):
    write_series(tmp_path / "src", 5, patient_id="SENDP", patient_name="SEND^ME", study="out",
                 accession="SEND1")
    import_paths(home, [tmp_path / "src"], admin.name)
    return uid("SENDP", "out")


def add_node(home, admin, name, aet, port, **kwargs):
    db = home.connect()
    try:
        return nodes.add_node(db, admin, name, aet, "127.0.0.1", port, **kwargs)
    finally:
        db.close()


def received(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file())


def data_set_bytes(path):
    offset, _ = dimse.read_meta(path)
    return path.read_bytes()[offset:]


def test_send_to_storescp_streams_the_data_sets_untouched(home, admin, local_study, storescp):
    port, folder = storescp
    add_node(home, admin, "dcmtk", "STORESCP", port, purposes=["store"])
    result = send.send_studies(home, admin, [local_study[:20]], "dcmtk")  # a UID prefix will do
    assert result.sent == 5 and not result.failed and result.converted == 0
    files = received(folder)
    assert len(files) == 5
    db = home.connect()
    ours = {sop: data_set_bytes(home.root / path) for sop, path in db.execute(
        "SELECT sop_instance_uid, path FROM instances")}
    for path in files:  # storescp +B writes what it got, bit for bit
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert data_set_bytes(path) == ours[ds.SOPInstanceUID]
    entry = [e for e in audit.entries(db) if e["action"] == "send"][-1]
    assert entry["event_code"] == audit.INSTANCES_TRANSFERRED
    assert entry["objects"] == [local_study] and "5 sent" in entry["detail"]


def test_a_refused_compressed_syntax_is_sent_decompressed(home, admin, tmp_path, storescp):
    source = pydicom_test_files() / "JPEG2000.dcm"
    shutil.copy(source, tmp_path / "j2k.dcm")
    import_paths(home, [tmp_path / "j2k.dcm"], admin.name)
    original = pydicom.dcmread(source)
    port, folder = storescp  # accepts uncompressed syntaxes only (its default)
    add_node(home, admin, "dcmtk", "STORESCP", port)
    result = send.send_studies(home, admin, [str(original.StudyInstanceUID)], "dcmtk")
    assert result.sent == 1 and result.converted == 1 and not result.failed
    (path,) = received(folder)
    got = pydicom.dcmread(path)
    assert not got.file_meta.TransferSyntaxUID.is_compressed
    assert (got.pixel_array == original.pixel_array).all()


def test_send_to_orthanc(net_home, admin, local_study, orthanc):
    result = send.send_studies(net_home, admin, [local_study], "pacs")
    assert result.sent == 5 and not result.failed
    assert orthanc.instance_count(local_study) == 5


def test_failures_are_reported_instance_by_instance(home, admin, tmp_path, local_study, free_port):
    from app.net.listener import Listener

    # our own listener takes storage SOP classes, private ones included, but
    # not a class of another service: that instance is refused while the
    # rest of the study goes through
    for name, sop_class in (("odd", "1.2.840.10008.5.1.1.1"),  # Basic Film Session (print)
                            ("vendor", "1.3.12.2.1107.5.9.1")):  # a private raw-data class
        odd = pydicom.dcmread(next((tmp_path / "src").glob("*.dcm")))
        odd.SOPClassUID = odd.file_meta.MediaStorageSOPClassUID = sop_class
        odd.SOPInstanceUID = odd.file_meta.MediaStorageSOPInstanceUID = uid(name)
        odd.save_as(tmp_path / f"{name}.dcm", enforce_file_format=True)
        import_paths(home, [tmp_path / f"{name}.dcm"], admin.name)
    home.set_setting("aet", "LOOPBACK")
    port = free_port()
    add_node(home, admin, "self", "LOOPBACK", port)
    other = home.root.parent / "receiver"

    receiver = open_home(other)
    receiver.set_setting("aet", "LOOPBACK")  # the node "self" calls it so
    db = receiver.connect()
    nodes.add_node(db, admin, "sender", "LOOPBACK", "127.0.0.1", 104)
    with Listener(receiver, admin.name, port, host="127.0.0.1"):
        result = send.send_studies(home, admin, [local_study], "self")
    assert result.sent == 6
    assert [f["sop_instance_uid"] for f in result.failed] == [uid("odd")]
    assert "presentation context" in result.failed[0]["reason"]


def test_the_outbox_is_sent_through_the_same_path(home, admin, tmp_path, local_study, storescp):
    from app.net.outbox import queue as outbox
    from app.net.outbox.send import send_outbox

    port, folder = storescp
    add_node(home, admin, "origin", "STORESCP", port)
    db = home.connect()
    corrected = db.execute("SELECT sop_instance_uid FROM instances LIMIT 1").fetchone()[0]
    note = write_series(tmp_path / "note", 1, patient_id="SENDP", study="out", series="kos")[0]
    (home.root / outbox.FOLDER).mkdir(exist_ok=True)
    note.rename(home.root / outbox.FOLDER / "note.dcm")
    outbox.add(db, [
        outbox.entry(outbox.STORE, "origin", local_study, sop=corrected),
        outbox.entry(outbox.STORE, "origin", local_study, sop=uid("SENDP", "out", "kos", 1),
                     path=f"{outbox.FOLDER}/note.dcm"),
        outbox.entry(outbox.STORE, "origin", local_study, sop="1.2.3", path=f"{outbox.FOLDER}/gone.dcm"),
        outbox.entry(outbox.STORE, None, local_study, sop=corrected),  # held: no node
    ])
    result = send_outbox(home, admin)
    assert result.sent == 2 and [f["sop_instance_uid"] for f in result.failed] == ["1.2.3"]
    assert len(received(folder)) == 2
    states = sorted(e["state"] for e in outbox.entries(db))
    assert states == ["failed", "held", "sent", "sent"]
