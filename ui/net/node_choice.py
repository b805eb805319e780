"""A dialog that asks for one of the configured DICOM nodes.

The nodes are read in a job (app.net.nodes.list_nodes); a subclass decides
which of them to offer and what to say about the rest (:meth:`offer`). A
double click or the dialog's button emits ``chosen(node_name)``.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem,
                               QVBoxLayout, QWidget)

from app.home import Home
from app.net import nodes
from ui.jobs import JobRunner


class NodeChoiceDialog(QDialog):
    """``chosen(node_name)`` when the user picks a node."""

    chosen = Signal(str)

    def __init__(self, home: Home, runner: JobRunner, heading: str, button: str,
                 names: tuple[str, str, str], explain: str = "",
                 parent: Optional[QWidget] = None):
        """*names*: object names of the dialog, its node list and its button."""
        super().__init__(parent)
        self.setObjectName(names[0])
        self.setWindowModality(Qt.WindowModality.WindowModal)
        title = QLabel(heading)
        title.setObjectName("dialogHeading")
        self.nodes = QListWidget()
        self.nodes.setObjectName(names[1])
        self.nodes.setAccessibleName("Nodes")
        self.nodes.setAccessibleDescription(heading)
        self.note = QLabel("Reading the nodes...")
        self.note.setObjectName("dialogNote")
        self.note.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.button = buttons.addButton(button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.button.setObjectName(names[2])
        self.button.setEnabled(False)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.rejected.connect(self.reject)
        self.button.clicked.connect(self._choose)
        self.nodes.itemDoubleClicked.connect(lambda _item: self._choose())
        self.nodes.currentItemChanged.connect(
            lambda item, _old: self.button.setEnabled(item is not None))
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        if explain:
            text = QLabel(explain)
            text.setObjectName("dialogNote")
            text.setWordWrap(True)
            layout.addWidget(text)
        layout.addWidget(self.nodes, 1)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self.loaded = False
        runner.read(home, "Nodes", lambda db, progress, cancel: nodes.list_nodes(db),
                    on_success=self._loaded, on_failure=self.note.setText)

    def offer(self, found: list) -> tuple[list, str]:
        """The nodes to list, in order, and the note below them."""
        return found, ""

    def _loaded(self, found: list) -> None:
        offered, note = self.offer(found)
        for node in offered:
            item = QListWidgetItem(str(node))
            item.setData(Qt.ItemDataRole.UserRole, node.name)
            self.nodes.addItem(item)
        if offered:
            self.nodes.setCurrentRow(0)
        self.note.setText(note)
        self.loaded = True

    def node_names(self) -> list[str]:
        return [self.nodes.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.nodes.count())]

    def choose(self, name: str) -> None:
        """Pick *name* as a click on its row does."""
        self.nodes.setCurrentRow(self.node_names().index(name))
        self._choose()

    def _choose(self) -> None:
        item = self.nodes.currentItem()
        if item is not None:
            self.chosen.emit(item.data(Qt.ItemDataRole.UserRole))
            self.accept()
