"""The main window's menu bar: File, Edit, View, Tools, Help.

Built from the window's parts; every action gets an object name, so tests
and the shortcuts reference find them.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup, QKeySequence

if TYPE_CHECKING:
    from ui.shell.main_window import MainWindow


def add_action(window: "MainWindow", menu, text: str, slot, shortcut=None, name: str = "") -> QAction:
    action = QAction(text, window)
    if name:
        action.setObjectName(name)
    if shortcut is not None:
        action.setShortcut(shortcut)
    action.triggered.connect(slot)
    menu.addAction(action)
    return action


def build_menus(w: "MainWindow") -> None:
    file_menu = w.menuBar().addMenu("&File")
    for key in ("files", "folder", "zip", "dicomdir"):
        file_menu.addAction(w.importer.actions[key])
    file_menu.addSeparator()
    add_action(w, file_menu, "&Quit", w.close, QKeySequence.StandardKey.Quit, "quit")
    edit = w.menuBar().addMenu("&Edit")
    # Ctrl+A, Space and Esc act in the worklist itself (ui/worklist/view.py).
    # ...in the table on show: the cache's or the node's (ui/net/remote_source.py)
    add_action(w, edit, "&Tick all listed studies\tCtrl+A",
               lambda: (w.remote.model if w.remote.active else w.model).tick_all(), name="tickAll")
    add_action(w, edit, "&Unselect all\tEsc",
               lambda: (w.remote.ticks if w.remote.active else w.ticks).clear(), name="unselectAll")
    edit.addSeparator()
    add_action(w, edit, "&Settings...", w.open_settings, QKeySequence.StandardKey.Preferences, "settings")
    _view_menu(w)
    _tools_menu(w)
    help_menu = w.menuBar().addMenu("&Help")
    add_action(w, help_menu, "&About StudyDesk", w.about, name="about")


def _view_menu(w: "MainWindow") -> None:
    view_menu = w.menuBar().addMenu("&View")
    scope = QActionGroup(w)
    for button, name in ((w.all_studies, "viewAll"), (w.my_studies, "viewMine"),
                         (w.scope.shared, "viewShared")):
        action = QAction(button.text(), w, checkable=True)
        action.setObjectName(name)
        action.setChecked(button.isChecked())
        action.triggered.connect(button.setChecked)
        button.toggled.connect(action.setChecked)
        scope.addAction(action)
        view_menu.addAction(action)
        w.scope_actions.append(action)
    view_menu.addSeparator()
    view_menu.addAction(w.jobs_dock.toggleViewAction())
    history = w.history_dock.toggleViewAction()
    history.setShortcut("Ctrl+H")
    view_menu.addAction(history)
    add_action(w, view_menu, "T&rash", lambda: w.show_history(trash=True), name="showTrash")
    view_menu.addSeparator()
    add_action(w, view_menu, "&Find patient", lambda: w.qbe.patient_name.setFocus(),
               QKeySequence.StandardKey.Find)
    add_action(w, view_menu, "&Refresh worklist", w.refresh_source, QKeySequence.StandardKey.Refresh)


def _tools_menu(w: "MainWindow") -> None:
    tools = w.menuBar().addMenu("&Tools")
    tools.setToolTipsVisible(True)
    w.content_manager_action = add_action(w, tools, "&Content Manager...", w.open_content_manager,
                                          name="contentManager")
    if importlib.util.find_spec("ui.changes.content_manager") is None:
        w.content_manager_action.setEnabled(False)
        w.content_manager_action.setToolTip(
            "The Content Manager is not part of this installation (ui.changes.content_manager)")
    w.research_action = add_action(w, tools, "&Research projects...", w.open_research, name="research")
    if not w.user.can("research"):
        w.research_action.setEnabled(False)
        w.research_action.setToolTip(
            "Research projects need the research privilege (roles admin, researcher)")
    w.outbox_action = add_action(w, tools, "&Outbox...", w.open_outbox, name="outbox")
    w.outbox_action.setToolTip("What waits to be sent to DICOM nodes: IOCM corrections, AI rescan "
                               "requests (also a click on \"Outbox: N waiting\" in the status bar)")
    tools.addSeparator()
    toggle = QAction("Storage &listener", w, checkable=True)
    toggle.setObjectName("listenerToggle")
    service = w.listener
    toggle.setEnabled(not service.reason())
    toggle.setToolTip(service.reason() or "Receive images that configured nodes send "
                                          "(shown in the status bar)")
    toggle.triggered.connect(service.set_listening)
    service.changed.connect(lambda: toggle.setChecked(service.state in ("starting", "on")))
    tools.addAction(toggle)
    w.listener_action = toggle
