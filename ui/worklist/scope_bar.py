"""The strip above the worklist: where the studies come from, whose, and how ticking works.

The source is the local cache or a configured query-retrieve node (the
Remote source, ui/net/remote_source.py): with a node chosen, Search asks that
node (C-FIND). "My studies" narrows every local search to the studies
assigned to the current user for reading (the QBE ``assigned_to`` field,
``studies --assigned-to`` on the command line); the QBE fields keep applying
on top. "Shared with me" shows the studies other users of this workstation
shared with the current one (app/worklist/sharing.py; ``studies --shared-with``),
the window showing who shared each and the note (ui/worklist/shared_view.py).
Assignments and shares are local, so the scope applies to the cache only.
"""

from __future__ import annotations

from typing import Iterable, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QFrame, QHBoxLayout, QLabel, QPushButton,
                               QWidget)

HINT = "Click a row and tick its box to act on studies  ·  Space ticks, Ctrl+A ticks all, Esc clears"
REMOTE_HINT = ("Search asks the node (C-FIND)  ·  tick studies and Retrieve them into the cache  ·  "
               "Space ticks, Ctrl+A ticks all")
LOCAL = "Local cache"
SOURCE_PURPOSES = ("query-retrieve", "legacy")  # nodes one can search and fetch from
REMOTE_SCOPE = "Assignments and shares are local: a node is searched for all its studies"


class ScopeBar(QFrame):
    """``scope_changed(mine)`` when the user switches between all, their
    studies and those shared with them (:meth:`shared_only`); ``source_changed(node)`` when the source changes ('' = the cache)."""

    scope_changed = Signal(bool)
    source_changed = Signal(str)

    def __init__(self, user_name: str, source_reason: str = "", parent: Optional[QWidget] = None):
        """*source_reason*: why this user may not search nodes ('' when they may)."""
        super().__init__(parent)
        self.setObjectName("scopeBar")
        self.source = QComboBox()
        self.source.setObjectName("sourceCombo")
        self.source.setAccessibleName("Source")
        self.source.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.source.addItem(LOCAL, "")
        self.source.setItemData(0, "The studies in this workstation's cache", Qt.ItemDataRole.ToolTipRole)
        self.source.setToolTip(source_reason or "Where the worklist's studies come from: the local "
                                                "cache, or a DICOM node to search and retrieve from")
        self.source.setEnabled(not source_reason)
        self.source.currentIndexChanged.connect(lambda _i: self.source_changed.emit(self.node()))
        source_label = QLabel("Source")
        source_label.setObjectName("sourceLabel")
        source_label.setBuddy(self.source)
        self.all_studies = QPushButton("All studies")
        self.all_studies.setObjectName("allStudies")
        self.my_studies = QPushButton("My studies")
        self.my_studies.setObjectName("myStudies")
        self._mine_tip = f"Only the studies assigned to {user_name} for reading"
        self.my_studies.setToolTip(self._mine_tip)
        self.shared = QPushButton("Shared with me")
        self.shared.setObjectName("sharedWithMe")
        self._shared_tip = (f"The studies other users shared with {user_name} (Send > a user of this "
                            "workstation, or `studydesk share`), with who shared them and the note")
        self.shared.setToolTip(self._shared_tip)
        group = QButtonGroup(self)
        for button in (self.all_studies, self.my_studies, self.shared):
            button.setCheckable(True)
            group.addButton(button)
        self.all_studies.setChecked(True)
        group.buttonToggled.connect(lambda button, on: on and self.scope_changed.emit(self.mine()))
        self.hint = QLabel(HINT)
        self.hint.setObjectName("scopeHint")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        layout.setSpacing(0)
        layout.addWidget(source_label)
        layout.addSpacing(6)
        layout.addWidget(self.source)
        layout.addSpacing(14)
        layout.addWidget(self.all_studies)
        layout.addWidget(self.my_studies)
        layout.addWidget(self.shared)
        layout.addStretch(1)
        layout.addWidget(self.hint)

    def mine(self) -> bool:
        return self.my_studies.isChecked()

    def set_shared_count(self, count: int) -> None:
        """"Shared with me (N)": the recipient sees at a glance that something came."""
        self.shared.setText(f"Shared with me ({count})" if count else "Shared with me")
        self.shared.setProperty("news", bool(count))
        self.shared.style().unpolish(self.shared)
        self.shared.style().polish(self.shared)

    def shared_only(self) -> bool:
        """"Shared with me": the studies other users shared with this one."""
        return self.shared.isChecked()

    # -- the source ---------------------------------------------------------------------------

    def node(self) -> str:
        """The chosen node's name, '' for the local cache."""
        return self.source.currentData() or ""

    def nodes(self) -> list[str]:
        """The names of the nodes listed as sources."""
        return [self.source.itemData(i) for i in range(1, self.source.count())]

    def set_nodes(self, found: Iterable) -> None:
        """List the nodes one can query (``app.net.nodes.Node``); the current
        choice stays when it is still configured, else the cache is chosen."""
        current = self.node()
        usable = [n for n in found if any(p in n.purposes for p in SOURCE_PURPOSES)]
        self.source.blockSignals(True)
        while self.source.count() > 1:
            self.source.removeItem(1)
        for node in usable:
            self.source.addItem(node.name, node.name)
            self.source.setItemData(self.source.count() - 1, f"Search {node} (C-FIND)",
                                    Qt.ItemDataRole.ToolTipRole)
        index = self.source.findData(current) if current else 0
        self.source.setCurrentIndex(max(index, 0))
        self.source.blockSignals(False)
        if self.node() != current:
            self.source_changed.emit(self.node())

    def choose(self, node: str) -> bool:
        """Select *node* ('' for the cache); False when it is not listed."""
        index = self.source.findData(node)
        if index < 0:
            return False
        self.source.setCurrentIndex(index)
        return True

    def set_remote(self, remote: bool) -> None:
        """Assignments are local: the scope buttons rest while a node is shown."""
        for button in (self.all_studies, self.my_studies, self.shared):
            button.setEnabled(not remote)
        self.my_studies.setToolTip(REMOTE_SCOPE if remote else self._mine_tip)
        self.shared.setToolTip(REMOTE_SCOPE if remote else self._shared_tip)
        self.all_studies.setToolTip(REMOTE_SCOPE if remote else "")
        self.hint.setText(REMOTE_HINT if remote else HINT)
        self.setProperty("remote", remote)
        self.style().unpolish(self)
        self.style().polish(self)
