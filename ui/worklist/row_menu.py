"""The worklist's row menu (right click): lock, unlock, assign, delete, history.

Each entry is enabled or says why not in its tooltip: who holds a lock, the
privilege that is missing, why a delete is refused
(ui/worklist/action_bar.py decides the latter the same way for the bar).
What an entry does is the caller's: :func:`study_menu` takes the slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from app.accounts.accounts import User
from ui.worklist.action_bar import action_states, privilege_reason


@dataclass(frozen=True)
class RowSlots:
    """What the entries do, for the studies the menu was opened on."""

    lock: Callable
    unlock: Callable
    assign: Callable
    delete: Callable
    history: Callable


def lock_reasons(user: User, rows: list[dict]) -> tuple[str, str]:
    """Why Lock and why Unlock cannot be used on *rows* ('' when they can)."""
    me, admin = user.name, "admin" in user.roles
    holders = [r.get("locked_by") for r in rows]
    lock_why = "" if any(h is None for h in holders) else \
        ("Already locked" if len(rows) > 1 else
         "Locked by you" if holders[0] == me else f"Locked by {holders[0]}")
    others = [h for h in holders if h and h != me]
    unlock_why = "" if any(h == me or (h and admin) for h in holders) else \
        (f"Locked by {others[0]}: only they or an admin can unlock it" if others
         else "Not locked")
    return lock_why, unlock_why


def study_menu(parent: QWidget, user: User, rows: list[dict], unavailable: dict[str, str],
               slots: RowSlots) -> QMenu:
    """The menu for the studies of *rows* (their worklist rows, {} when unknown)."""
    count = f" {len(rows)} studies" if len(rows) > 1 else " study"
    menu = QMenu(parent)
    menu.setObjectName("rowMenu")
    menu.setToolTipsVisible(True)
    lock_why, unlock_why = lock_reasons(user, rows)
    _add(menu, "lock", "Lock" + count, lock_why,
         "Lock: changes by other users are refused until you unlock", slots.lock)
    _add(menu, "unlock", "Unlock" + count, unlock_why, "Release the lock", slots.unlock)
    menu.addSeparator()
    _add(menu, "assign", "Assign" + count + "...", privilege_reason(user, "assign", "Assigning studies"),
         "Assign to a reading radiologist", slots.assign)
    states = action_states(user, rows, unavailable)
    _add(menu, "delete", "Delete" + count + "...", states["delete"], "Move to the trash", slots.delete)
    menu.addSeparator()
    _add(menu, "history", "Show history", "", "The change journal", slots.history)
    return menu


def _add(menu: QMenu, key: str, text: str, why: str, tip: str, slot: Optional[Callable]) -> QAction:
    action = QAction(text, menu)
    action.setObjectName(f"menu_{key}")
    action.setEnabled(not why)
    action.setToolTip(why or tip)
    action.triggered.connect(slot)
    menu.addAction(action)
    return action
