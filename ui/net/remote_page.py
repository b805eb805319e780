"""The worklist area's two pages and how the remote one borrows the local
table's look.

Page 0 is the local worklist with its action bar, page 1 a node's studies
with the retrieve bar (ui/net/remote_source.py). The remote table takes the
local table's column order and widths, without the columns of local workflow
state a node does not have.
"""

from __future__ import annotations

from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QStackedWidget, QTableView, QVBoxLayout, QWidget

from ui.net.remote_model import STATUS_TITLE
from ui.worklist.model import STATUS, column_index
from ui.worklist.view import PLAIN_HEADER_PADDING

HIDDEN = ("assigned_to",)  # local workflow state a node does not have


def page(name: str, *widgets: QWidget) -> QWidget:
    """*widgets* stacked, the first taking the height."""
    widget = QWidget()
    widget.setObjectName(name)
    layout = QVBoxLayout(widget)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    for i, child in enumerate(widgets):
        layout.addWidget(child, 1 if i == 0 else 0)
    return widget


def source_pages(table: QWidget, bar: QWidget, remote_page: QWidget) -> QStackedWidget:
    """The worklist area: the local table and its action bar (page 0), the
    remote page (page 1)."""
    pages = QStackedWidget()
    pages.setObjectName("worklistPages")
    pages.addWidget(page("localPage", table, bar))
    pages.addWidget(remote_page)
    return pages


def copy_layout(local_view: QTableView, view: QTableView) -> None:
    """*local_view*'s column order and widths on *view*, without its workflow
    columns, and room for the In cache title."""
    header = view.horizontalHeader()
    header.restoreState(local_view.horizontalHeader().saveState())
    for key in HIDDEN:
        header.setSectionHidden(column_index(key), True)
    bold = QFont(header.font())
    bold.setBold(True)
    title = QFontMetrics(bold).horizontalAdvance(STATUS_TITLE) + PLAIN_HEADER_PADDING
    header.resizeSection(STATUS, max(header.sectionSize(STATUS), title))
