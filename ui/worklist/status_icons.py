"""The worklist's status column: small icons for a study's workflow state.

One pixmap per combination of states, composed from the SVGs in
resources/icons and cached, so ``data()`` stays a dictionary lookup.

An Advanced Reporting study (one holding a measurement report, the Synapse
rule of shared/CLI.md) is not a column of the cache: it is read from the
study's reports (app.measurements.index). :class:`ReportingFlags` reads it
off the GUI thread, in batches, for the rows the view paints, and forgets
what a change to those studies may have changed (ui/cache_events.py).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional

from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QPainter, QPixmap

from app.home import Home
from app.resources import resources_dir
from ui.cache_events import CacheChange, STUDIES, events_of

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
    "reporting": "status-reporting.svg",   # Advanced Reporting: holds measurement reports
}
MEASUREMENTS = "measurement_count"  # the row key ReportingFlags' answer is shown under


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
    if row.get(MEASUREMENTS) is not None:
        found.append("reporting")
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
    count = row.get(MEASUREMENTS)
    if count is not None:
        lines.append(f"Advanced Reporting: {count} measurement{'' if count == 1 else 's'}")
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


def reporting_counts(db, study_uids: list[str]) -> dict[str, int]:
    """The Advanced Reporting studies among *study_uids*: {uid: measurements}
    (a read job's work: it opens their report files)."""
    from app.measurements.index import advanced_reporting_studies, measurements_of

    return {uid: len(measurements_of(db, uid)) for uid in advanced_reporting_studies(db, study_uids)}


class ReportingFlags(QObject):
    """Which studies the view shows are Advanced Reporting studies, and with
    how many measurements; ``changed`` when an answer lands or is forgotten."""

    changed = Signal()

    def __init__(self, home: Home, runner, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.home, self.runner = home, runner
        self._known: dict[str, Optional[int]] = {}   # uid -> measurements, None: not one
        self._wanted: set[str] = set()
        self._asked: set[str] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._ask)
        events_of(home).cache_changed.connect(self._cache_changed)

    def count(self, study_uid: Optional[str]) -> Optional[int]:
        """The study's measurements when it is an Advanced Reporting study,
        else None (also while not known yet: it is asked for)."""
        if not study_uid:
            return None
        if study_uid in self._known:
            return self._known[study_uid]
        if study_uid not in self._asked:
            self._wanted.add(study_uid)
            if not self._timer.isActive():
                self._timer.start(0)
        return None

    def known(self, study_uid: str) -> bool:
        """Has the answer for the study landed (since the last change to it)?"""
        return study_uid in self._known

    def _ask(self) -> None:
        uids = sorted(self._wanted - self._asked)
        self._wanted.clear()
        if not uids:
            return
        self._asked.update(uids)
        self.runner.read(self.home, "Advanced Reporting studies",
                         lambda db, progress, cancel: reporting_counts(db, uids),
                         on_success=lambda counts: self._landed(uids, counts),
                         on_failure=lambda _message: self._asked.difference_update(uids))

    def _landed(self, uids: list[str], counts: dict[str, int]) -> None:
        for uid in uids:
            if uid in self._asked:   # not forgotten meanwhile
                self._asked.discard(uid)
                self._known[uid] = counts.get(uid)
        if counts:
            self.changed.emit()

    def _cache_changed(self, change: CacheChange) -> None:
        if not change.touches(STUDIES):
            return
        gone = set(change.study_uids) if change.study_uids else set(self._known) | self._asked
        had = any(self._known.get(uid) is not None for uid in gone)
        for uid in gone:
            self._known.pop(uid, None)
            self._asked.discard(uid)
        if had or gone:
            self.changed.emit()   # repainting asks again
