"""The RT view's model: the radiotherapy series of a study as the tree
app.research.rt_tree rebuilds from the references (images -> structure set
-> plans -> doses and records), each series knowing the plan it is or hangs
under. Ticking a series ticks everything under it; unticking unticks them.
With "With references" on, the series the core will add (the ancestors of
what is ticked) are :meth:`RtTreeModel.implied`. How the cells read:
ui/research/rt_tree_cells.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, Qt

from app.research.rt_tree import Node, descendants
from ui.research import data
from ui.research.rt_tree_cells import RtCells
from ui.research.series_state import Ticks


@dataclass(eq=False)
class Item:
    node: Optional[Node]            # None: a warning row
    parent: Optional["Item"]
    row: int
    plan: Optional[Node] = None     # the plan this series is, or hangs under
    warning: str = ""
    children: list["Item"] = field(default_factory=list)


class RtTreeModel(RtCells, QAbstractItemModel):
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
    def setData(self, index: QModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        item = self._item(index)
        if item is None or item.node is None or role != Qt.ItemDataRole.CheckStateRole:
            return False
        uids = [item.node.series_uid] + [d.series_uid for d in descendants(item.node)]
        self.ticks.set(uids, Qt.CheckState(value) == Qt.CheckState.Checked)
        return True
