"""What the worklist shows instead of a blank table.

- **The empty home** (the cache lists no study at all): what to do first,
  each a button that does it: import files or a folder, open the demo
  studies, retrieve from a node (or, with no node yet, add one in Settings).
- **No match** (a search or a scope that lists nothing while the cache holds
  studies): "No studies match" and a Clear button that widens the search
  again, so an empty result is never mistaken for an empty home.

The panel lies over the table's viewport (the column titles stay visible)
and leaves as soon as the list has a row: the model follows the cache's
broadcast (ui/cache_events.py), so a study arriving by import, the listener
or a retrieve hides it with no refresh by hand. What each button does is the
window's: the panel only asks through its signals.
"""

from __future__ import annotations

from typing import Iterable, Optional

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QFrame, QLabel, QMenu, QPushButton, QStackedLayout, QVBoxLayout, QWidget)

EMPTY, NO_MATCH = "empty", "no-match"


def _button(text: str, name: str, description: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setAccessibleName(text)
    button.setAccessibleDescription(description)
    button.setMinimumWidth(280)
    return button


def _column(*widgets: QWidget) -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.addStretch(1)
    for widget in widgets:
        layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
    layout.addStretch(2)
    return page


class EmptyWorklist(QFrame):
    """Over *view*'s viewport; ``show_state(EMPTY | NO_MATCH | None)``."""

    demo_requested = Signal()
    retrieve_requested = Signal(str)  # the node to search
    add_node_requested = Signal()
    clear_requested = Signal()

    def __init__(self, view, parent: Optional[QWidget] = None):
        super().__init__(parent or view.viewport())
        self.setObjectName("emptyWorklist")
        self.setAutoFillBackground(True)
        self.state: Optional[str] = None
        self.nodes: list[str] = []
        title = QLabel("No studies here yet")
        title.setObjectName("emptyTitle")
        hint = QLabel("Bring studies into this workstation's cache to start.")
        hint.setObjectName("emptyHint")
        self.import_button = _button("Import files or a folder", "emptyImport",
                                     "DICOM files, a folder, a ZIP archive or a DICOMDIR from disc")
        self.import_menu = QMenu(self.import_button)
        self.import_button.setMenu(self.import_menu)
        self.demo_button = _button("Open the demo studies", "emptyDemo",
                                   "Generate and import a few demonstration patients")
        self.demo_button.clicked.connect(self.demo_requested)
        self.retrieve_button = _button("Add a DICOM node in Settings", "emptyRetrieve",
                                       "Search a PACS or modality and retrieve its studies")
        self.retrieve_button.clicked.connect(self._retrieve)
        self.no_match = QLabel("No studies match")
        self.no_match.setObjectName("noMatchTitle")
        self.clear_button = _button("Clear", "noMatchClear", "Clear the search fields and show all studies")
        self.clear_button.setMinimumWidth(120)
        self.clear_button.clicked.connect(self.clear_requested)
        self.pages = QStackedLayout(self)
        self.pages.addWidget(_column(title, hint, self.import_button, self.demo_button, self.retrieve_button))
        self.pages.addWidget(_column(self.no_match, self.clear_button))
        self.viewport = view.viewport()
        self.viewport.installEventFilter(self)
        self.setGeometry(self.viewport.rect())
        self.hide()

    def set_import_actions(self, actions: Iterable[QAction]) -> None:
        """The File > Import actions (files, folder, ZIP, DICOMDIR) as the import button's menu."""
        self.import_menu.clear()
        for action in actions:
            self.import_menu.addAction(action)

    def set_nodes(self, names: list[str]) -> None:
        """The nodes one can search: the third button retrieves from the first, or asks for one."""
        self.nodes = list(names)
        self.retrieve_button.setText("Retrieve from a node" if self.nodes else "Add a DICOM node in Settings")
        self.retrieve_button.setAccessibleName(self.retrieve_button.text())

    def _retrieve(self) -> None:
        if self.nodes:
            self.retrieve_requested.emit(self.nodes[0])
        else:
            self.add_node_requested.emit()

    def show_state(self, state: Optional[str]) -> None:
        self.state = state
        if state is None:
            self.hide()
            return
        self.pages.setCurrentIndex(0 if state == EMPTY else 1)
        self.setGeometry(self.viewport.rect())
        self.show()
        self.raise_()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.viewport and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.viewport.rect())
        return False
