"""The merge drawer: cards, destination, pre-flight, reason, the merge job; history and Undo."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.ui.conftest import row_of, tick


def _click(widget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def _open(qtbot, window, key: str, *accessions: str):
    tick(window, *[row_of(window, accession_number=a) for a in accessions])
    panel = window.drawer.panel
    with qtbot.waitSignal(panel.checked, timeout=10000) as checked:
        _click(window.bar.buttons[key])
    assert window.drawer.isVisible()
    return panel, checked.args[0]


def _pid(key: str) -> str:
    """The patient ID of a patient merge side's key (PID^^^ISSUER)."""
    return key.split("^^^")[0]


def _accessions(window) -> list[str]:
    return sorted(window.model.study(r).get("accession_number") for r in range(window.model.rowCount()))


def test_drawer_shows_both_studies_and_make_destination_swaps(qtbot, window):
    panel, level = _open(qtbot, window, "merge", "ACC001", "ACC002")
    assert level == "ok" and panel.title.text() == "Merge studies"
    assert panel.patient.text().startswith("DOE, John\nP001")
    cards = panel.cards
    assert [c.rows[0]["accession_number"] for c in cards] == ["ACC001", "ACC002"]
    first = "\n".join(label.text() for label in cards[0].findChildren(type(panel.title)))
    assert "2024-01-10" in first and "CT CHEST" in first and "Accession ACC001" in first
    assert "3 series · 6 images" in first
    # the bigger study is the destination; Make destination under the other swaps
    assert panel.destination == 0 and cards[0].role.text().startswith("DESTINATION")
    assert not cards[0].button.isEnabled() and cards[1].button.text() == "Make destination"
    with qtbot.waitSignal(panel.checked, timeout=10000):
        _click(cards[1].button)
    assert panel.destination == 1 and cards[1].role.text().startswith("DESTINATION")
    assert cards[0].role.text().startswith("SOURCE")
    assert panel.source_key() == cards[0].rows[0]["study_instance_uid"]
    assert panel.confirm.isEnabled()  # same patient: no reason needed
    qtbot.waitUntil(lambda: all(c._thumb_labels for c in cards))  # series thumbnails
    assert len(cards[0]._thumb_labels) == 3


def test_different_patients_need_a_typed_reason(qtbot, window):
    panel, level = _open(qtbot, window, "merge_patients", "ACC003", "ACC004")
    assert level == "red" and panel.title.text() == "Merge patients"
    assert panel.banner.property("level") == "red"
    flags = [c.flag_texts() for c in panel.cards]
    assert any("name SMITH, Anna" in t for t in flags[0] + flags[1])
    assert any("name BROWN, Peter" in t for t in flags[0] + flags[1])
    assert all(c.property("flagged") == "red" for c in panel.cards)
    assert not panel.confirm.isEnabled()
    assert "type the reason" in panel.confirm.toolTip()
    QTest.keyClicks(panel.reason, "same person, registration error")
    assert panel.confirm.isEnabled()
    panel.reason.clear()
    assert not panel.confirm.isEnabled()
    QTest.keyClicks(panel.reason, "same person, registration error")
    job = panel.run()
    with qtbot.waitSignal(job.finished, timeout=30000):
        pass
    assert job.state == "succeeded"
    qtbot.waitUntil(lambda: not window.model.is_searching() and bool(window.history.changes)
                    and window.history.changes[0]["action"] == "merge-patients")
    assert window.history.changes[0]["reason"] == "same person, registration error"
    told = window.history.changes[0]["what"]   # the records by name and ID, whichever was kept
    assert told in ("Merged patient SMITH, Anna (P002) into BROWN, Peter (P003): 1 study",
                    "Merged patient BROWN, Peter (P003) into SMITH, Anna (P002): 1 study")
    names = {window.model.study(r)["patient_id"] for r in range(window.model.rowCount())}
    assert len(names) == 2  # P002 and P003 are one patient now, beside P001


def test_confirm_merges_then_history_undoes(qtbot, window):
    panel, _level = _open(qtbot, window, "merge", "ACC001", "ACC002")
    with qtbot.waitSignal(window.history.loaded, timeout=30000):
        _click(panel.confirm)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3 and not window.model.is_searching())
    assert not window.drawer.isVisible() and len(window.ticks) == 0
    history = window.history
    qtbot.waitUntil(lambda: history.selected_change() is not None)
    change = history.selected_change()
    assert change["action"] == "merge-studies" and not change["undone"]
    assert history.table.item(0, 3).text() == "Merge studies"
    assert history.table.item(0, 5).text() == ("Merged study 'CT HEAD 2023-03-05' (ACC002) into "
                                               "'CT CHEST 2024-01-10' (ACC001) of DOE, John: 1 series, 2 images")
    assert window.history_dock.isVisible()
    assert "History undoes it" in window.last_message
    box = history.ask_undo()
    assert box.isVisible() and "Study 'CT HEAD 2023-03-05' (ACC002) is split out again" in box.informativeText()
    with qtbot.waitSignal(history.changed, timeout=30000):
        _click(box.findChild(type(history.undo_button), "confirmButton"))
    qtbot.waitUntil(lambda: window.model.rowCount() == 4 and not window.model.is_searching())
    assert _accessions(window) == ["ACC001", "ACC002", "ACC003", "ACC004"]
    qtbot.waitUntil(lambda: len(history.changes) == 2)
    assert [c["action"] for c in history.changes] == ["undo", "merge-studies"]
    assert history.changes[1]["undone"]
    assert history.table.item(1, 3).text() == "Merge studies  (undone)"


def test_undo_refused_when_a_later_change_depends_on_it(qtbot, window):
    panel, _level = _open(qtbot, window, "merge", "ACC001", "ACC002")
    with qtbot.waitSignal(window.history.loaded, timeout=30000):
        _click(panel.confirm)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3 and not window.model.is_searching())
    merged = window.history.changes[0]["change_id"]
    # delete the merged study: a later change touching the same objects
    tick(window, row_of(window, patient_id="P001"))
    with qtbot.waitSignal(window.actions.changed, timeout=20000):
        window.actions.delete(window.ticks.uids())
    qtbot.waitUntil(lambda: len(window.history.changes) == 2)
    assert window.history.select_change(merged)
    box = window.history.ask_undo()
    with qtbot.waitSignal(window.history.changed, timeout=30000):
        _click(box.findChild(type(window.history.undo_button), "confirmButton"))
    note = window.history.note.text()
    assert "refused" in note and "later change" in note
    assert window.model.rowCount() == 2


def test_split_exam_of_the_demo_merges_into_one_study(qtbot, make_window, demo_home):
    window = make_window(demo_home)
    rows = [r for r in range(window.model.rowCount())
            if window.model.study(r)["patient_id"] == "PID1002"]
    assert len(rows) == 2
    before = window.model.rowCount()
    tick(window, *rows)
    assert window.bar.buttons["merge"].isEnabled()
    panel = window.drawer.panel
    with qtbot.waitSignal(panel.checked, timeout=10000) as checked:
        _click(window.bar.buttons["merge"])
    assert checked.args[0] == "ok"
    job = panel.run()
    with qtbot.waitSignal(job.finished, timeout=60000):
        pass
    qtbot.waitUntil(lambda: window.model.rowCount() == before - 1 and not window.model.is_searching())
    merged = [window.model.study(r) for r in range(window.model.rowCount())
              if window.model.study(r)["patient_id"] == "PID1002"]
    assert len(merged) == 1 and merged[0]["series_count"] == 3


def test_patient_merge_proposes_the_primary_record_and_says_why(qtbot, make_window, demo_home):
    """The demo's PID1002 (two studies) and PID1002-B (one CT with more images):
    one study of each ticked, the drawer keeps PID1002, not the suffixed ID."""
    window = make_window(demo_home)
    model = window.model
    primary = next(r for r in range(model.rowCount()) if model.study(r)["patient_id"] == "PID1002")
    suffixed = next(r for r in range(model.rowCount()) if model.study(r)["patient_id"] == "PID1002-B")
    assert (model.study(suffixed)["instance_count"] or 0) > (model.study(primary)["instance_count"] or 0)
    tick(window, suffixed, primary)                       # the suffixed one ticked first
    panel = window.drawer.panel
    with qtbot.waitSignal(panel.checked, timeout=10000):
        _click(window.bar.buttons["merge_patients"])
    # each side names its record (PID^^^ISSUER)
    assert _pid(panel.destination_key()) == "PID1002" and _pid(panel.source_key()) == "PID1002-B"
    assert panel.proposal_label.isVisible()
    said = panel.proposal_label.text()
    assert "Keep PID1002" in said and "PID1002-B" in said and "suffix" in said
    keep = next(c for c in panel.cards if _pid(c.key) == "PID1002")
    assert keep.role.text().startswith("DESTINATION") and "2 studies in the cache" in keep.study_count.text()
    other = next(c for c in panel.cards if _pid(c.key) == "PID1002-B")
    with qtbot.waitSignal(panel.checked, timeout=10000):   # the user may still choose otherwise
        _click(other.button)
    assert _pid(panel.destination_key()) == "PID1002-B"
    assert "You chose to keep PID1002-B instead" in panel.proposal_label.text()


def test_two_records_under_one_patient_id_merge_from_the_window(qtbot, make_window, home, tmp_path):
    """PR1 issued by HOSP (two studies) and PR1 without an issuer (one): the
    window sees two patients, proposes the record with more studies, and the
    merge leaves one record of PR1 holding all three studies."""
    from app.worklist import query as worklist
    from app.home import os_login
    from app.importing.importer import import_paths
    from tests.factories import ct_dataset, write

    for folder, issuer, study in (("hosp", "HOSP", "h1"), ("hosp", "HOSP", "h2"), ("bare", None, "b1")):
        ds = ct_dataset(patient_id="PR1", patient_name="ROSS^RITA", study=study)
        if issuer:
            ds.IssuerOfPatientID = issuer
        write(ds, tmp_path / folder / f"{ds.SOPInstanceUID}.dcm")
    assert import_paths(home, [tmp_path / "hosp", tmp_path / "bare"], os_login()).imported == 3
    window = make_window(home)
    model = window.model
    bare = next(r for r in range(model.rowCount()) if not model.study(r)["issuer"])
    hosp = next(r for r in range(model.rowCount()) if model.study(r)["issuer"] == "HOSP")
    tick(window, bare, hosp)
    assert window.bar.buttons["merge_patients"].isEnabled()
    panel = window.drawer.panel
    with qtbot.waitSignal(panel.checked, timeout=10000):
        _click(window.bar.buttons["merge_patients"])
    assert panel.destination_key() == "PR1^^^HOSP" and panel.source_key() == "PR1^^^"
    assert "Keep PR1 (issuer HOSP)" in panel.proposal_label.text()
    panel.reason.setText("one patient registered twice")
    qtbot.waitUntil(panel.confirm.isEnabled, timeout=10000)
    job = panel.run()
    with qtbot.waitSignal(job.finished, timeout=60000):
        pass
    db = home.connect()
    try:
        records = worklist.patient_records(db, "PR1")
        assert [r["issuer_of_patient_id"] for r in records] == ["HOSP"]
        assert worklist.patient_card(db, "PR1")["study_count"] == 3
    finally:
        db.close()
