"""The intake of data sets received into memory (C-GET): nothing written
for a refused data set, the recorded file and its SHA-256 the bytes
received, a bounded wait for a sender faster than the disk; the memory
sink and its buffers."""

from __future__ import annotations

import hashlib

import pydicom

from app import store
from app.net import dimse, intake as net_intake
from app.net.intake import Intake
from tests.factories import write_series

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"


def received(path) -> memoryview:
    """A data set as a MemorySink holds it after a C-STORE of *path*."""
    offset, meta = dimse.read_meta(path)
    sink = dimse.MemorySink(path.parent, meta["MediaStorageSOPClassUID"], meta["MediaStorageSOPInstanceUID"],
                            meta["TransferSyntaxUID"], "ORTHANC")
    data = path.read_bytes()[offset:]
    for start in range(0, len(data), 1000):  # as P-DATA fragments
        sink.write(memoryview(data)[start:start + 1000])
    return sink.finish()


def rows(home) -> list[tuple]:
    db = home.connect()
    try:
        return db.execute("SELECT sop_instance_uid, path, sha256, size FROM instances").fetchall()
    finally:
        db.close()


def leftovers(home) -> list:
    return [p for p in home.tmp.rglob("*") if p.is_file()]


def test_a_data_set_received_into_memory_is_recorded_with_its_sha256(home, admin, tmp_path):
    paths = write_series(tmp_path / "in", 3, patient_id="INT1", size=64)
    expected = {}
    intake = Intake(home, admin.name, audit_batches=False)
    try:
        for path in paths:
            data = received(path)
            expected[pydicom.dcmread(path).SOPInstanceUID] = bytes(data)
            intake.add_data(data, "", "pacs")
        intake.flush()
    finally:
        intake.close()
    recorded = rows(home)
    assert len(recorded) == 3 and intake.recorded == 3 and not intake.refused
    for sop, path, sha, size in recorded:
        on_disk = store.absolute(home, path).read_bytes()
        assert on_disk == expected[sop] and size == len(on_disk)
        assert sha == hashlib.sha256(on_disk).hexdigest()
        assert pydicom.dcmread(store.absolute(home, path)).file_meta.SourceApplicationEntityTitle == "ORTHANC"
    assert not leftovers(home)


def test_a_data_set_cut_short_is_refused_and_nothing_is_written(home, admin, tmp_path):
    (path,) = write_series(tmp_path / "in", 1, patient_id="INT2", size=64)
    data = received(path)
    cut = bytearray(data[:len(data) - 100])  # the last fragment arrived, the pixel data is short
    dimse.release(data)
    intake = Intake(home, admin.name, audit_batches=False)
    try:
        intake.add_data(memoryview(cut), "1.2.3.4", "pacs")
        intake.flush()
    finally:
        intake.close()
    assert rows(home) == [] and intake.refused["1.2.3.4"].startswith("truncated")
    assert not leftovers(home) and not any(home.root.joinpath("store").rglob("*.dcm"))


def test_a_duplicate_is_counted_and_not_written_twice(home, admin, tmp_path):
    (path,) = write_series(tmp_path / "in", 1, patient_id="INT3", size=64)
    intake = Intake(home, admin.name, audit_batches=False)
    try:
        intake.add_data(received(path), "", "pacs")
        intake.flush()
        intake.add_data(received(path), "", "pacs")
        intake.flush()
    finally:
        intake.close()
    assert len(rows(home)) == 1 and intake.results["pacs"].duplicates == 1
    assert not leftovers(home)


def test_a_sender_faster_than_the_disk_waits_and_loses_nothing(home, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(net_intake, "MAX_WAITING_BYTES", 1)  # every add_data waits for the one before
    paths = write_series(tmp_path / "in", 12, patient_id="INT4", size=64)
    intake = Intake(home, admin.name, audit_batches=False)
    try:
        for path in paths:
            intake.add_data(received(path), "", "pacs")
        intake.flush()
    finally:
        intake.close()
    assert len(rows(home)) == 12 and not leftovers(home)


def test_a_large_data_set_goes_on_into_a_file_and_a_discarded_one_leaves_nothing(tmp_path):
    sink = dimse.MemorySink(tmp_path, CT, "1.2.3", EXPLICIT, "ORTHANC", limit=4096)
    for _ in range(10):
        sink.write(memoryview(b"\x01" * 1000))
    path = sink.finish()
    meta = dimse.file_meta(CT, "1.2.3", EXPLICIT, "ORTHANC")
    assert path.read_bytes() == meta + b"\x01" * 10000

    sink = dimse.MemorySink(tmp_path, CT, "1.2.4", EXPLICIT, "ORTHANC", limit=4096)
    for _ in range(10):
        sink.write(memoryview(b"\x02" * 1000))
    sink.discard()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_buffer_given_back_is_used_again_and_grows_when_it_must():
    sink = dimse.MemorySink(None, CT, "1.2.5", EXPLICIT, "")
    sink.write(memoryview(b"\x03" * 10))
    first = sink.finish()
    buffer = first.obj
    dimse.release(first)
    sink = dimse.MemorySink(None, CT, "1.2.6", EXPLICIT, "")
    big = b"\x04" * (len(buffer) + 10)  # more than the buffer holds
    sink.write(memoryview(big))
    data = sink.finish()
    assert bytes(data) == dimse.file_meta(CT, "1.2.6", EXPLICIT, "") + big
    dimse.release(data)


def test_the_free_buffers_are_let_go_when_a_transfer_ends():
    sink = dimse.MemorySink(None, CT, "1.2.7", EXPLICIT, "")
    dimse.release(sink.finish())
    assert dimse.BUFFERS.kept > 0
    dimse.BUFFERS.clear()
    assert dimse.BUFFERS.kept == 0
