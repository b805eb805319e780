"""The Edit dialog: the paginated Table view, the RT view (tree, approval,
parent ticks children, warnings), staging as a job with progress, Cancel and
the refreshed staged state."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont

from app.research.rt_tree import Node
from tests.ui.test_research_support import (PROJECT, cell, click_check, expand, open_edit,  # noqa: F401
                                            research_home, research_window, rt_files, rt_node)
from ui.research.edit_dialog import EditDialog
from ui.research.patient_table import PatientModel
from ui.research.rt_tree_view import RtTreeModel
from ui.research.series_table import SeriesTableModel, Ticks

CHECKED, PARTIAL, UNCHECKED = Qt.CheckState.Checked, Qt.CheckState.PartiallyChecked, Qt.CheckState.Unchecked


def tree_rows(model: RtTreeModel) -> list[tuple[int, str, str]]:
    """(depth, Series column, Approval column) of every row, depth first."""
    out = []

    def walk(parent, depth):
        for row in range(model.rowCount(parent)):
            out.append((depth, cell(model, row, 0, parent), cell(model, row, 1, parent)))
            walk(model.index(row, 0, parent), depth + 1)

    from PySide6.QtCore import QModelIndex
    walk(QModelIndex(), 0)
    return out


def test_table_view_is_paginated_with_ticks_and_staged_state(qtbot, research_window, qtmodeltester):
    shown = open_edit(qtbot, research_window)
    dialog = EditDialog(research_window.home, research_window.user, PROJECT, shown.subject, shown.study,
                        research_window.runner, research_window, page_size=4)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: not dialog.is_loading(), timeout=20000)
    table, model = dialog.table, dialog.table.model
    assert dialog.views.currentIndex() == 0 and dialog.views.tabText(0) == "Table view (6)"
    assert model.rowCount() == 4 and table.page_label.text().startswith("Page 1 of 2")
    assert [cell(model, r, SeriesTableModel.MODALITY) for r in range(4)] == ["CT", "RTSTRUCT", "RTPLAN", "RTDOSE"]
    assert {cell(model, r, SeriesTableModel.STAGED) for r in range(4)} == {"No"}
    assert cell(model, 0, SeriesTableModel.STATE) == "not staged"
    assert not table.previous.isEnabled()
    click_check(table.view, model.index(1, 0))                      # tick the structure set
    assert model.data(model.index(1, 0), Qt.ItemDataRole.CheckStateRole) == CHECKED
    assert dialog.ticked() == [model.series_at(1)["series_instance_uid"]]
    assert dialog.summary.text() == "1 series ticked" and dialog.stage_button.isEnabled()
    qtbot.mouseClick(table.next, Qt.MouseButton.LeftButton)
    assert model.rowCount() == 2 and table.page_label.text().startswith("Page 2 of 2")
    assert [cell(model, r, SeriesTableModel.MODALITY) for r in range(2)] == ["RTPLAN", "RTDOSE"]
    assert table.previous.isEnabled() and not table.next.isEnabled()
    qtmodeltester.check(model, force_py=True)
    # the ticks are shared with the RT view
    struct = rt_node(dialog, "RTSTRUCT")
    assert dialog.rt_model.check_state(struct.series_uid) == CHECKED
    dialog.close()


def test_rt_view_shows_the_chain_with_approval(qtbot, research_window, qtmodeltester):
    dialog = open_edit(qtbot, research_window)
    dialog.show_rt_view()
    assert dialog.views.currentIndex() == 1 and dialog.rt_stack.currentIndex() == 0
    assert tree_rows(dialog.rt_model) == [
        (0, "CT   RT Planning CT 3mm", ""),
        (1, "RTSTRUCT   Brain RT", "APPROVED"),
        (2, "RTPLAN   Plan A 60Gy", "APPROVED"),
        (3, "RTDOSE   Dose Plan A 60Gy", "plan APPROVED"),
        (2, "RTPLAN   Plan B 66Gy", "UNAPPROVED"),
        (3, "RTDOSE   Dose Plan B 66Gy", "plan UNAPPROVED"),
    ]
    model = dialog.rt_model
    plan_a = model.index_of(rt_node(dialog, "RTPLAN", "Plan A").series_uid)
    plan_b = model.index_of(rt_node(dialog, "RTPLAN", "Plan B").series_uid)
    dose_b = model.index_of(rt_node(dialog, "RTDOSE", "Plan B").series_uid)
    for index in (plan_b, dose_b):                 # the unapproved plan and its dose stand out
        assert model.data(index, Qt.ItemDataRole.FontRole).bold()
        assert model.data(index, Qt.ItemDataRole.BackgroundRole) is not None
        assert "not approved for treatment" in model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert model.data(plan_a, Qt.ItemDataRole.FontRole) is None
    assert model.data(plan_a, Qt.ItemDataRole.BackgroundRole) is None
    assert all(dialog.rt_view.isExpanded(model.index_of(i.node.series_uid))
               for i in model.items() if i.children)
    qtmodeltester.check(model, force_py=True)


def test_ticking_a_parent_ticks_its_children(qtbot, research_window):
    dialog = open_edit(qtbot, research_window)
    dialog.show_rt_view()
    model, view = dialog.rt_model, dialog.rt_view
    ct, struct = rt_node(dialog, "CT"), rt_node(dialog, "RTSTRUCT")
    plan_b, dose_b = rt_node(dialog, "RTPLAN", "Plan B"), rt_node(dialog, "RTDOSE", "Plan B")
    below = {struct.series_uid} | {n.series_uid for n in (rt_node(dialog, "RTPLAN", "Plan A"),
                                                           rt_node(dialog, "RTDOSE", "Plan A"), plan_b, dose_b)}
    click_check(view, model.index_of(struct.series_uid))
    assert dialog.ticks.uids() == below
    assert model.check_state(ct.series_uid) == UNCHECKED
    click_check(view, model.index_of(plan_b.series_uid))          # untick a branch: its dose goes too
    assert dialog.ticks.uids() == below - {plan_b.series_uid, dose_b.series_uid}
    assert "not approved" not in dialog.summary.text()
    click_check(view, model.index_of(dose_b.series_uid))
    assert "includes a plan not approved: Plan B 66Gy (UNAPPROVED)" in dialog.summary.text()
    # With references: the dose's chain above shows a partial tick
    dialog.ticks.clear()
    click_check(view, model.index_of(dose_b.series_uid))
    dialog.references.setChecked(True)
    assert [model.check_state(n.series_uid) for n in (ct, struct, plan_b, dose_b)] == [PARTIAL] * 3 + [CHECKED]
    assert "With references adds 3" in dialog.summary.text()


def test_missing_references_are_warnings(qtbot):
    ct = Node("1.1", "CT", "Planning CT", "", 1, 30)
    plan = Node("1.3", "RTPLAN", "Plan C", "REJECTED", 3, 1,
                warnings=["refers to instance 9.9.9, which is not in this study"])
    ct.children.append(plan)
    model = RtTreeModel(Ticks())
    model.set_tree([ct], {})
    assert tree_rows(model) == [(0, "CT   Planning CT", ""), (1, "RTPLAN   Plan C", "REJECTED"),
                                (2, "\u26a0 refers to instance 9.9.9, which is not in this study", None)]
    warning = model.index(0, 0, model.index_of("1.3"))
    assert not model.flags(warning) & Qt.ItemFlag.ItemIsUserCheckable
    assert isinstance(model.data(model.index_of("1.3"), Qt.ItemDataRole.FontRole), QFont)


def test_staging_from_the_dialog_marks_the_series_staged(qtbot, research_window):
    window = research_window
    dialog = open_edit(qtbot, window)
    dialog.show_rt_view()
    assert dialog.verdict.text() == "Nothing staged from this study yet"
    chain = [rt_node(dialog, "CT"), rt_node(dialog, "RTSTRUCT"), rt_node(dialog, "RTPLAN", "Plan A"),
             rt_node(dialog, "RTDOSE", "Plan A")]
    click_check(dialog.rt_view, dialog.rt_model.index_of(chain[-1].series_uid))
    qtbot.mouseClick(dialog.references, Qt.MouseButton.LeftButton)
    assert dialog.references.isChecked()
    with qtbot.waitSignal(dialog.state_refreshed, timeout=60000):
        qtbot.mouseClick(dialog.stage_button, Qt.MouseButton.LeftButton)
        assert dialog.is_staging() and dialog.cancel_button.isEnabled()
    assert dialog.result_text == "4 series staged, 0 already staged, 0 failed"
    model = dialog.rt_model
    for node in chain:
        index = model.index_of(node.series_uid)
        assert model.data(index.siblingAtColumn(RtTreeModel.STAGED)) == "Yes"
        assert model.data(index.siblingAtColumn(RtTreeModel.STATE)).startswith("done")
    for node in (rt_node(dialog, "RTPLAN", "Plan B"), rt_node(dialog, "RTDOSE", "Plan B")):
        assert model.data(model.index_of(node.series_uid).siblingAtColumn(RtTreeModel.STAGED)) == "No"
    assert dialog.verdict.property("level") == "done"
    assert dialog.verdict.text() == "\u2713 Staging finished: 4 of 4 series done, 33 of 33 instances staged"
    assert not dialog.progress.isVisible() and not dialog.cancel_button.isEnabled()
    table = dialog.table.model
    assert [cell(table, r, SeriesTableModel.STAGED) for r in range(table.rowCount())] == ["Yes"] * 4 + ["No"] * 2
    # the patient table follows: the study is now pseudonymised
    subject = window.model.subject_index("xId01")
    qtbot.waitUntil(lambda: cell(window.model, 0, PatientModel.PSEUDONYMISED,
                                 window.model.subject_index("xId01")) == "Yes", timeout=10000)
    assert cell(window.model, 0, PatientModel.STAGED, window.model.subject_index("xId01")) == "4 of 6"
    assert subject.isValid()


def test_an_unapproved_plan_asks_before_staging(qtbot, research_window):
    dialog = open_edit(qtbot, research_window)
    dialog.show_rt_view()
    plan_b = rt_node(dialog, "RTPLAN", "Plan B")
    click_check(dialog.rt_view, dialog.rt_model.index_of(plan_b.series_uid))
    qtbot.mouseClick(dialog.stage_button, Qt.MouseButton.LeftButton)
    box = dialog.confirm_box
    qtbot.waitUntil(box.isVisible, timeout=5000)
    assert "Plan B 66Gy" in box.text() and "UNAPPROVED" in box.text() and not dialog.is_staging()
    qtbot.mouseClick(box.button(box.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    assert not dialog.is_staging()
    qtbot.mouseClick(dialog.stage_button, Qt.MouseButton.LeftButton)
    box = dialog.confirm_box
    qtbot.waitUntil(box.isVisible, timeout=5000)
    (anyway,) = [b for b in box.buttons() if b.text() == "Stage anyway"]
    with qtbot.waitSignal(dialog.state_refreshed, timeout=60000):
        qtbot.mouseClick(anyway, Qt.MouseButton.LeftButton)
    assert dialog.result_text == "2 series staged, 0 already staged, 0 failed"


def test_cancel_stops_a_staging_job(qtbot, research_window):
    dialog = open_edit(qtbot, research_window)
    release = threading.Event()
    # another writer holds the (serialised) write pool, so the staging job waits
    blocker = research_window.runner.start("blocker", lambda p, c: release.wait(30), kind="write",
                                           visible=False)
    click_check(dialog.table.view, dialog.table.model.index(0, 0))
    qtbot.mouseClick(dialog.stage_button, Qt.MouseButton.LeftButton)
    assert dialog.message.text().startswith("Waiting")
    with qtbot.waitSignal(dialog.staging_finished, timeout=30000) as outcome:
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        release.set()
    assert outcome.args == ["cancelled"]
    qtbot.waitUntil(lambda: blocker.done, timeout=10000)
    qtbot.waitUntil(lambda: dialog.verdict.text() == "Nothing staged from this study yet", timeout=10000)
    assert "cancelled" in dialog.message.text() and dialog.stage_button.isEnabled()
