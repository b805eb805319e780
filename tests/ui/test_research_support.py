"""Fixtures and helpers for the research window tests (no tests here).

A home holding app.demo's RT chain for PID1001 (planning CT -> RTSTRUCT ->
"Plan A 60Gy" APPROVED / "Plan B 66Gy" UNAPPROVED -> one RTDOSE each), and
project RT-TRIAL with PID1001 enrolled as xId01 / yId01 plus 14 subjects
whose imaging is not in the cache (xId02..xId15 / yId02..yId15), so that a
search for "Id" has more than 10 matches.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

PROJECT = "RT-TRIAL"


@pytest.fixture(scope="session")
def rt_files(tmp_path_factory):
    from app.demo import generate_demo

    folder = tmp_path_factory.mktemp("rt-demo")
    generate_demo(folder, patients=1)
    return folder


@pytest.fixture
def research_home(home, rt_files, admin):
    from app.importing.importer import import_paths
    from app.research import projects

    result = import_paths(home, [rt_files], admin.name)
    assert result.imported and not result.rejected
    db = home.connect()
    try:
        projects.create(db, admin, PROJECT)
        projects.enrol(db, admin, PROJECT, "PID1001", "xId01", "yId01")
        for n in range(2, 16):
            projects.enrol(db, admin, PROJECT, f"PX{n:02d}", f"xId{n:02d}", f"yId{n:02d}")
    finally:
        db.close()
    return home


def open_window(qtbot, qapp, home, user):
    from ui.app import apply_theme
    from ui.research import open_research_window

    apply_theme(qapp)
    window = open_research_window(None, home, user)
    qtbot.addWidget(window)
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.project == PROJECT and not window.is_busy(), timeout=10000)
    return window


def close_window(window) -> None:
    for dialog in window.dialogs.values():
        dialog.close()
    window.runner.shutdown()
    window.close()


@pytest.fixture
def research_window(qtbot, qapp, research_home, admin):
    window = open_window(qtbot, qapp, research_home, admin)
    yield window
    close_window(window)


def expand(qtbot, window, pid: str) -> QModelIndex:
    """Expand the subject *pid* (its studies are read by a job); its index."""
    index = window.model.subject_index(pid)
    assert index.isValid(), pid
    with qtbot.waitSignal(window.model.studies_loaded, timeout=10000,
                          check_params_cb=lambda loaded: loaded == pid):
        window.table.expand(index)
    return window.model.subject_index(pid)


def open_edit(qtbot, window, pid: str = "xId01"):
    """Expand *pid*, click the Edit button of its first study, wait for the dialog."""
    subject = expand(qtbot, window, pid)
    study = window.model.row_at(window.model.index(0, 0, subject)).data
    button = window.table.edit_button(study["study_instance_uid"])
    assert button is not None and button.text() == "Edit"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = window.dialogs[f"{PROJECT}/{study['study_instance_uid']}"]
    qtbot.waitUntil(lambda: not dialog.is_loading(), timeout=20000)
    qtbot.waitExposed(dialog)
    return dialog


def cell(model, row: int, column: int, parent: QModelIndex = QModelIndex(), role=Qt.ItemDataRole.DisplayRole):
    return model.data(model.index(row, column, parent), role)


def click_check(view, index: QModelIndex) -> None:
    """Click the tick box of *index* in *view*, as a user does."""
    view.scrollTo(index)
    option = QStyleOptionViewItem()
    view.initViewItemOption(option)
    option.rect = view.visualRect(index)
    option.features |= QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator
    rect = view.style().subElementRect(QStyle.SubElement.SE_ItemViewItemCheckIndicator, option, view)
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     rect.center())


def rt_node(dialog, modality: str, text: str = ""):
    (item,) = [i for i in dialog.rt_model.items()
               if i.node is not None and i.node.modality == modality and text in i.node.label]
    return item.node
