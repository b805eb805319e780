"""The research window: the project selector, "Select one" (at most 10, PID
and StudySubjectID), "Bulk search" with partial ids, the patient table
expanding to studies with "Pseudonymised" and an Edit button, the New
project / Enrol / Re-identify dialogs."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.accounts import audit
from app.research import staging
from tests.ui.conftest import add_user
from tests.ui.test_research_support import (PROJECT, cell, close_window, expand, open_window,  # noqa: F401
                                            research_home, research_window, rt_files)
from ui.research.patient_table import PatientModel


def type_and_wait(qtbot, finder, text: str) -> list[dict]:
    line = finder.select.lineEdit()
    line.clear()
    with qtbot.waitSignal(finder.suggestions_shown, timeout=10000,
                          check_params_cb=lambda searched, _: searched == text) as blocker:
        qtbot.keyClicks(line, text)
    return blocker.args[1]


def shown_pids(window) -> list[str]:
    return [s["pid"] for s in window.model.subjects()]


def test_select_one_offers_at_most_ten_and_matches_pid_and_subject(qtbot, research_window):
    finder = research_window.finder
    assert research_window.project_box.currentData() == PROJECT
    assert shown_pids(research_window)[:2] == ["xId01", "xId02"] and research_window.model.rowCount() == 15
    research_window.activateWindow()
    finder.select.lineEdit().setFocus()
    qtbot.waitUntil(finder.select.lineEdit().hasFocus, timeout=5000)

    offered = type_and_wait(qtbot, finder, "Id")                 # 15 subjects match
    assert len(offered) == 10 and finder.select.count() == 10
    popup = finder.completer.popup()
    assert popup.isVisible() and popup.model().rowCount() == 10
    assert finder.select.lineEdit().text() == "Id"              # typing is not overwritten
    with qtbot.waitSignal(finder.suggestions_shown, timeout=10000) as blocker:
        qtbot.keyClicks(popup, "13")                              # typing goes on over the popup
    assert finder.select.lineEdit().text() == "Id13" and len(blocker.args[1]) == 1
    with qtbot.waitSignal(research_window.subjects_shown, timeout=5000):
        qtbot.keyClick(popup, Qt.Key.Key_Down)
        qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert shown_pids(research_window) == ["xId13"]

    offered = type_and_wait(qtbot, finder, "xId0")               # PIDs only
    assert [s["pid"] for s in offered] == [f"xId0{n}" for n in range(1, 10)]
    offered = type_and_wait(qtbot, finder, "yid1")               # StudySubjectIDs, any case
    assert [s["subject"] for s in offered] == [f"yId{n}" for n in range(10, 16)]
    assert finder.select.itemText(0) == "xId10  \u2014  yId10"
    assert type_and_wait(qtbot, finder, "zz") == [] and finder.select.count() == 0

    type_and_wait(qtbot, finder, "yId12")                        # Enter picks the subject
    with qtbot.waitSignal(research_window.subjects_shown, timeout=5000):
        qtbot.keyClick(finder.select.lineEdit(), Qt.Key.Key_Return)
    assert shown_pids(research_window) == ["xId12"]


def test_bulk_search_with_partial_ids_lists_unmatched_and_ambiguous(qtbot, research_window):
    finder = research_window.finder
    finder.bulk.setText("yId01, Id02, xId1, zz9")
    with qtbot.waitSignal(research_window.subjects_shown, timeout=10000):
        qtbot.keyClick(finder.bulk, Qt.Key.Key_Return)
    assert shown_pids(research_window) == ["xId01", "xId02"] + [f"xId{n}" for n in range(10, 16)]
    report = finder.report.text()
    assert finder.report.isVisible() and "8 subjects found" in report
    assert "No match: <b>zz9</b>" in report
    assert "More than one match: <b>xId1</b> \u2192 xId10, xId11" in report
    assert "Bulk search: 8 subjects" in research_window.status.text()

    with qtbot.waitSignal(research_window.subjects_shown, timeout=10000):
        qtbot.mouseClick(finder.show_all, Qt.MouseButton.LeftButton)
    assert research_window.model.rowCount() == 15 and not finder.report.isVisible()


def test_subject_expands_to_studies_with_pseudonymised_and_edit(qtbot, research_window, research_home,
                                                                admin, qtmodeltester):
    window, model = research_window, research_window.model
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers[PatientModel.PSEUDONYMISED] == "Pseudonymised" and headers[-1] == "Command"
    assert window.table.rootIsDecorated() and model.hasChildren(model.subject_index("xId01"))

    subject = expand(qtbot, window, "xId01")
    assert window.table.isExpanded(subject) and model.rowCount(subject) == 1
    assert cell(model, 0, PatientModel.DESCRIPTION, subject) == "CT RT Planning Brain"
    assert cell(model, 0, PatientModel.PSEUDONYMISED, subject) == "No"
    assert cell(model, 0, PatientModel.STAGED, subject) == "0 of 6"
    study = model.row_at(model.index(0, 0, subject)).data
    assert window.table.edit_button(study["study_instance_uid"]).isVisible()

    db = research_home.connect()          # stage Plan A's dose (and its chain) behind the window's back
    try:
        (dose,) = [u for (u,) in db.execute("SELECT series_instance_uid FROM series WHERE modality ="
                                            " 'RTDOSE' AND series_description LIKE '%Plan A%'")]
        staging.stage(research_home, db, admin, PROJECT, [dose], references=True)
    finally:
        db.close()
    with qtbot.waitSignal(model.studies_loaded, timeout=10000):
        window.refresh_action.trigger()
    subject = model.subject_index("xId01")
    assert cell(model, 0, PatientModel.PSEUDONYMISED, subject) == "Yes"
    assert cell(model, 0, PatientModel.STAGED, subject) == "4 of 6"
    assert cell(model, subject.row(), PatientModel.PSEUDONYMISED) == "Yes"   # the subject row sums up

    empty = expand(qtbot, window, "xId05")                 # enrolled, no imaging in the cache
    assert cell(model, 0, 0, empty) == "No studies of this subject in the cache"
    qtmodeltester.check(model, force_py=True)


def test_new_project_and_enrol_dialogs(qtbot, research_window):
    window = research_window
    dialog = window.new_project()
    assert not dialog.ok.isEnabled()
    dialog.name.setText("BRAIN MR")
    with qtbot.waitSignal(window.projects_loaded, timeout=10000):
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=10000)
    assert window.project == "BRAIN MR" and window.model.rowCount() == 0
    assert window.role_label.text() == f"{window.user.name}: admin of BRAIN MR"

    enrol = window.enrol()
    enrol.patient_id.setText("PID1001")
    enrol.pid.setText("b001")
    enrol.subject.setText("BRAIN-001")
    with qtbot.waitSignal(window.subjects_shown, timeout=10000):
        qtbot.mouseClick(enrol.ok, Qt.MouseButton.LeftButton)
    assert shown_pids(window) == ["b001"]

    again = window.enrol()                                  # refused: shown in the dialog
    for edit, text in ((again.patient_id, "PID1001"), (again.pid, "b002"), (again.subject, "B-2")):
        edit.setText(text)
    qtbot.mouseClick(again.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(again.error.isVisible, timeout=10000)
    assert "already enrolled" in again.error.text() and again.isVisible()
    again.reject()


def test_reidentify_is_for_project_admins_with_a_typed_reason(qtbot, qapp, research_window,
                                                             research_home, admin):
    window = research_window
    assert window.role == "admin" and window.reidentify_action.isEnabled()
    window.table.setCurrentIndex(window.model.subject_index("xId01"))
    dialog = window.reidentify()
    assert dialog.pid.text() == "xId01" and not dialog.ok.isEnabled()
    dialog.reason.setPlainText("adverse event follow-up")
    assert dialog.ok.isEnabled()
    with qtbot.waitSignal(dialog.succeeded, timeout=10000):
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert "clinical patient PID1001" in window.reidentified_box.text()
    db = research_home.connect()
    try:
        (entry,) = [e for e in audit.entries(db) if e["action"] == "reidentify"]
    finally:
        db.close()
    assert entry["user"] == admin.name and "adverse event follow-up" in entry["detail"]

    from app.research import projects

    member = add_user(research_home, "rachel", ["researcher"])
    db = research_home.connect()
    try:
        projects.add_member(db, admin, PROJECT, "rachel")
    finally:
        db.close()
    other = open_window(qtbot, qapp, research_home, member)
    try:
        assert other.role == "member" and not other.reidentify_action.isEnabled()
        assert "Only admins" in other.reidentify_action.toolTip()
        assert other.reidentify() is None
    finally:
        close_window(other)
