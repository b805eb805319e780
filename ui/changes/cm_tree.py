"""The Content Manager's tree: patient -> study -> series, with drag and drop.

A series is dragged as ``application/x-studydesk-series`` (JSON: the series
UIDs and their studies; text/plain carries the UIDs too). A study, or any
series of it, accepts the drop when it is not the series' own study; the
model then emits ``series_dropped(series_uids, study_uid)`` (after the drop
event has finished) and changes nothing itself: the window confirms, runs the
reallocation as a job and searches again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from PySide6.QtCore import QAbstractItemModel, QMimeData, QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QTreeView, QWidget

from ui.changes import cm_rows
from ui.changes.cm_rows import ICON, MUTED as _MUTED, PATIENT, SERIES, STUDY
from ui.worklist import status_icons
from ui.worklist.thumbnails import IMAGE, Thumbnail, ThumbnailLoader

MIME = "application/x-studydesk-series"
COLUMNS = ("Patient / study / series", "Modality", "Date", "Accession", "Images", "Status")
# what a typical value looks like, to size each column
COLUMN_SAMPLES = ("#12 Abdomen portal venous 8mm", "RTSTRUCT", "0000-00-00", "ACC10031-0",
                  "0,000", "")  # the last column stretches
_WARNING = QColor("#d08a4a")
_ERROR = QColor("#d25a5a")


@dataclass(eq=False)
class Node:
    kind: str
    data: dict
    parent: Optional["Node"]
    row: int
    id: int = 0
    children: list["Node"] = field(default_factory=list)

    @property
    def uid(self) -> str:
        return self.data.get("series_instance_uid") or self.data.get("study_instance_uid") or str(self.data.get("pk"))

    def study(self) -> Optional["Node"]:
        """The study a drop on this node means (a series: its own study)."""
        return self if self.kind == STUDY else self.parent if self.kind == SERIES else None


class ContentTreeModel(QAbstractItemModel):
    series_dropped = Signal(list, str)   # series UIDs, destination study UID

    def __init__(self, thumbnails: ThumbnailLoader, can_drag: bool, user: str = "", parent=None):
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.can_drag = can_drag
        self.user = user            # "locked by you" and "by someone else" look different
        self._roots: list[Node] = []
        self._nodes: dict[int, Node] = {}
        self._icons: dict[str, QPixmap] = {}
        thumbnails.ready.connect(self._thumbnail_ready)

    # -- content -------------------------------------------------------------------

    def set_tree(self, tree: dict) -> None:
        self.beginResetModel()
        self._roots, self._nodes = [], {}
        for p_row, patient in enumerate(tree.get("patients", [])):
            p_node = self._add(Node(PATIENT, patient, None, p_row))
            self._roots.append(p_node)
            for s_row, study in enumerate(patient["studies"]):
                s_node = self._add(Node(STUDY, study, p_node, s_row))
                p_node.children.append(s_node)
                for r_row, series in enumerate(study["series"]):
                    s_node.children.append(self._add(Node(SERIES, series, s_node, r_row)))
        self.endResetModel()

    def _add(self, node: Node) -> Node:
        node.id = len(self._nodes) + 1
        self._nodes[node.id] = node
        return node

    def node(self, index: QModelIndex) -> Optional[Node]:
        return self._nodes.get(index.internalId()) if index.isValid() else None

    def index_of(self, kind: str, uid: str) -> QModelIndex:
        for node in self._nodes.values():
            if node.kind == kind and node.uid == uid:
                return self.createIndex(node.row, 0, node.id)
        return QModelIndex()

    def nodes(self, kind: str) -> list[Node]:
        return [n for n in self._nodes.values() if n.kind == kind]

    # -- the tree ------------------------------------------------------------------

    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:
        children = self._children(parent)
        if not (0 <= row < len(children) and 0 <= column < len(COLUMNS)):
            return QModelIndex()
        return self.createIndex(row, column, children[row].id)

    def parent(self, index: QModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        node = self.node(index)
        if node is None or node.parent is None:
            return QModelIndex()
        return self.createIndex(node.parent.row, 0, node.parent.id)

    def _children(self, parent: QModelIndex) -> list[Node]:
        if not parent.isValid():
            return self._roots
        node = self.node(parent)
        return node.children if node is not None and parent.column() == 0 else []

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return len(self._children(parent))

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        node = self.node(index)
        if node is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return cm_rows.text(node, column)
        if role == Qt.ItemDataRole.DecorationRole and column == 0 and node.kind == SERIES:
            return self._icon(node)
        if role == Qt.ItemDataRole.DecorationRole and column == 5 and node.kind == STUDY:
            return status_icons.pixmap(status_icons.states(node.data, self.user))
        if role == Qt.ItemDataRole.ToolTipRole:
            return cm_rows.tooltip(node)
        if role == Qt.ItemDataRole.ForegroundRole and column == 5 and node.kind == STUDY:
            return _ERROR if node.data.get("migrated") or node.data.get("trashed") else _WARNING
        if role == Qt.ItemDataRole.ForegroundRole and node.kind == STUDY and node.data.get("trashed"):
            return _MUTED
        if role == Qt.ItemDataRole.FontRole and node.kind == STUDY and node.data.get("trashed") \
                and column == 0:
            font = QFont()
            font.setStrikeOut(True)
            return font
        if role == Qt.ItemDataRole.FontRole and node.kind == PATIENT and column == 0:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.SizeHintRole and node.kind == SERIES and column == 0:
            return QSize(-1, ICON + 6)
        return None

    def _icon(self, node: Node) -> QPixmap:
        uid = node.uid
        if uid in self._icons:
            return self._icons[uid]
        thumb = self.thumbnails.request(uid)
        if thumb is None:
            return cm_rows.badge("...")
        return self._store_icon(uid, node.data.get("modality") or "?", thumb)

    def _store_icon(self, uid: str, modality: str, thumb: Thumbnail) -> QPixmap:
        if thumb.status == IMAGE and thumb.image is not None:
            pixmap = QPixmap.fromImage(thumb.image).scaled(
                ICON, ICON, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        else:
            pixmap = cm_rows.badge(modality)
        self._icons[uid] = pixmap
        return pixmap

    def _thumbnail_ready(self, uid: str, thumb: Thumbnail) -> None:
        index = self.index_of(SERIES, uid)
        if index.isValid():
            node = self.node(index)
            self._store_icon(uid, node.data.get("modality") or "?", thumb)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def thumbnails_done(self) -> bool:
        return all(n.uid in self._icons for n in self.nodes(SERIES))

    # -- drag and drop -------------------------------------------------------------

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        node = self.node(index)
        if node is None:
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if node.kind == SERIES and self.can_drag:
            flags |= Qt.ItemFlag.ItemIsDragEnabled
        if node.kind in (STUDY, SERIES):
            flags |= Qt.ItemFlag.ItemIsDropEnabled
        return flags

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction | Qt.DropAction.CopyAction

    def mimeTypes(self) -> list[str]:
        return [MIME]

    def mimeData(self, indexes) -> Optional[QMimeData]:
        series: dict[str, str] = {}
        for index in indexes:
            node = self.node(index)
            if node is not None and node.kind == SERIES:
                series[node.uid] = node.parent.uid
        if not series:
            return None
        return series_mime(list(series), sorted(set(series.values())))

    def canDropMimeData(self, data: QMimeData, action, row: int, column: int,
                        parent: QModelIndex) -> bool:
        payload = read_mime(data)
        node = self.node(parent)
        target = node.study() if node is not None else None
        if payload is None or target is None:
            return False
        return payload["studies"] != [target.uid]

    def dropMimeData(self, data: QMimeData, action, row: int, column: int, parent: QModelIndex) -> bool:
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        payload = read_mime(data)
        target = self.node(parent).study().uid
        # after the drop event (and the drag's own loop) have finished
        QTimer.singleShot(0, lambda: self.series_dropped.emit(payload["series"], target))
        return True


def series_mime(series: list[str], studies: list[str]) -> QMimeData:
    data = QMimeData()
    data.setData(MIME, json.dumps({"series": series, "studies": studies}).encode())
    data.setText("\n".join(series))
    return data


def read_mime(data: QMimeData) -> Optional[dict]:
    if data is None or not data.hasFormat(MIME):
        return None
    try:
        payload = json.loads(bytes(data.data(MIME)).decode())
    except ValueError:
        return None
    return payload if isinstance(payload, dict) and payload.get("series") else None


class ContentTreeView(QTreeView):
    """Drags series, accepts drops on studies (drop indicator on the row)."""

    def __init__(self, model: ContentTreeModel, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("cmTree")
        self.setAccessibleName("Patients, studies and series")
        self.setAccessibleDescription("Drag series onto a study to move them")
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDragDropOverwriteMode(True)   # a drop is always *on* a row, never between
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setIconSize(QSize(ICON, ICON))
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(False)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.header().setStretchLastSection(True)
        self.fit_columns()

    def fit_columns(self) -> None:
        """Widths from the font in use, so no title or typical value is clipped."""
        cell = self.fontMetrics()
        bold = QFont(self.header().font())
        bold.setBold(True)
        title = QFontMetrics(bold)
        for column, sample in enumerate(COLUMN_SAMPLES):
            extra = 3 * self.indentation() + ICON + 30 if column == 0 else 20
            self.setColumnWidth(column, max(cell.horizontalAdvance(sample) + extra,
                                            title.horizontalAdvance(COLUMNS[column]) + 34))
