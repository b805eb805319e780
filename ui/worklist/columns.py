"""Worklist columns: show, hide and reorder them; the layout is remembered.

The header's context menu lists every column with a check mark; sections
are movable by dragging. The layout is kept in the home's settings.toml
under ``ui.worklist_columns`` (so it travels with the home, like every other
setting of the workstation), as one line of text::

    select:34,status:80,patient_name:230,-accession:120,...

in on-screen order; ``-`` marks a hidden column, the number is its width.
Columns the line does not name (added in a later version) keep their place
at the end. Reading and writing the file run as jobs: the GUI thread never
waits on the disk, except once when the window closes with a save pending.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHeaderView, QMenu, QTableView

from app.errors import NotFound
from app.home import Home
from ui.jobs import JobRunner
from ui.worklist.model import COLUMNS, FIXED

SETTING = "ui.worklist_columns"
SAVE_DELAY_MS = 600


def encode(header: QHeaderView, widths: Optional[dict[int, int]] = None) -> str:
    """The layout line; *widths* the columns' preferred widths (ui/worklist/column_fit.py),
    not the ones they are shrunk to while the table is narrow."""
    widths = widths or {}
    parts = []
    for visual in range(header.count()):
        logical = header.logicalIndex(visual)
        key = COLUMNS[logical].key
        hidden = "-" if header.isSectionHidden(logical) else ""
        width = widths.get(logical, header.sectionSize(logical)) if not header.isSectionHidden(logical) \
            else header.defaultSectionSize()
        parts.append(f"{hidden}{key}:{width}")
    return ",".join(parts)


# Keys a layout saved by an earlier version may hold, and their names now.
RENAMED = {"accession": "accession_number"}


def decode(text: str) -> list[tuple[str, bool, Optional[int]]]:
    """``[(key, hidden, width)]`` for the known keys in *text*, in order."""
    known = {c.key for c in COLUMNS}
    out, seen = [], set()
    for part in (text or "").split(","):
        part = part.strip()
        hidden = part.startswith("-")
        key, _, width = part.lstrip("-").partition(":")
        key = RENAMED.get(key, key)
        if key in known and key not in seen:
            seen.add(key)
            out.append((key, hidden and key not in FIXED,
                        int(width) if width.isdigit() and int(width) > 0 else None))
    return out


def apply(header: QHeaderView, text: str) -> None:
    """Put the sections in the order, visibility and widths *text* describes."""
    keys = [c.key for c in COLUMNS]
    for visual, (key, hidden, width) in enumerate(decode(text)):
        logical = keys.index(key)
        header.moveSection(header.visualIndex(logical), visual)
        header.setSectionHidden(logical, hidden)
        if width and key not in FIXED:
            header.resizeSection(logical, width)


class ColumnLayout(QObject):
    """Owns the header menu and the remembered layout of one worklist view."""

    loaded = Signal()  # the remembered layout (if any) is applied
    saved = Signal()

    def __init__(self, view: QTableView, home: Home, runner: JobRunner,
                 parent: Optional[QObject] = None):
        super().__init__(parent)
        self.view = view
        self.home = home
        self.runner = runner
        self.header = view.horizontalHeader()
        self.default = self._encode()
        self._applying = False
        self._last = self.default  # what the settings hold (or the default)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SAVE_DELAY_MS)
        self._timer.timeout.connect(self.save)
        self.header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.header.customContextMenuRequested.connect(self.show_menu)
        self.header.sectionMoved.connect(self._changed)
        self.header.sectionResized.connect(self._changed)
        self.menu: Optional[QMenu] = None

    # -- loading and saving -------------------------------------------------------

    def load(self) -> None:
        home = self.home

        def job(progress, cancel):
            try:
                return str(home.get_setting(SETTING))
            except NotFound:
                return ""

        self.runner.start("Column layout", job, kind="read", visible=False,
                          on_success=self._apply_loaded, on_failure=lambda _m: self.loaded.emit())

    def _apply_loaded(self, text: str) -> None:
        if text:
            self._last = text
            self._applying = True
            try:
                apply(self.header, text)
            finally:
                self._applying = False
        self.loaded.emit()

    def _encode(self) -> str:
        fit = getattr(self.view, "column_fit", None)
        return encode(self.header, fit.widths() if fit else None)

    def _changed(self, *_args) -> None:
        fit = getattr(self.view, "column_fit", None)
        if not self._applying and not (fit and fit.fitting):
            self._timer.start()

    def save(self) -> None:
        """Write the layout now, as a job."""
        self._timer.stop()
        home, text = self.home, self._encode()
        if text == self._last:
            return
        self._last = text
        self.runner.start("Save column layout", lambda p, c: home.set_setting(SETTING, text),
                          kind="read", visible=False, on_success=lambda _r: self.saved.emit(),
                          on_failure=lambda _m: None)

    def flush(self) -> None:
        """At close: a pending save is written before the window goes (no job
        pool is left to run it)."""
        if self._timer.isActive() and self._encode() != self._last:
            self._timer.stop()
            try:
                self.home.set_setting(SETTING, self._encode())
            except Exception:  # noqa: BLE001 - a layout is never worth a failed close
                pass

    # -- the menu -----------------------------------------------------------------

    def show_menu(self, pos: QPoint) -> None:
        self.menu = self.build_menu()
        self.menu.popup(self.header.mapToGlobal(pos))

    def build_menu(self) -> QMenu:
        menu = QMenu(self.header)
        menu.setObjectName("columnsMenu")
        menu.setToolTipsVisible(True)
        for logical, column in enumerate(COLUMNS):
            if column.key in FIXED:
                continue
            action = QAction(column.title, menu)
            action.setObjectName(f"column_{column.key}")
            action.setCheckable(True)
            action.setChecked(not self.header.isSectionHidden(logical))
            action.toggled.connect(lambda on, i=logical: self.set_visible(i, on))
            menu.addAction(action)
        menu.addSeparator()
        reset = QAction("Reset columns", menu)
        reset.setObjectName("column_reset")
        reset.setToolTip("Every column shown, in the original order and widths")
        reset.triggered.connect(self.reset)
        menu.addAction(reset)
        return menu

    def set_visible(self, logical: int, visible: bool) -> None:
        shown = [i for i in range(len(COLUMNS)) if not self.header.isSectionHidden(i)
                 and COLUMNS[i].key not in FIXED]
        if not visible and shown == [logical]:
            return  # keep at least one column of data
        self.header.setSectionHidden(logical, not visible)
        self._timer.start()

    def reset(self) -> None:
        self._applying = True
        try:
            for logical in range(len(COLUMNS)):
                self.header.setSectionHidden(logical, False)
            apply(self.header, self.default)
        finally:
            self._applying = False
        self._timer.start()
