"""The Edit dialog's RT view: the radiotherapy series of a study as the tree
app.research.rt_tree rebuilds from the references (images -> structure set
-> plans -> doses and records).

Each plan shows its label and ApprovalStatus; a plan that is not APPROVED
(UNAPPROVED, REJECTED, or none at all) is drawn in amber or red, bold, on a
tinted row, and so is everything that hangs under it, so that it is not
staged by mistake. Ticking a series ticks everything under it; unticking
unticks them. With "With references" on, the series the core will add (the
ancestors of what is ticked) show a partial tick. References to objects that
are not in the study are warning rows under the series that makes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeView, QWidget

from app.research.rt_tree import Node, descendants
from ui import formatting
from ui.research import data
from ui.research.series_table import (DONE, ERROR, MUTED, WARNING, Ticks, staged_text, state_colour,
                                      state_text, state_tooltip)

UNAPPROVED_TINT, REJECTED_TINT = QColor("#2b2214"), QColor("#2e1718")


@dataclass(eq=False)
class Item:
    node: Optional[Node]            # None: a warning row
    parent: Optional["Item"]
    row: int
    plan: Optional[Node] = None     # the plan this series is, or hangs under
    warning: str = ""
    children: list["Item"] = field(default_factory=list)


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


class RtTreeModel(QAbstractItemModel):
    COLUMNS = ("Series", "Approval", "Images", "Staged", "State")
    SERIES, APPROVAL, IMAGES, STAGED, STATE = range(5)

    def __init__(self, ticks: Ticks, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.ticks = ticks
        self.references = False
        self.roots: list[Node] = []
        self._items: list[Item] = []
        self._state: dict[str, dict] = {}
        self._implied: set[str] = set()
        ticks.changed.connect(self._ticks_changed)

    # -- content ------------------------------------------------------------------------

    def set_tree(self, roots: list[Node], state: dict[str, dict]) -> None:
        self.beginResetModel()
        self.roots, self._state = list(roots), dict(state)
        self._items = [self._wrap(r, None, n, []) for n, r in enumerate(roots)]
        self._implied = data.needed(self.roots, self.ticks.uids()) if self.references else set()
        self.endResetModel()

    def _wrap(self, node: Node, parent: Optional[Item], row: int, above: list[Node]) -> Item:
        item = Item(node, parent, row, data.governing_plan(node, above))
        for warning in node.warnings:
            item.children.append(Item(None, item, len(item.children), warning=warning))
        for child in node.children:
            item.children.append(self._wrap(child, item, len(item.children), above + [node]))
        return item

    def set_state(self, state: dict[str, dict]) -> None:
        self._state = dict(state)
        self._refresh(self.STAGED, self.STATE)

    def set_references(self, on: bool) -> None:
        self.references = on
        self._ticks_changed()

    def implied(self) -> set[str]:
        """The series "With references" adds to the ticked ones."""
        return set(self._implied)

    def items(self) -> list[Item]:
        out, stack = [], list(reversed(self._items))
        while stack:
            item = stack.pop()
            out.append(item)
            stack += list(reversed(item.children))
        return out

    def index_of(self, series_uid: str, column: int = 0) -> QModelIndex:
        for item in self.items():
            if item.node is not None and item.node.series_uid == series_uid:
                return self.createIndex(item.row, column, item)
        return QModelIndex()

    def _ticks_changed(self) -> None:
        self._implied = data.needed(self.roots, self.ticks.uids()) if self.references else set()
        self._refresh(self.SERIES, self.SERIES)

    def _refresh(self, first: int, last: int) -> None:
        """dataChanged for columns first..last of every block of siblings."""
        blocks = [(QModelIndex(), self._items)] + [
            (self.createIndex(i.row, 0, i), i.children) for i in self.items() if i.children]
        for parent, children in blocks:
            if children:
                self.dataChanged.emit(self.index(0, first, parent),
                                      self.index(len(children) - 1, last, parent))

    # -- the model ------------------------------------------------------------------------

    def _item(self, index: QModelIndex) -> Optional[Item]:
        return index.internalPointer() if index.isValid() else None

    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:
        if parent.isValid() and parent.column() != 0:
            return QModelIndex()
        siblings = self._item(parent).children if parent.isValid() else self._items
        if 0 <= row < len(siblings) and 0 <= column < len(self.COLUMNS):
            return self.createIndex(row, column, siblings[row])
        return QModelIndex()

    def parent(self, index: QModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        item = self._item(index)
        if item is None or item.parent is None:
            return QModelIndex()
        return self.createIndex(item.parent.row, 0, item.parent)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        if parent.isValid():
            return len(self._item(parent).children) if parent.column() == 0 else 0
        return len(self._items)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        item = self._item(index)
        if item is None:
            return Qt.ItemFlag.NoItemFlags
        if item.node is None:
            return Qt.ItemFlag.ItemIsEnabled
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == self.SERIES:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

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

    def setData(self, index: QModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        item = self._item(index)
        if item is None or item.node is None or role != Qt.ItemDataRole.CheckStateRole:
            return False
        uids = [item.node.series_uid] + [d.series_uid for d in descendants(item.node)]
        self.ticks.set(uids, Qt.CheckState(value) == Qt.CheckState.Checked)
        return True


class RtTreeView(QTreeView):
    def __init__(self, model: RtTreeModel, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("rtTree")
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(False)
        self.setUniformRowHeights(True)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(RtTreeModel.SERIES, QHeaderView.ResizeMode.Stretch)
        model.modelReset.connect(self._reset)

    def _reset(self) -> None:
        self.expandAll()
        model: RtTreeModel = self.model()  # type: ignore[assignment]
        for item in model.items():
            if item.node is None:
                parent = model.createIndex(item.parent.row, 0, item.parent)
                self.setFirstColumnSpanned(item.row, parent, True)
