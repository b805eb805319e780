"""The worklist's status column: small icons for a study's workflow state.

One pixmap per combination of states, composed from the SVGs in
resources/icons and cached, so ``data()`` stays a dictionary lookup.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap

from app.resources import resources_dir

ICON = 16
GAP = 4

# state key -> icon file (the order is the order on screen)
ICONS = {
    "locked": "status-locked.svg",         # by someone else
    "locked-own": "status-locked-own.svg",  # by the current user
    "assigned": "status-assigned.svg",
    "staged": "status-staged.svg",
    "ai": "status-ai.svg",
    "migrated": "status-migrated.svg",
}


def states(row: dict, user: str) -> tuple[str, ...]:
    """The state keys that apply to a worklist row, in display order."""
    found = []
    holder = row.get("locked_by")
    if holder:
        found.append("locked-own" if holder == user else "locked")
    if row.get("assigned_to"):
        found.append("assigned")
    if row.get("staged"):
        found.append("staged")
    if row.get("ai_rescan_pending"):
        found.append("ai")
    if row.get("migrated"):
        found.append("migrated")
    return tuple(found)


def describe(row: dict, user: str) -> str:
    """One line per state, for the tooltip."""
    lines = []
    holder = row.get("locked_by")
    if holder:
        lines.append("Locked by you" if holder == user else
                     f"Locked by {holder}: changes by others are refused")
    if row.get("assigned_to"):
        lines.append(f"Assigned to {row['assigned_to']}")
    if row.get("staged"):
        lines.append("Staged for research")
    if row.get("ai_rescan_pending"):
        lines.append("AI re-scan pending")
    if row.get("migrated"):
        lines.append("Migrated: its images live in the legacy archive")
    return "\n".join(lines)


@lru_cache(maxsize=None)
def _icon(name: str) -> QIcon:
    return QIcon(str(resources_dir() / "icons" / name))


@lru_cache(maxsize=64)
def pixmap(keys: tuple[str, ...]) -> Optional[QPixmap]:
    """The icons for *keys* side by side (None when there are none)."""
    if not keys:
        return None
    width = len(keys) * ICON + (len(keys) - 1) * GAP
    out = QPixmap(width, ICON)
    out.fill(Qt.GlobalColor.transparent)
    painter = QPainter(out)
    for i, key in enumerate(keys):
        painter.drawPixmap(i * (ICON + GAP), 0, _icon(ICONS[key]).pixmap(QSize(ICON, ICON)))
    painter.end()
    return out


def column_width() -> int:
    """Room for the three most common icons plus the cell padding."""
    return 3 * ICON + 2 * GAP + 20
