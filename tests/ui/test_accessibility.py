"""Every control a screen reader reaches has a name: the main window, the
Content Manager, the settings, export and burn dialogs and the research window.

A control counts as named when it has an accessible name, or when it is a
button with text (what a screen reader reads out); a tab bar when each tab has
its title. Qt's own parts (scroll bars, header views, a combo box's popup, a
line edit's clear button) are Qt's to name. The names also find widgets, as a
user finds them by what they are called.
"""

from __future__ import annotations

from PySide6.QtWidgets import (QAbstractButton, QAbstractItemView, QAbstractSlider, QAbstractSpinBox, QComboBox,
                               QHeaderView, QLineEdit, QPlainTextEdit, QScrollBar, QTabBar, QTextEdit, QWidget)

from tests.ui.cm_helpers import close_cm, open_cm
from ui.jobs import JobRunner

WAIT = 10000  # ms; never reached when green
INTERACTIVE = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QAbstractItemView, QTabBar,
               QAbstractSlider, QTextEdit, QPlainTextEdit)
# Every folder's controls are named now (ui/net and ui/viewer also have their own
# walk, tests/ui/test_accessibility_net_viewer.py); nothing is skipped.
ELSEWHERE_MODULES: tuple[str, ...] = ()


def _qt_internal(widget: QWidget) -> bool:
    parent = widget.parent()
    return (widget.objectName().startswith("qt_") or isinstance(widget, (QScrollBar, QHeaderView))
            or (parent is not None and (parent.inherits("QComboBoxPrivateContainer")
                                        or isinstance(parent, (QLineEdit, QAbstractSpinBox, QComboBox)))))


def _elsewhere(widget: QWidget) -> bool:
    node = widget
    while node is not None:
        if ELSEWHERE_MODULES and type(node).__module__.startswith(ELSEWHERE_MODULES):
            return True
        node = node.parent()
    return False


def _named(widget: QWidget) -> bool:
    if widget.accessibleName().strip():
        return True
    if isinstance(widget, QAbstractButton):
        return bool(widget.text().replace("&", "").strip())
    if isinstance(widget, QTabBar):
        return widget.count() > 0 and all(widget.tabText(i).strip() for i in range(widget.count()))
    return False


def unnamed(top: QWidget) -> list[str]:
    """The interactive controls under *top* without a name, described."""
    return [f"{type(w).__name__} {w.objectName()!r} in {type(w.parent()).__name__}"
            for w in [top, *top.findChildren(QWidget)]
            if isinstance(w, INTERACTIVE) and not _qt_internal(w) and not _elsewhere(w) and not _named(w)]


def by_name(top: QWidget, name: str) -> QWidget:
    found = [w for w in top.findChildren(QWidget) if w.accessibleName() == name]
    assert len(found) == 1, (name, found)
    return found[0]


def test_the_main_window_and_settings_name_every_control(qtbot, make_window, loaded_home):
    window = make_window(loaded_home)
    assert unnamed(window) == []
    by_name(window, "Patient name").setText("DOE*")
    window.qbe.search_button.click()
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=WAIT)
    assert by_name(window, "Worklist") is window.table

    dialog = window.open_settings()
    qtbot.waitUntil(lambda: dialog.workstation.is_loaded and dialog.appearance.is_loaded, timeout=WAIT)
    assert unnamed(dialog) == []
    assert by_name(dialog, "AE title").text() == "STUDYDESK"
    assert by_name(dialog, "Theme").currentText() == "Dark"


def test_the_empty_home_names_its_buttons(qtbot, make_window, home):
    window = make_window(home)
    qtbot.waitUntil(lambda: window.empty.isVisible(), timeout=WAIT)
    assert unnamed(window) == []
    assert by_name(window, "Open the demo studies") is window.empty.demo_button


def test_the_content_manager_names_every_control(qtbot, qapp, loaded_home, admin):
    window = open_cm(qtbot, qapp, loaded_home, admin)
    try:
        assert unnamed(window) == []
        assert by_name(window.panes[0], "Scope").count() >= 1
    finally:
        close_cm(window)


def test_the_export_dialog_names_every_control(qtbot, loaded_home, admin, dicom_folder):
    from ui.export.export_dialog import ExportDialog

    runner = JobRunner()
    try:
        export = ExportDialog(loaded_home, admin, list(dicom_folder[1].values())[:2], runner)
        qtbot.addWidget(export)
        export.show()
        assert unnamed(export) == []
        assert by_name(export, "Destination") is export.destination
    finally:
        runner.shutdown()


def test_the_burn_dialog_names_every_control(qtbot, loaded_home, admin, dicom_folder, tmp_path):
    from tests.ui.test_burn_dialog import FakeDrive
    from ui.export.burn_dialog import BurnDialog

    runner = JobRunner()
    try:
        burn = BurnDialog(loaded_home, admin, list(dicom_folder[1].values())[:2], runner,
                          burner=FakeDrive(tmp_path))
        qtbot.addWidget(burn)
        burn.show()
        qtbot.waitUntil(lambda: burn.drives_loaded, timeout=WAIT)
        assert unnamed(burn) == []
        assert by_name(burn, "Disc label") is burn.label
    finally:
        runner.shutdown()


def test_the_research_window_names_every_control(qtbot, qapp, loaded_home, admin):
    from ui.research import open_research_window

    window = open_research_window(None, loaded_home, admin)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=WAIT)
    try:
        assert unnamed(window) == []
        assert by_name(window, "Active project") is window.project_box
    finally:
        window.close()
