"""The main window's menu bar: File, Edit, View, Tools, Help.

Built from what the window hands over: the import actions, the scope
buttons, the docks' toggles, the listener service and :class:`MenuCommands`
(the callables the entries run); it returns the actions the window keeps
(:class:`MenuActions`). Every action gets an object name, so tests and the
shortcuts reference find them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QAbstractButton, QMenu, QMenuBar

from app.accounts.accounts import User
from ui.net.listener_status import ListenerService


@dataclass(frozen=True)
class MenuCommands:
    """What the entries do (each a callable taking no argument)."""

    quit: Callable
    tick_all: Callable  # Ctrl+A: every listed study of the table on show
    unselect_all: Callable  # Esc: clear that table's ticks
    settings: Callable
    show_trash: Callable
    find_patient: Callable
    refresh: Callable
    content_manager: Callable
    research: Callable
    outbox: Callable
    about: Callable


@dataclass(frozen=True)
class MenuActions:
    """The actions the window keeps: the View scope entries (disabled while a
    node is the source) and the Tools entries tests and the status bar use."""

    scope: list[QAction]
    content_manager: QAction
    research: QAction
    outbox: QAction
    listener: QAction


def add_action(owner: QObject, menu: QMenu, text: str, slot, shortcut=None, name: str = "") -> QAction:
    action = QAction(text, owner)
    if name:
        action.setObjectName(name)
    if shortcut is not None:
        action.setShortcut(shortcut)
    action.triggered.connect(slot)
    menu.addAction(action)
    return action


def build_menus(bar: QMenuBar, owner: QObject, commands: MenuCommands, *, user: User,
                import_actions: Iterable[QAction], scope_buttons: Iterable[tuple[QAbstractButton, str]],
                dock_toggles: Iterable[QAction], listener: ListenerService) -> MenuActions:
    """Fill *bar*; *scope_buttons* are the scope bar's (button, action name) pairs."""
    file_menu = bar.addMenu("&File")
    for action in import_actions:
        file_menu.addAction(action)
    file_menu.addSeparator()
    add_action(owner, file_menu, "&Quit", commands.quit, QKeySequence.StandardKey.Quit, "quit")
    edit = bar.addMenu("&Edit")
    # Ctrl+A, Space and Esc act in the worklist itself (ui/worklist/view.py);
    # these act in the table on show: the cache's or the node's.
    add_action(owner, edit, "&Tick all listed studies\tCtrl+A", commands.tick_all, name="tickAll")
    add_action(owner, edit, "&Unselect all\tEsc", commands.unselect_all, name="unselectAll")
    edit.addSeparator()
    add_action(owner, edit, "&Settings...", commands.settings, QKeySequence.StandardKey.Preferences,
               "settings")
    scope = _view_menu(bar, owner, commands, scope_buttons, dock_toggles)
    tools = _tools_menu(bar, owner, commands, user, listener)
    help_menu = bar.addMenu("&Help")
    add_action(owner, help_menu, "&About StudyDesk", commands.about, name="about")
    return MenuActions(scope, *tools)


def _view_menu(bar: QMenuBar, owner: QObject, commands: MenuCommands,
               scope_buttons: Iterable[tuple[QAbstractButton, str]],
               dock_toggles: Iterable[QAction]) -> list[QAction]:
    view_menu = bar.addMenu("&View")
    group = QActionGroup(owner)
    scope = []
    for button, name in scope_buttons:
        action = QAction(button.text(), owner, checkable=True)
        action.setObjectName(name)
        action.setChecked(button.isChecked())
        action.triggered.connect(button.setChecked)
        button.toggled.connect(action.setChecked)
        group.addAction(action)
        view_menu.addAction(action)
        scope.append(action)
    view_menu.addSeparator()
    jobs, history = dock_toggles
    view_menu.addAction(jobs)
    history.setShortcut("Ctrl+H")
    view_menu.addAction(history)
    add_action(owner, view_menu, "T&rash", commands.show_trash, name="showTrash")
    view_menu.addSeparator()
    add_action(owner, view_menu, "&Find patient", commands.find_patient, QKeySequence.StandardKey.Find)
    add_action(owner, view_menu, "&Refresh worklist", commands.refresh, QKeySequence.StandardKey.Refresh)
    return scope


def _tools_menu(bar: QMenuBar, owner: QObject, commands: MenuCommands, user: User,
                listener: ListenerService) -> tuple[QAction, QAction, QAction, QAction]:
    tools = bar.addMenu("&Tools")
    tools.setToolTipsVisible(True)
    manager = add_action(owner, tools, "&Content Manager...", commands.content_manager,
                         name="contentManager")
    research = add_action(owner, tools, "&Research projects...", commands.research, name="research")
    if not user.can("research"):
        research.setEnabled(False)
        research.setToolTip("Research projects need the research privilege (roles admin, researcher)")
    outbox = add_action(owner, tools, "&Outbox...", commands.outbox, name="outbox")
    outbox.setToolTip("What waits to be sent to DICOM nodes: IOCM corrections, AI rescan "
                      "requests (also a click on \"Outbox: N waiting\" in the status bar)")
    tools.addSeparator()
    toggle = QAction("Storage &listener", owner, checkable=True)
    toggle.setObjectName("listenerToggle")
    toggle.setEnabled(not listener.reason())
    toggle.setToolTip(listener.reason() or "Receive images that configured nodes send "
                                           "(shown in the status bar)")
    toggle.triggered.connect(listener.set_listening)
    listener.changed.connect(lambda: toggle.setChecked(listener.state in ("starting", "on")))
    tools.addAction(toggle)
    return manager, research, outbox, toggle
