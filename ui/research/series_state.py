"""The staging state of a series as both Edit dialog views show it (text,
colour, tooltip), and the ticks the two views share: one :class:`Ticks`
(Series Instance UIDs), so a series ticked in the Table view is ticked in
the RT view.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor

DONE, WARNING, ERROR, MUTED = QColor("#5fb878"), QColor("#d08a4a"), QColor("#d25a5a"), QColor("#8c96a3")


class Ticks(QObject):
    """The ticked series (UIDs); ``changed`` after every change."""

    changed = Signal()

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self._uids: set[str] = set()

    def __contains__(self, uid: str) -> bool:
        return uid in self._uids

    def __len__(self) -> int:
        return len(self._uids)

    def uids(self) -> set[str]:
        return set(self._uids)

    def set(self, uids, on: bool) -> None:
        before = set(self._uids)
        if on:
            self._uids.update(uids)
        else:
            self._uids.difference_update(uids)
        if self._uids != before:
            self.changed.emit()

    def clear(self) -> None:
        self.set(list(self._uids), False)


# -- how a staging state reads (both views) ---------------------------------------------


def staged_text(state: Optional[dict]) -> str:
    if not state or state["staged_instances"] == 0:
        return "No"
    if state["staged"]:
        return "Yes"
    return f"Partly ({state['staged_instances']} of {state['instances']})"


def state_text(state: Optional[dict]) -> str:
    if not state:
        return "not staged"
    text = state["state"]
    if text == "done":
        return f"done  {state['staged_instances']}/{state['instances']}"
    return text


def state_colour(state: Optional[dict]) -> QColor:
    name = (state or {}).get("state", "not staged")
    if name == "done" and state["staged"]:
        return DONE
    if name == "failed":
        return ERROR
    if name in ("queued", "running", "partial") or (name == "done" and not state["staged"]):
        return WARNING
    return MUTED


def state_tooltip(state: Optional[dict]) -> str:
    if not state:
        return "Not staged into this project"
    tip = (f"{state['state']}: {state['staged_instances']} of {state['instances']} "
           "instances staged")
    return f"{tip}\n{state['reason']}" if state.get("reason") else tip
