"""One broadcast per write to the cache: ``cache_changed(CacheChange)``.

Every view that shows rows of the cache subscribes to the broadcast of its
home (:func:`events_of`) and refreshes what the change names; no job wires a
refresh to a particular view by hand. A write job started with
``runner.write(..., changed=...)`` (ui/jobs.py) broadcasts after it
succeeded, on the GUI thread. Windows of one home (the main window, the
Content Manager, the research window) share one broadcaster, so a change
made in one shows in the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from PySide6.QtCore import QObject, Signal

from app.home import Home

# What changed (``kind``):
STUDIES = "studies"  # study rows added, changed or removed (uids: Study Instance UIDs)
PATIENTS = "patients"  # patient records merged or changed
TRASH = "trash"  # the trash's content
JOURNAL = "journal"  # the change history (a change made or undone)
OUTBOX = "outbox"  # entries waiting to be sent
NODES = "nodes"  # the configured DICOM nodes
SHARES = "shares"  # studies shared between users
PROJECTS = "projects"  # research projects, subjects, staging
KINDS = (STUDIES, PATIENTS, TRASH, JOURNAL, OUTBOX, NODES, SHARES, PROJECTS)


@dataclass(frozen=True)
class CacheChange:
    """What a write changed: the kinds, and the Study Instance UIDs it
    touched (empty ``study_uids``: not known, refresh every row of the kinds)."""

    kinds: frozenset[str]
    study_uids: tuple[str, ...] = ()

    @classmethod
    def of(cls, *kinds: str, study_uids: Iterable[str] = ()) -> "CacheChange":
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"cache change kind {sorted(unknown)}: one of {', '.join(KINDS)}")
        return cls(frozenset(kinds), tuple(dict.fromkeys(study_uids)))

    def touches(self, *kinds: str) -> bool:
        return bool(self.kinds.intersection(kinds))


class CacheEvents(QObject):
    """The broadcaster of one home; lives on the GUI thread."""

    cache_changed = Signal(object)  # CacheChange

    def announce(self, change: CacheChange) -> None:
        self.cache_changed.emit(change)


_broadcasters: dict[str, CacheEvents] = {}  # home folder -> its broadcaster, for the program's life


def events_of(home: Home) -> CacheEvents:
    """The broadcaster of *home* (one per home folder, made on first use)."""
    key = str(home.root)
    events = _broadcasters.get(key)
    if events is None:
        events = CacheEvents()
        _broadcasters[key] = events
    return events


def announce(home: Home, change: CacheChange) -> None:
    """Broadcast *change* to every view of *home* (GUI thread only)."""
    events_of(home).announce(change)
