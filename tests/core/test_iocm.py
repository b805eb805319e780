"""IOCM mode: new UIDs through one map, references intact, a valid rejection
note, both queued for the source node; undo and crash safety."""

from __future__ import annotations

import os
import shutil
import subprocess

import pydicom
import pytest

from app import store
from app.accounts import accounts
from app.net.outbox import queue as outbox
from app.changes import iocm, journal
from app.changes.reallocate import reallocate_series
from app.dicom.references import references_of
from app.importing.importer import import_paths
from app.net.nodes import add_node

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    from app.demo import generate_demo

    folder = tmp_path_factory.mktemp("demo")
    generate_demo(folder, patients=2)
    return folder


@pytest.fixture
def rt(home, demo_files, admin):
    """The RT chain of PID1001 (CT, RTSTRUCT, 2 RTPLAN, 2 RTDOSE) from node PACS1."""
    import_paths(home, [demo_files], admin)
    home.set_setting("iocm", "true")
    db = home.connect()
    user = accounts.get_user(db, admin)
    add_node(db, user, "PACS1", "PACS1", "127.0.0.1", 104)
    study = dict(db.execute("SELECT accession_number, study_instance_uid FROM studies"))
    db.execute("UPDATE studies SET source_node = 'PACS1' WHERE accession_number = 'ACC10011'")
    ct = db.execute("SELECT series_instance_uid FROM series WHERE modality = 'CT' AND"
                    " study_instance_uid = ?", [study["ACC10011"]]).fetchone()[0]
    yield home, db, user, study, ct
    db.close()


def _rows(db, study_uid):
    return db.execute("SELECT i.sop_instance_uid, i.series_instance_uid, i.path, i.sop_class_uid,"
                      " se.modality FROM instances i JOIN series se ON se.series_instance_uid ="
                      " i.series_instance_uid WHERE se.study_instance_uid = ?", [study_uid]).fetchall()


def _all_uids(ds) -> set[str]:
    found = set()
    for elem in ds.iterall():
        if elem.VR == "UI" and elem.value:
            values = elem.value if isinstance(elem.value, (list, pydicom.multival.MultiValue)) \
                else [elem.value]
            found.update(str(v) for v in values)
    found.add(str(ds.file_meta.MediaStorageSOPInstanceUID))
    return found


def test_renewed_uids_intact_references_and_a_valid_rejection_note(rt):
    home, db, user, study, ct = rt
    source, dest = study["ACC10011"], study["ACC10022"]
    before = _rows(db, source)
    old_sops = {r[0] for r in before}
    old_series = {r[1] for r in before}
    old_bytes = {r[0]: store.absolute(home, r[2]).read_bytes() for r in before}
    outcome = reallocate_series(home, db, user, ct, dest, force=True, reason="wrong patient",
                                with_dependents=True)
    renewal = outcome.renewal
    assert len(outcome.series) == 6 and renewal.node == "PACS1"
    new_sops = {renewal.uid_map[s] for s in old_sops}
    new_series = {renewal.uid_map[s] for s in old_series}
    assert not old_sops & new_sops and not old_series & new_series
    assert renewal.uid_map[source] == dest
    assert not db.execute("SELECT 1 FROM studies WHERE study_instance_uid = ?", [source]).fetchone()
    moved = [r for r in _rows(db, dest) if r[0] in new_sops]
    assert len(moved) == len(old_sops)
    for sop, series, path, _, modality in moved:
        ds = pydicom.dcmread(store.absolute(home, path))
        assert ds.SOPInstanceUID == sop == ds.file_meta.MediaStorageSOPInstanceUID
        assert ds.SeriesInstanceUID == series and ds.StudyInstanceUID == dest
        assert ds.PatientID == "PID1002-B"
        uids = _all_uids(ds)
        assert not uids & (old_sops | old_series | {source}), modality   # nothing old is left
        refs = references_of(ds)
        assert refs.instances <= new_sops | {dest}
        if modality != "CT":
            assert refs.instances & new_sops, modality                   # and they still point
        else:
            old = next(s for s, n in renewal.uid_map.items() if n == sop)
            assert ds.PixelData == pydicom.dcmread(__import__("io").BytesIO(old_bytes[old])).PixelData
    struct = next(pydicom.dcmread(store.absolute(home, r[2])) for r in moved if r[4] == "RTSTRUCT")
    ct_new = {r[0] for r in moved if r[4] == "CT"}
    contour_images = {c.ReferencedSOPInstanceUID for roi in struct.ROIContourSequence
                      for contour in roi.ContourSequence for c in contour.ContourImageSequence}
    assert contour_images and contour_images <= ct_new
    # the rejection note: in the source study, the old instances, title 113038
    (note_sop, note_study, note_path), = renewal.notes
    kos = pydicom.dcmread(store.absolute(home, note_path))
    assert kos.SOPClassUID == iocm.KOS_SOP_CLASS and kos.Modality == "KO"
    assert (kos.ConceptNameCodeSequence[0].CodeValue, kos.ConceptNameCodeSequence[0].CodeMeaning) \
        == ("113038", "Incorrect Modality Worklist Entry")
    assert (kos.StudyInstanceUID, kos.PatientID) == (source, "PID1001") and note_study == source
    listed = {(s.SeriesInstanceUID, r.ReferencedSOPInstanceUID, r.ReferencedSOPClassUID)
              for e in kos.CurrentRequestedProcedureEvidenceSequence
              for s in e.ReferencedSeriesSequence for r in s.ReferencedSOPSequence}
    assert listed == {(r[1], r[0], r[3]) for r in before}
    items = [i for i in kos.ContentSequence if i.ValueType != "TEXT"]
    assert {i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for i in items} == old_sops
    assert {i.ValueType for i in items if i.ReferencedSOPSequence[0].ReferencedSOPClassUID
            == CT_IMAGE} == {"IMAGE"}
    assert kos.ContentSequence[0].TextValue == "wrong patient"
    if shutil.which("dciodvfy"):
        check = subprocess.run(["dciodvfy", str(store.absolute(home, note_path))],
                               capture_output=True, text=True)
        assert check.returncode == 0 and "Error" not in check.stdout + check.stderr, check.stderr
    # both queued for the node the study came from
    queued = outbox.entries(db)
    assert len(queued) == len(old_sops) + 1
    assert {(e["node"], e["state"], e["kind"]) for e in queued} == {("PACS1", "queued", "store")}
    assert {e["sop_instance_uid"] for e in queued if e["path"] is None} == new_sops
    assert [e["path"] for e in queued if e["path"]] == [note_path]


def test_title_113037_when_chosen(rt):
    home, db, user, study, ct = rt
    outcome = reallocate_series(home, db, user, ct, study["ACC10022"], force=True, title="113037")
    kos = pydicom.dcmread(store.absolute(home, outcome.renewal.notes[0][2]))
    assert kos.ConceptNameCodeSequence[0].CodeValue == "113037"
    assert outcome.left_behind  # the RT objects stayed (no --with-dependents)


def test_undo_restores_old_uids_files_and_withdraws_the_queue(rt):
    home, db, user, study, ct = rt
    source, dest = study["ACC10011"], study["ACC10022"]
    before = {r[0]: (r[1], r[2], store.absolute(home, r[2]).read_bytes()) for r in _rows(db, source)}
    dest_before = _rows(db, dest)
    outcome = reallocate_series(home, db, user, ct, dest, force=True, with_dependents=True)
    kept = {r[0] for r in dest_before}
    new_paths = [store.absolute(home, r[2]) for r in _rows(db, dest) if r[0] not in kept]
    journal.undo(home, db, outcome.change_id, user)
    after = {r[0]: (r[1], r[2], store.absolute(home, r[2]).read_bytes()) for r in _rows(db, source)}
    assert after == before
    assert _rows(db, dest) == dest_before
    assert outbox.entries(db) == []
    assert not store.absolute(home, outcome.renewal.notes[0][2]).exists()
    assert new_paths and not any(p.exists() for p in new_paths)
    staged = list((home.root / iocm.STAGING).iterdir())    # the undo moved them back here
    assert staged and any(p.is_file() for p in staged[0].iterdir())
    other = staged[0].with_name(f"p{os.getppid()}-busy")     # another live process's: kept
    other.mkdir()
    staged[0].rename(staged[0].with_name("p999999999-gone"))  # a process that is gone
    (home.root / iocm.STAGING / f"p{os.getpid()}-mine").mkdir()   # this one's, not in use
    assert iocm.sweep_staging(home, db) == 2
    assert [p.name for p in (home.root / iocm.STAGING).iterdir()] == [other.name]


def test_a_crash_before_the_commit_changes_nothing(rt):
    home, db, user, study, ct = rt
    source = study["ACC10011"]
    before = _rows(db, source)

    def crash(step):
        if step == "renamed":
            raise RuntimeError("power cut")

    journal.fault_hook = crash
    try:
        with pytest.raises(RuntimeError):
            reallocate_series(home, db, user, ct, study["ACC10022"], force=True, with_dependents=True)
    finally:
        journal.fault_hook = None
    assert _rows(db, source) == before
    assert all(store.absolute(home, r[2]).exists() for r in before)
    assert outbox.entries(db) == []
    assert not any(p.is_file() for p in (home.root / iocm.STAGING).rglob("*"))
    assert not (home.root / outbox.FOLDER).exists() or not any((home.root / outbox.FOLDER).iterdir())
    assert db.execute("SELECT state FROM changes").fetchall() == [("failed",)]


def test_a_staging_folder_in_use_is_never_swept(home):
    db = home.connect()
    try:
        relative = iocm.staging_folder(home)
        renewal = iocm.Renewal(folder=relative.split("/")[1])
        assert iocm.sweep_staging(home, db) == 0 and (home.root / relative).is_dir()
        renewal.release()
        assert iocm.sweep_staging(home, db) == 1 and not (home.root / relative).exists()
    finally:
        db.close()
