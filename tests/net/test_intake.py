"""The intake of data sets received into memory (C-GET, the listener):
nothing written for a refused data set, which gets a failure status; the
recorded file and its SHA-256 the bytes received; each answer only once
its instance is durable, concurrent senders sharing batches; the memory
sink and its buffers."""

from __future__ import annotations

import hashlib

import pydicom

from app import store
from app.net import dimse, sinks
from app.net.intake import Intake
from app.startup import open_home
from tests.factories import write_series

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"


def received(path) -> memoryview:
    """A data set as a MemorySink holds it after a C-STORE of *path*."""
    offset, meta = dimse.read_meta(path)
    sink = sinks.MemorySink(path.parent, meta["MediaStorageSOPClassUID"], meta["MediaStorageSOPInstanceUID"],
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
    sinks.release(data)
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


def test_each_answer_comes_once_its_instance_is_durable_and_concurrent_senders_share_batches(
        home, admin, tmp_path):
    """Eight senders at once: each store_data() returns Success only when
    its own row is committed and its file is in the store; the instances
    of different senders are recorded together (group commit)."""
    from concurrent.futures import ThreadPoolExecutor

    paths = write_series(tmp_path / "in", 48, patient_id="INT4", size=64)
    intake = Intake(home, admin.name, audit_batches=False)
    late = []

    def send(chunk):
        db = home.connect()
        try:
            for path in chunk:
                sop = pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID
                stored = intake.store_data(received(path), sop, "pacs")
                row = db.execute("SELECT path FROM instances WHERE sop_instance_uid = ?", [sop]).fetchone()
                if not stored.ok or row is None or not store.absolute(home, row[0]).is_file():
                    late.append(sop)
        finally:
            db.close()

    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(send, [paths[i::8] for i in range(8)]))
    finally:
        intake.close()
    assert late == [] and len(rows(home)) == 48 and not leftovers(home)
    assert intake.batches <= 48
    db = home.connect()
    try:  # the counts the intake added up are the counts of the rows
        assert db.execute("SELECT instance_count, series_count, size_bytes FROM studies").fetchall() == \
            db.execute("SELECT count(*), count(DISTINCT series_instance_uid), sum(size) FROM instances").fetchall()
        assert db.execute("SELECT instance_count FROM series").fetchall() == [(48,)]
    finally:
        db.close()


def test_a_refused_data_set_is_answered_with_a_failure_status(home, admin, tmp_path):
    (path,) = write_series(tmp_path / "in", 1, patient_id="INT5", size=64)
    data = received(path)
    cut = bytearray(data[:len(data) - 100])
    sinks.release(data)
    intake = Intake(home, admin.name, audit_batches=False)
    try:
        stored = intake.store_data(memoryview(cut), "1.2.3.5", "pacs")
        again = intake.store_data(received(path), "", "pacs")
        duplicate = intake.store_data(received(path), "", "pacs")
    finally:
        intake.close()
    assert stored.status == dimse.CANNOT_UNDERSTAND and stored.reason.startswith("truncated")
    assert again.ok and duplicate.ok and duplicate.reason == "already in the cache"


def test_a_large_data_set_goes_on_into_a_file_and_a_discarded_one_leaves_nothing(tmp_path):
    sink = sinks.MemorySink(tmp_path, CT, "1.2.3", EXPLICIT, "ORTHANC", limit=4096)
    for _ in range(10):
        sink.write(memoryview(b"\x01" * 1000))
    path = sink.finish()
    meta = sinks.file_meta(CT, "1.2.3", EXPLICIT, "ORTHANC")
    assert path.read_bytes() == meta + b"\x01" * 10000

    sink = sinks.MemorySink(tmp_path, CT, "1.2.4", EXPLICIT, "ORTHANC", limit=4096)
    for _ in range(10):
        sink.write(memoryview(b"\x02" * 1000))
    sink.discard()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_buffer_given_back_is_used_again_and_grows_when_it_must():
    sink = sinks.MemorySink(None, CT, "1.2.5", EXPLICIT, "")
    sink.write(memoryview(b"\x03" * 10))
    first = sink.finish()
    buffer = first.obj
    sinks.release(first)
    sink = sinks.MemorySink(None, CT, "1.2.6", EXPLICIT, "")
    big = b"\x04" * (len(buffer) + 10)  # more than the buffer holds
    sink.write(memoryview(big))
    data = sink.finish()
    assert bytes(data) == sinks.file_meta(CT, "1.2.6", EXPLICIT, "") + big
    sinks.release(data)


def test_the_free_buffers_are_let_go_when_a_transfer_ends():
    sink = sinks.MemorySink(None, CT, "1.2.7", EXPLICIT, "")
    sinks.release(sink.finish())
    assert sinks.BUFFERS.kept > 0
    sinks.BUFFERS.clear()
    assert sinks.BUFFERS.kept == 0


def test_the_same_instances_from_several_senders_at_once_are_kept_once_each_with_its_file(
        home, admin, tmp_path):
    """Four senders store the same six instances at the same moment: one
    is written in place, the others are duplicates or come through the
    temporary area; every answer is Success and each row's file is whole."""
    from concurrent.futures import ThreadPoolExecutor

    paths = write_series(tmp_path / "in", 6, patient_id="INT6", size=64)
    intake = Intake(home, admin.name, audit_batches=False)
    try:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda n: [intake.store_data(received(p), "", f"node{n}").ok
                                               for p in (paths if n % 2 else paths[::-1])], range(4)))
    finally:
        intake.close()
    assert all(all(a) for a in answers)
    recorded = rows(home)
    assert len(recorded) == 6
    for sop, path, sha, size in recorded:
        assert hashlib.sha256(store.absolute(home, path).read_bytes()).hexdigest() == sha
    assert len(list(home.root.joinpath("store").rglob("*.dcm"))) == 6 and not leftovers(home)


def test_a_data_set_received_into_a_file_is_moved_into_the_store_once_durable(home, admin, tmp_path):
    """A data set too large to hold in memory arrives as a file in the
    temporary area: recorded (renamed into the store in the transaction),
    and a cut one refused and removed."""
    whole, cut = write_series(tmp_path / "in", 2, patient_id="INT7", size=64)
    data = received(whole)
    (store.scratch(home) / "a.part").write_bytes(bytes(data))
    sinks.release(data)
    data = received(cut)
    (store.scratch(home) / "b.part").write_bytes(bytes(data[:len(data) - 100]))
    sinks.release(data)
    intake = Intake(home, admin.name, audit_batches=False)
    try:
        kept = intake.store_file(store.scratch(home) / "a.part", "", "pacs")
        refused = intake.store_file(store.scratch(home) / "b.part", "1.2.3.6", "pacs")
    finally:
        intake.close()
    assert kept.ok and refused.status == dimse.CANNOT_UNDERSTAND
    (sop, path, sha, size), = rows(home)
    assert hashlib.sha256(store.absolute(home, path).read_bytes()).hexdigest() == sha
    assert not leftovers(home)


def test_a_home_made_again_at_the_same_place_receives_into_folders_made_again(admin, tmp_path):
    """The intake remembers the store folders it has synced; a home removed
    and made again at the same place (as the benchmark does) gets its
    folders back, and every instance its file."""
    import shutil


    paths = write_series(tmp_path / "in", 2, patient_id="INT9", size=64)
    for _ in range(2):
        home = open_home(tmp_path / "again")
        intake = Intake(home, admin.name, audit_batches=False)
        try:
            stored = [intake.add_data(received(path), "", "pacs") for path in paths]
        finally:
            intake.close()
        assert all(s.ok for s in stored) and intake.recorded == 2
        assert all(store.absolute(home, path).is_file() for _, path, _, _ in rows(home))
        shutil.rmtree(home.root)
