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
The model: ui/research/rt_tree_model.py; its cells: rt_tree_cells.py.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeView, QWidget

from ui.research.rt_tree_model import RtTreeModel


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
