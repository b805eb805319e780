"""What each cell of the RT view shows: a series with its tick (a partial
tick for what "With references" adds), its plan's approval, its images and
staged state; a plan that is not APPROVED, and everything under it, bold in
amber or red on a tinted row; a reference to an object missing from the
study as a warning row.

A mixin of :class:`ui.research.rt_tree_model.RtTreeModel` (the model holds
the tree and the ticks; this holds how they read).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor, QFont

from ui import formatting
from ui.research import data
from ui.research.series_state import (DONE, ERROR, MUTED, WARNING, staged_text, state_colour, state_text,
                                      state_tooltip)

if TYPE_CHECKING:
    from ui.research.rt_tree_model import Item

UNAPPROVED_TINT, REJECTED_TINT = QColor("#2b2214"), QColor("#2e1718")


def approval_of(item: Item) -> tuple[str, str]:
    """(text, level) of the Approval column; level: ok, warning, error, muted, ''."""
    node, plan = item.node, item.plan
    if node is None:
        return "", ""
    status = (plan.approval if plan is not None else node.approval).upper()
    level = "ok" if status == data.APPROVED else "error" if status == "REJECTED" else "warning"
    if plan is node:
        return (status or "NO APPROVAL STATUS"), level
    if plan is not None:
        return f"plan {status or 'without approval'}", "muted" if level == "ok" else level
    return status, ("ok" if status == data.APPROVED else "muted") if status else ""


class RtCells:
    """``data`` and tooltips of :class:`RtTreeModel` (a mixin)."""

    def check_state(self, series_uid: str) -> Qt.CheckState:
        if series_uid in self.ticks:
            return Qt.CheckState.Checked
        if series_uid in self._implied:
            return Qt.CheckState.PartiallyChecked
        return Qt.CheckState.Unchecked

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        item = self._item(index)
        if item is None:
            return None
        if item.node is None:
            return self._warning_data(item, index.column(), role)
        node, column = item.node, index.column()
        state = self._state.get(node.series_uid)
        approval, level = approval_of(item)
        if role == Qt.ItemDataRole.CheckStateRole and column == self.SERIES:
            return self.check_state(node.series_uid)
        if role == Qt.ItemDataRole.DisplayRole:
            return [f"{node.modality}   {node.label}", approval,
                    formatting.count(node.instance_count), staged_text(state), state_text(state)][column]
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == self.APPROVAL or (column == self.SERIES and level in ("warning", "error")):
                return {"ok": DONE, "warning": WARNING, "error": ERROR}.get(level, MUTED)
            return state_colour(state) if column in (self.STAGED, self.STATE) else None
        if role == Qt.ItemDataRole.FontRole and level in ("warning", "error") and column in (self.SERIES, self.APPROVAL):
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.BackgroundRole and level in ("warning", "error"):
            return REJECTED_TINT if level == "error" else UNAPPROVED_TINT
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(item, column, state, level)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == self.IMAGES:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _warning_data(self, item: Item, column: int, role: int) -> Any:
        if column != self.SERIES:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return f"\u26a0 {item.warning}"
        if role == Qt.ItemDataRole.ForegroundRole:
            return WARNING
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"Missing reference: {item.warning}"
        return None

    def _tooltip(self, item: Item, column: int, state: Optional[dict], level: str) -> str:
        node, plan = item.node, item.plan
        if column in (self.STAGED, self.STATE):
            return state_tooltip(state)
        lines = [f"Series {node.number if node.number is not None else '?'}: {node.modality} "
                 f"{node.label}", node.series_uid]
        if level in ("warning", "error") and plan is not None:
            lines.append(f"Plan \u201c{plan.label}\u201d is {plan.approval or 'without approval status'}: "
                         "not approved for treatment. Stage it only on purpose.")
        if node.series_uid in self._implied:
            lines.append("Added by \u201cWith references\u201d: a ticked series needs it")
        if node.warnings:
            lines.append(f"{len(node.warnings)} reference(s) to objects missing from this study")
        return "\n".join(lines)
