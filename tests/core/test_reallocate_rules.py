"""Reallocation rules beyond the basics: migrated studies (flag and legacy
node), AI results cleared with a rescan requested, the preview the window's
confirmation shows, the content tree and readable history."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from app import store
from app.accounts import accounts
from app.changes import ai
from app.changes import view as content
from app.net.outbox import queue as outbox
from app.changes import journal, migrated
from app.changes.reallocate import reallocate, reallocate_series
from app.errors import NotAllowed, RuleRefused
from app.importing.importer import import_paths
from app.net.nodes import add_node
from app.worklist.query import Query
from tests.factories import binary_frames, uid, write, write_series

SEG = "1.2.840.10008.5.1.4.1.1.66.4"


@pytest.fixture
def setup(home, tmp_path, admin):
    src = tmp_path / "src"
    write_series(src, 2, patient_id="P1", study="chest", series="ax", accession="C1",
                 description="CT CHEST")
    write_series(src, 1, patient_id="P1", study="abd", series="x", accession="B1",
                 description="CT ABDOMEN")
    import_paths(home, [src], admin)
    db = home.connect()
    admin_user = accounts.get_user(db, admin)
    users = {"admin": admin_user,
             "carla": accounts.add_user(db, admin_user, "carla", ["content-manager"])}
    study = dict(db.execute("SELECT accession_number, study_instance_uid FROM studies"))
    series = dict(db.execute("SELECT series_description, series_instance_uid FROM series"))
    yield home, db, users, study, series
    db.close()


def _ai_seg(folder, db, series_uid: str, source_aet: str = "", algorithm: str = ""):
    """A SEG on the series' images, received from *source_aet* / made by *algorithm*."""
    sops = db.execute("SELECT sop_class_uid, sop_instance_uid FROM instances"
                      " WHERE series_instance_uid = ?", [series_uid]).fetchall()
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = SEG
    ds.file_meta.MediaStorageSOPInstanceUID = uid("seg", series_uid, source_aet, algorithm)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if source_aet:
        ds.file_meta.SourceApplicationEntityTitle = source_aet
    ds.SOPClassUID, ds.SOPInstanceUID = SEG, ds.file_meta.MediaStorageSOPInstanceUID
    ds.PatientID, ds.PatientName = "P1", "DOE^JOHN"
    ds.StudyInstanceUID = uid("P1", "chest")
    ds.SeriesInstanceUID = uid("seg-series", series_uid, source_aet, algorithm)
    ds.Modality, ds.SeriesNumber, ds.SeriesDescription = "SEG", 80, "AI segmentation"
    binary_frames(ds)
    segment = Dataset()
    segment.SegmentNumber, segment.SegmentLabel = 1, "lesion"
    segment.SegmentAlgorithmType = "AUTOMATIC"
    if algorithm:
        segment.SegmentAlgorithmName = algorithm
    ds.SegmentSequence = [segment]
    series = Dataset()
    series.SeriesInstanceUID = series_uid
    series.ReferencedInstanceSequence = []
    for sop_class, sop in sops:
        ref = Dataset()
        ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = sop_class, sop
        series.ReferencedInstanceSequence.append(ref)
    ds.ReferencedSeriesSequence = [series]
    return write(ds, folder / f"seg-{source_aet}{algorithm}.dcm")


def test_legacy_node_and_admin_mark_refuse(setup):
    home, db, users, study, series = setup
    add_node(db, users["admin"], "OLD", "OLDARCH", "127.0.0.1", 104, purposes=["legacy"])
    db.execute("UPDATE studies SET source_node = 'OLD' WHERE study_instance_uid = ?", [study["B1"]])
    assert migrated.reason(db, study["B1"]) == "it came from OLD, a legacy archive"
    with pytest.raises(RuleRefused, match="legacy archive"):
        reallocate(home, db, users["carla"], series["CT CHEST ax"], study["B1"])
    db.execute("UPDATE studies SET source_node = NULL")
    with pytest.raises(NotAllowed, match="configure"):
        migrated.mark(db, users["carla"], study["C1"])
    assert migrated.mark(db, users["admin"], study["C1"])["reason"] == "an admin marked it migrated"
    with pytest.raises(RuleRefused, match="migrated"):      # as the source
        reallocate(home, db, users["carla"], series["CT CHEST ax"], study["B1"])
    migrated.mark(db, users["admin"], study["C1"], False)
    reallocate(home, db, users["carla"], series["CT CHEST ax"], study["B1"])


@pytest.mark.parametrize("source_aet, algorithm", [("AIBOX", ""), ("", "NoduleNet")])
def test_ai_results_cleared_rescan_requested_and_undo(setup, tmp_path, source_aet, algorithm):
    home, db, users, study, series = setup
    add_node(db, users["admin"], "AIBOX", "AIBOX", "127.0.0.1", 11113, purposes=["ai"])
    home.set_setting("ai.algorithms", "NoduleNet")
    path = _ai_seg(tmp_path / "seg", db, series["CT CHEST ax"], source_aet, algorithm)
    import_paths(home, [path], users["admin"].name)
    seg = db.execute("SELECT series_instance_uid, instance_count FROM series WHERE modality = 'SEG'").fetchone()
    seg_file = db.execute("SELECT path FROM instances WHERE series_instance_uid = ?", [seg[0]]).fetchone()[0]
    preview = content.preview(home, db, users["carla"], [series["CT CHEST ax"]], study["B1"])
    assert [s["series_instance_uid"] for s in preview.ai_results] == [seg[0]] and not preview.dependents
    assert "AIBOX" in preview.ai_rescan
    outcome = reallocate_series(home, db, users["carla"], series["CT CHEST ax"], study["B1"])
    assert [s for s, _ in outcome.ai_cleared] == [seg[0]]
    assert any("AI rescan" in line and "AIBOX" in line for line in outcome.messages())
    assert not db.execute("SELECT 1 FROM series WHERE series_instance_uid = ?", [seg[0]]).fetchone()
    assert not store.absolute(home, seg_file).exists()
    assert not db.execute("SELECT 1 FROM studies WHERE study_instance_uid = ?", [study["C1"]]).fetchone()
    assert db.execute("SELECT ai_rescan_pending FROM studies WHERE study_instance_uid = ?",
                      [study["B1"]]).fetchone() == (1,)
    (rescan,) = outbox.entries(db)
    assert (rescan["kind"], rescan["node"], rescan["study_instance_uid"]) == \
        ("ai-rescan", "AIBOX", study["B1"])
    audit_detail = db.execute("SELECT detail FROM audit WHERE action = 'reallocate'").fetchone()[0]
    assert "AI results cleared" in audit_detail and study["C1"] in audit_detail
    journal.undo(home, db, outcome.change_id, users["carla"])
    assert db.execute("SELECT instance_count FROM series WHERE series_instance_uid = ?",
                      [seg[0]]).fetchone() == (seg[1],)
    assert store.absolute(home, seg_file).exists()
    assert outbox.entries(db) == []
    assert db.execute("SELECT ai_rescan_pending FROM studies WHERE study_instance_uid = ?",
                      [study["B1"]]).fetchone() == (0,)


def test_request_rescan_by_hand_and_sent_clears_the_flag(setup):
    home, db, users, study, _ = setup
    add_node(db, users["admin"], "AIBOX", "AIBOX", "127.0.0.1", 11113, purposes=["ai"])
    result = ai.request_rescan(home, db, users["carla"], study["B1"])
    assert result["nodes"] == ["AIBOX"] and "queued for AIBOX" in result["message"]
    (entry,) = outbox.entries(db, state="queued")
    outbox.mark_sent(db, entry["id"])
    assert db.execute("SELECT ai_rescan_pending FROM studies WHERE study_instance_uid = ?",
                      [study["B1"]]).fetchone() == (0,)


def test_search_tree_scopes_and_the_journal_of_a_reallocation(setup):
    home, db, users, study, series = setup
    tree = content.search_tree(db, "carla", Query(accession="C1"), content.PATIENTS)
    assert [s["accession_number"] for p in tree["patients"] for s in p["studies"]] == ["C1", "B1"]
    tree = content.search_tree(db, "carla", Query(accession="C1"), content.STUDIES)
    assert [s["accession_number"] for p in tree["patients"] for s in p["studies"]] == ["C1"]
    change = reallocate(home, db, users["carla"], series["CT CHEST ax"], study["B1"], reason="why")
    (row,) = journal.history(db)
    assert row["change_id"] == change and row["reason"] == "why" and row["action"] == "reallocate"
    ds = pydicom.dcmread(store.absolute(home, db.execute(
        "SELECT path FROM instances WHERE series_instance_uid = ?", [series["CT CHEST ax"]]).fetchone()[0]))
    assert ds.AccessionNumber == "B1"
