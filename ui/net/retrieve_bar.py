"""The bar under the worklist while it shows a node: Retrieve, and how.

Retrieve takes the ticked studies, or the highlighted one when none is
ticked. C-GET (the default) brings the images back on the same association;
C-MOVE has the node send them to this workstation's storage listener
(started for the job when it is off), which the node must know.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from ui.worklist.action_bar import unselect_button

METHODS = (("by C-GET", "get", "The node sends the images back on the same association "
                                "(no listener needed; works through firewalls)"),
           ("by C-MOVE", "move", "The node sends the images to this workstation's storage "
                                  "listener, started for the job when it is off; the node must "
                                  "know this workstation's AE title, host and port"))
HINT = "Retrieve fetches only what the cache lacks  ·  ✓ in the In cache column: already here"


class RetrieveBar(QFrame):
    """``retrieve_requested(method)`` on Retrieve; ``unselect()`` on Unselect."""

    retrieve_requested = Signal(str)
    unselect = Signal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("retrieveBar")
        self.count = QLabel()
        self.count.setObjectName("retrieveCount")
        self.unselect_button = unselect_button("retrieveUnselect", self.unselect)
        self.retrieve_button = QPushButton("Retrieve")
        self.retrieve_button.setObjectName("retrieveButton")
        self.retrieve_button.setAccessibleDescription("Fetch the ticked studies (or the highlighted one) into "
                                                      "the cache")
        self.retrieve_button.clicked.connect(lambda: self.retrieve_requested.emit(self.method()))
        self.method_box = QComboBox()
        self.method_box.setObjectName("retrieveMethod")
        self.method_box.setAccessibleName("Retrieve method")
        self.method_box.setAccessibleDescription("How the ticked studies are fetched from the node")
        for label, method, tip in METHODS:
            self.method_box.addItem(label, method)
            self.method_box.setItemData(self.method_box.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.method_box.currentIndexChanged.connect(self._method_changed)
        self._method_changed()
        hint = QLabel(HINT)
        hint.setObjectName("retrieveHint")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        layout.setSpacing(6)
        layout.addWidget(self.count)
        layout.addWidget(self.unselect_button)
        layout.addSpacing(8)
        layout.addWidget(self.retrieve_button)
        layout.addWidget(self.method_box)
        layout.addStretch(1)
        layout.addWidget(hint)
        self.show_state(0, None, "")

    def method(self) -> str:
        return self.method_box.currentData()

    def set_method(self, method: str) -> None:
        self.method_box.setCurrentIndex(self.method_box.findData(method))

    def _method_changed(self, *_args) -> None:
        self.method_box.setToolTip(METHODS[max(0, self.method_box.currentIndex())][2])

    def show_state(self, ticked: int, current: Optional[str], reason: str) -> None:
        """*ticked* studies, else the highlighted *current* one; *reason*: why
        Retrieve cannot be used ('' when it can)."""
        if ticked:
            self.count.setText(f"{ticked} stud{'ies' if ticked != 1 else 'y'} selected")
        elif current:
            self.count.setText(f"Highlighted: {current}")
        else:
            self.count.setText("No study selected")
        self.unselect_button.setVisible(ticked > 0)
        if not reason and not (ticked or current):
            reason = "Tick the studies to retrieve, or click one."
        self.retrieve_button.setEnabled(not reason)
        self.method_box.setEnabled(not reason)
        count = ticked or 1
        self.retrieve_button.setText(f"Retrieve {count} stud{'ies' if count != 1 else 'y'}"
                                     if ticked > 1 else "Retrieve")
        self.retrieve_button.setToolTip(reason or "Copy the studies from the node into the cache")

    def reason(self) -> str:
        """Why Retrieve is disabled ('' when it is enabled)."""
        return "" if self.retrieve_button.isEnabled() else self.retrieve_button.toolTip()
