"""Retrieve from a real Orthanc by C-GET and by C-MOVE into fresh homes;
C-CANCEL; a retry that fetches only what is missing."""

from __future__ import annotations

import pytest

from app import store
from app.accounts import audit
from app.errors import Cancelled, NotFound
from app.jobs import CancelToken
from app.net.retrieve import study as net_retrieve
from app.worklist.query import Query, series_of, studies

pytestmark = pytest.mark.network


def cached(home, study_uid: str) -> tuple[int, list]:
    db = home.connect()
    try:
        rows = db.execute("SELECT i.path FROM instances i JOIN series s USING (series_instance_uid)"
                          " WHERE s.study_instance_uid = ?", [study_uid]).fetchall()
    finally:
        db.close()
    return len(rows), [store.absolute(home, p) for (p,) in rows]


def leftovers(home) -> list:
    """Files in the home's temporary area (partial or unrecorded receptions)."""
    return [p for p in home.tmp.rglob("*") if p.is_file()]


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieve_a_study_into_a_fresh_home(net_home, admin, pacs_data, method):
    progress = []
    result = net_retrieve.retrieve(net_home, admin, "pacs", [pacs_data["chest"]], method,
                                   progress=lambda f, m="": progress.append((f, m)))
    assert result.retrieved == 7 and not result.failed and not result.not_found
    count, paths = cached(net_home, pacs_data["chest"])
    assert count == 7 and all(p.is_file() for p in paths)
    db = net_home.connect()
    row = studies(db, Query(accession="NET001"))[0]
    assert row["patient_name"] == "DOE^JANE" and row["series_count"] == 2
    assert sorted(s["instance_count"] for s in series_of(db, pacs_data["chest"])) == [3, 4]
    assert db.execute("SELECT source_node FROM studies WHERE study_instance_uid = ?",
                      [pacs_data["chest"]]).fetchone()[0] == "pacs"
    entry = [e for e in audit.entries(db) if e["action"] == "retrieve"][-1]
    assert entry["event_code"] == audit.INSTANCES_TRANSFERRED and f"C-{method.upper()}" in entry["detail"]
    assert any(f == 1.0 for f, _ in progress)
    assert not leftovers(net_home)


def test_received_files_are_the_archived_data_sets(net_home, admin, pacs_data):
    import pydicom

    net_retrieve.retrieve(net_home, admin, "pacs", [pacs_data["knee"]])
    _, paths = cached(net_home, pacs_data["knee"])
    originals = {pydicom.dcmread(p).SOPInstanceUID: pydicom.dcmread(p)
                 for p in (pacs_data["folder"] / "b").glob("*.dcm")}
    for path in paths:
        got = pydicom.dcmread(path)
        assert got.PixelData == originals[got.SOPInstanceUID].PixelData
        assert got.file_meta.SourceApplicationEntityTitle == "ORTHANC"


def test_each_recorded_file_is_complete_and_its_sha256_is_the_files(net_home, admin, pacs_data):
    import hashlib

    net_retrieve.retrieve(net_home, admin, "pacs", [pacs_data["chest"]])
    db = net_home.connect()
    try:
        rows = db.execute("SELECT path, sha256, size FROM instances").fetchall()
    finally:
        db.close()
    assert len(rows) == 7
    for path, sha, size in rows:
        data = store.absolute(net_home, path).read_bytes()
        assert len(data) == size and hashlib.sha256(data).hexdigest() == sha


def test_a_second_retrieve_fetches_nothing(net_home, admin, pacs_data):
    net_retrieve.retrieve(net_home, admin, "pacs", [pacs_data["knee"]])
    again = net_retrieve.retrieve(net_home, admin, "pacs", [pacs_data["knee"]])
    assert again.retrieved == 0 and again.already_present == 2 and not again.failed


def test_an_unknown_study_is_not_found(net_home, admin, pacs_data):
    with pytest.raises(NotFound):
        net_retrieve.retrieve(net_home, admin, "pacs", ["1.2.3.4.5.6.7.8.9"])
    result = net_retrieve.retrieve(net_home, admin, "pacs", [pacs_data["knee"], "1.2.3.4.5.6.7.8.9"])
    assert result.not_found == ["1.2.3.4.5.6.7.8.9"] and result.retrieved == 2


@pytest.mark.parametrize("method", ["get", "move"])
def test_cancel_sends_c_cancel_and_a_retry_fetches_only_the_rest(net_home, admin, pacs_data, method):
    cancel = CancelToken()

    def progress(fraction, message=""):
        if fraction and fraction > 0:
            cancel.cancel()  # after the first sub-operation

    with pytest.raises(Cancelled):
        net_retrieve.retrieve(net_home, admin, "pacs", [pacs_data["big"]], method, progress, cancel)
    kept, paths = cached(net_home, pacs_data["big"])
    assert 0 < kept < 200, "C-CANCEL should stop the node well before the end"
    assert all(p.is_file() for p in paths)
    assert not leftovers(net_home)

    result = net_retrieve.retrieve(net_home, admin, "pacs", [pacs_data["big"]], method)
    assert result.already_present == kept
    assert result.retrieved == 200 - kept and not result.failed
    assert cached(net_home, pacs_data["big"])[0] == 200


@pytest.mark.parametrize("method", ["get", "move"])
def test_compressed_instances_arrive_as_archived(net_home, admin, pacs_data, method):
    import pydicom

    from tests.net.conftest import COMPRESSED_FILES

    result = net_retrieve.retrieve(net_home, admin, "pacs", [pacs_data["compressed"]], method)
    assert result.retrieved == 3 and not result.failed
    _, paths = cached(net_home, pacs_data["compressed"])
    syntaxes = {str(pydicom.dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID) for p in paths}
    expected = {str(pydicom.dcmread(pacs_data["folder"] / "d" / name).file_meta.TransferSyntaxUID)
                for name in COMPRESSED_FILES}
    assert syntaxes == expected  # no transcoding on the way


def test_a_large_study_comes_over_several_associations_and_whole(net_home, admin, pacs_data):
    """200 instances: cut into runs fetched over parallel associations, whose
    instances the intake records in shared batches; all arrive, each once."""
    progress = []
    result = net_retrieve.retrieve(net_home, admin, "pacs", [pacs_data["big"]],
                                   progress=lambda f, m="": progress.append((f, m)))
    assert result.retrieved == 200 and not result.failed
    count, paths = cached(net_home, pacs_data["big"])
    assert count == 200 and all(p.is_file() for p in paths)
    assert any("associations" in m for _, m in progress) and progress[-1][0] == 1.0
    assert not leftovers(net_home)
