"""The Content Manager's rules, each refused with its reason; AI results
cleared and a rescan requested (the user told both); IOCM mode with undo."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from PySide6.QtWidgets import QPushButton

from app import store
from app.accounts import accounts
from app.net.outbox import queue as outbox
from app.changes import locks
from app.importing.importer import import_paths
from app.net.nodes import add_node
from tests.ui.cm_helpers import (cached_uid, close_cm, confirm, confirmation, drag_and_drop, open_cm, refusal,
                                 search, series_node, study_node, tree_of)

BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"


def undo_newest(qtbot, cm) -> None:
    """Undo in the history panel the way a user does: the newest change is
    selected, Undo asks, the answer is Undo."""
    qtbot.waitUntil(cm.history.undo_button.isEnabled, timeout=20000)
    cm.history.undo_button.click()
    box = cm.history.question
    assert box is not None and "Undo puts it back" in box.informativeText()
    box.findChild(QPushButton, "confirmButton").click()


@pytest.fixture
def cm(qtbot, qapp, loaded_home, admin):
    window = open_cm(qtbot, qapp, loaded_home, admin)
    yield window
    close_cm(window)


@pytest.fixture
def users(loaded_home, admin):
    db = loaded_home.connect()
    made = {"carla": accounts.add_user(db, admin, "carla", ["content-manager"]),
            "chris": accounts.add_user(db, admin, "chris", ["content-manager"])}
    db.close()
    return made


def _study_uid(home, accession: str) -> str:
    return cached_uid(home, "studies", "accession_number", accession)


def _menu_action(window, pane, accession: str, name: str):
    node = study_node(pane, accession)
    return next(a for a in window.actions.menu(node, []).actions() if a.objectName() == name)


def _acted(qtbot, window, action) -> None:
    with qtbot.waitSignal(window.actions.changed, timeout=20000):
        action.trigger()
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=20000)


def test_lock_on_either_side_refuses_and_the_holder_or_an_admin_unlocks(
        qtbot, qapp, cm, loaded_home, users):
    left, right = cm.panes
    db = loaded_home.connect()
    locks.lock(db, users["chris"], _study_uid(loaded_home, "ACC002"))
    db.close()
    search(qtbot, left, "ACC001", scope="All studies")
    search(qtbot, right, "ACC002", scope="All studies")
    assert study_node(right, "ACC002").data["locked_by"] == "chris"
    lung = series_node(left, "Lung 1mm").uid
    drag_and_drop(left, [lung], right, "ACC002")
    text = refusal(qtbot, cm)
    assert "locked by chris" in text and "Unlock study" in text
    assert cm.actions.dialog is None                       # refused before any confirmation
    carla = open_cm(qtbot, qapp, loaded_home, users["carla"])
    try:
        search(qtbot, carla.panes[0], "ACC002")
        action = _menu_action(carla, carla.panes[0], "ACC002", "unlockStudy")
        assert not action.isEnabled() and "Only chris or an admin" in action.toolTip()
    finally:
        close_cm(carla)
    unlock = _menu_action(cm, right, "ACC002", "unlockStudy")
    assert unlock.isEnabled()                              # an admin
    _acted(qtbot, cm, unlock)
    assert study_node(right, "ACC002").data["locked_by"] is None
    db = loaded_home.connect()                             # the source side too
    locks.lock(db, users["chris"], _study_uid(loaded_home, "ACC001"))
    db.close()
    cm.refresh()
    qtbot.waitUntil(lambda: not cm.is_busy())
    drag_and_drop(left, [lung], right, "ACC002")
    assert "locked by chris" in refusal(qtbot, cm)
    _acted(qtbot, cm, _menu_action(cm, left, "ACC001", "unlockStudy"))
    drag_and_drop(left, [lung], right, "ACC002")
    confirm(qtbot, cm, confirmation(qtbot, cm))
    assert "Lung 1mm" in tree_of(right)["ACC002"]


def test_migrated_studies_are_neither_source_nor_destination(qtbot, qapp, cm, loaded_home, admin, users):
    left, right = cm.panes
    search(qtbot, left, "ACC001", scope="All studies")
    search(qtbot, right, "ACC002")
    lung = series_node(left, "Lung 1mm").uid
    carla = open_cm(qtbot, qapp, loaded_home, users["carla"])
    try:
        search(qtbot, carla.panes[0], "ACC002")
        action = _menu_action(carla, carla.panes[0], "ACC002", "markMigrated")
        assert not action.isEnabled() and "configure privilege" in action.toolTip()
    finally:
        close_cm(carla)
    _acted(qtbot, cm, _menu_action(cm, right, "ACC002", "markMigrated"))   # an admin marks it
    assert study_node(right, "ACC002").data["migrated"] == "an admin marked it migrated"
    drag_and_drop(left, [lung], right, "ACC002")
    assert "migrated" in refusal(qtbot, cm)
    _acted(qtbot, cm, _menu_action(cm, right, "ACC002", "unmarkMigrated"))
    _acted(qtbot, cm, _menu_action(cm, left, "ACC001", "markMigrated"))     # the source side
    drag_and_drop(left, [lung], right, "ACC002")
    assert "migrated" in refusal(qtbot, cm)
    _acted(qtbot, cm, _menu_action(cm, left, "ACC001", "unmarkMigrated"))
    db = loaded_home.connect()                             # from a node set up as a legacy archive
    add_node(db, admin, "OLDPACS", "OLDPACS", "127.0.0.1", 104, purposes=["legacy"])
    db.execute("UPDATE studies SET source_node = 'OLDPACS' WHERE accession_number = 'ACC003'")
    db.close()
    search(qtbot, right, "ACC003", scope="All studies")
    assert "legacy archive" in study_node(right, "ACC003").data["migrated"]
    legacy = [a for a in cm.actions.menu(study_node(right, "ACC003"), []).actions()
              if a.text().startswith("Migrated")]
    assert legacy and not legacy[0].isEnabled()
    drag_and_drop(left, [lung], right, "ACC003")
    assert "legacy archive" in refusal(qtbot, cm)


def _ai_sr(folder, home, accession: str, series_description: str, manufacturer: str):
    """An SR made by an AI algorithm, referring to one series' images."""
    db = home.connect()
    study_uid = _study_uid(home, accession)
    series_uid = db.execute("SELECT series_instance_uid FROM series WHERE series_description = ?",
                            [series_description]).fetchone()[0]
    refs = db.execute("SELECT sop_class_uid, sop_instance_uid FROM instances"
                      " WHERE series_instance_uid = ?", [series_uid]).fetchall()
    patient = db.execute("SELECT p.patient_name, p.patient_id, p.patient_birth_date FROM patients p"
                         " JOIN studies s ON s.patient_pk = p.id WHERE s.study_instance_uid = ?",
                         [study_uid]).fetchone()
    db.close()
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = BASIC_TEXT_SR
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = BASIC_TEXT_SR, ds.file_meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = patient
    ds.StudyInstanceUID, ds.AccessionNumber, ds.StudyDate = study_uid, accession, "20240110"
    ds.SeriesInstanceUID, ds.SeriesNumber, ds.Modality = generate_uid(), 90, "SR"
    ds.SeriesDescription, ds.Manufacturer, ds.InstanceNumber = "AI findings", manufacturer, 1
    evidence = Dataset()
    evidence.StudyInstanceUID = study_uid
    item = Dataset()
    item.SeriesInstanceUID = series_uid
    item.ReferencedSOPSequence = []
    for sop_class, sop in refs:
        ref = Dataset()
        ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = sop_class, sop
        item.ReferencedSOPSequence.append(ref)
    evidence.ReferencedSeriesSequence = [item]
    ds.CurrentRequestedProcedureEvidenceSequence = [evidence]
    # the SR Document Content and General modules' type 1 attributes
    ds.ValueType, ds.CompletionFlag, ds.VerificationFlag = "CONTAINER", "COMPLETE", "UNVERIFIED"
    title = Dataset()
    title.CodeValue, title.CodingSchemeDesignator, title.CodeMeaning = "18748-4", "LN", "Diagnostic imaging report"
    ds.ConceptNameCodeSequence = [title]
    finding = Dataset()
    finding.RelationshipType, finding.ValueType, finding.TextValue = "CONTAINS", "TEXT", "nodule"
    ds.ContentSequence = [finding]
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / "ai.dcm", enforce_file_format=True)
    import_paths(home, [folder], "test")


def test_ai_results_are_cleared_and_a_rescan_requested(qtbot, cm, loaded_home, admin, tmp_path):
    loaded_home.set_setting("ai.algorithms", "AcmeAI, Other Algo")
    db = loaded_home.connect()
    add_node(db, admin, "AIBOX", "AIBOX", "127.0.0.1", 11113, purposes=["ai"])
    db.close()
    _ai_sr(tmp_path / "ai", loaded_home, "ACC001", "Axial 5mm", "acmeai")
    left, right = cm.panes
    search(qtbot, left, "ACC001", scope="All studies")
    search(qtbot, right, "ACC002", scope="All studies")
    assert "AI findings" in tree_of(left)["ACC001"]
    axial = series_node(left, "Axial 5mm").uid
    drag_and_drop(left, [axial], right, "ACC002")
    dialog = confirmation(qtbot, cm)
    notice = dialog.findChild(type(dialog.banner), "aiNotice")
    assert "AI findings" in notice.text() and "AcmeAI" in notice.text()
    assert dialog.preview.dependents == []                 # the SR is cleared, not moved
    outcome = confirm(qtbot, cm, dialog)
    assert [why for _, why in outcome.ai_cleared] == ["made by AI algorithm AcmeAI"]
    qtbot.waitUntil(lambda: any(b.objectName() == "cmResult" for b in cm.actions.boxes()))
    told = next(b for b in cm.actions.boxes() if b.objectName() == "cmResult").informativeText()
    assert "AI results cleared" in told and "rescan" in told and "AIBOX" in told
    assert tree_of(left) == {"ACC001": ["Lung 1mm", "Contours"]}
    assert study_node(right, "ACC002").data["ai_rescan_pending"]
    assert "AI rescan pending" in right.model.data(
        right.model.index_of("study", study_node(right, "ACC002").uid).siblingAtColumn(5))
    db = loaded_home.connect()
    assert [(e["kind"], e["node"]) for e in outbox.entries(db)] == [("ai-rescan", "AIBOX")]
    db.close()
    _acted(qtbot, cm, _menu_action(cm, left, "ACC001", "requestRescan"))   # by hand
    assert "AI rescan requested" in cm.status.text()
    assert study_node(left, "ACC001").data["ai_rescan_pending"]


def test_iocm_mode_renews_uids_and_undoes(qtbot, cm, loaded_home):
    loaded_home.set_setting("iocm", "true")
    left, right = cm.panes
    search(qtbot, left, "ACC001", scope="All studies")
    search(qtbot, right, "ACC002", scope="All studies")
    lung = series_node(left, "Lung 1mm").uid
    drag_and_drop(left, [lung], right, "ACC002")
    dialog = confirmation(qtbot, cm)
    assert dialog.preview.iocm and dialog.title.isVisibleTo(dialog)
    dialog.title.setCurrentIndex(dialog.title.findData("113037"))
    outcome = confirm(qtbot, cm, dialog)
    moved = series_node(right, "Lung 1mm").uid
    assert moved != lung and outcome.renewal.uid_map[lung] == moved
    (note, _, path) = outcome.renewal.notes[0]
    kos = pydicom.dcmread(store.absolute(loaded_home, path))
    assert kos.ConceptNameCodeSequence[0].CodeValue == "113037"
    undo_newest(qtbot, cm)
    qtbot.waitUntil(lambda: cm.history.changes and cm.history.changes[0]["action"] == "undo"
                    and not cm.is_busy(), timeout=20000)
    assert series_node(left, "Lung 1mm").uid == lung
    assert "Lung 1mm" not in tree_of(right)["ACC002"]
    assert not store.absolute(loaded_home, path).exists()
