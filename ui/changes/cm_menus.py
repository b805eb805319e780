"""The Content Manager's context menus: "Reallocate to..." on a series; lock,
unlock, "Request AI rescan" and the migrated mark on a study.

An action the user may not take is shown disabled, its tooltip naming the
privilege it needs. The menus are built unshown (the window pops them up),
so tests trigger their actions directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from app.accounts.accounts import PRIVILEGES, User
from ui.changes.cm_tree import SERIES, STUDY, Node

if TYPE_CHECKING:
    from ui.changes.cm_actions import ContentActions


def needs(user: User, privilege: str) -> str:
    """The tooltip of an action the user may not take."""
    return (f"Needs the {privilege} privilege (roles {', '.join(sorted(PRIVILEGES[privilege]))}); "
            f"you ({user.name}) have {', '.join(sorted(user.roles)) or 'no role'}")


def build(actions: "ContentActions", node: Node, selected_series: list[str]) -> QMenu:
    menu = QMenu(actions.window)
    menu.setToolTipsVisible(True)
    if node.kind == SERIES:
        series = selected_series if node.uid in selected_series else [node.uid]
        action = _action(menu, "Reallocate to...", lambda: actions.choose_destination(
            series, node.parent.uid), actions.can_manage, needs(actions.user, "content-management"))
        action.setObjectName("reallocateTo")
    elif node.kind == STUDY:
        _study_menu(actions, menu, node.data)
    return menu


def _study_menu(actions: "ContentActions", menu: QMenu, study: dict) -> None:
    uid, holder, user = study["study_instance_uid"], study.get("locked_by"), actions.user
    if holder:
        _action(menu, f"Unlock study (locked by {holder})", lambda: actions.unlock(uid),
                holder == user.name or "admin" in user.roles,
                f"Only {holder} or an admin can unlock it").setObjectName("unlockStudy")
    else:
        _action(menu, "Lock study", lambda: actions.lock(uid), True, "").setObjectName("lockStudy")
    _action(menu, "Request AI rescan", lambda: actions.request_rescan(uid), actions.can_manage,
            needs(user, "content-management")).setObjectName("requestRescan")
    menu.addSeparator()
    why = study.get("migrated")
    if why and "legacy" in why:
        _action(menu, "Migrated: from a legacy archive", lambda: None, False,
                f"Migrated because {why}; it cannot be unmarked")
    elif why:
        _action(menu, "Clear migrated mark", lambda: actions.mark_migrated(uid, False),
                user.can("configure"), needs(user, "configure")).setObjectName("unmarkMigrated")
    else:
        _action(menu, "Mark study migrated", lambda: actions.mark_migrated(uid, True),
                user.can("configure"), needs(user, "configure")).setObjectName("markMigrated")


def _action(menu: QMenu, text: str, slot: Callable, enabled: bool, refusal: str) -> QAction:
    action = menu.addAction(text)
    action.triggered.connect(lambda _checked=False: slot())
    action.setEnabled(enabled)
    if not enabled and refusal:
        action.setToolTip(refusal)
    return action
