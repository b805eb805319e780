"""The strip above the worklist: All studies / My studies, and how ticking works.

"My studies" narrows every search to the studies assigned to the current
user for reading (the QBE ``assigned_to`` field, ``studies --assigned-to``
on the command line); the QBE fields keep applying on top.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

HINT = "Click a row and tick its box to act on studies  ·  Space ticks, Ctrl+A ticks all, Esc clears"


class ScopeBar(QFrame):
    """``scope_changed(mine)`` when the user switches between all and their studies."""

    scope_changed = Signal(bool)

    def __init__(self, user_name: str, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("scopeBar")
        self.all_studies = QPushButton("All studies")
        self.all_studies.setObjectName("allStudies")
        self.my_studies = QPushButton("My studies")
        self.my_studies.setObjectName("myStudies")
        self.my_studies.setToolTip(f"Only the studies assigned to {user_name} for reading")
        group = QButtonGroup(self)
        for button in (self.all_studies, self.my_studies):
            button.setCheckable(True)
            group.addButton(button)
        self.all_studies.setChecked(True)
        self.my_studies.toggled.connect(self.scope_changed)
        hint = QLabel(HINT)
        hint.setObjectName("scopeHint")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        layout.setSpacing(0)
        layout.addWidget(self.all_studies)
        layout.addWidget(self.my_studies)
        layout.addStretch(1)
        layout.addWidget(hint)

    def mine(self) -> bool:
        return self.my_studies.isChecked()
