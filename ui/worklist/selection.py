"""The ticked studies: the set the action bar acts on.

Ticks are kept by Study Instance UID, in the order they were ticked, so they
survive re-sorting and new searches (a ticked study the current search does
not show stays ticked until the user clears the set). With each UID the set
keeps the study's worklist row as it was last seen (patient, lock holder,
migrated flag), so the action bar can decide what is possible without
asking the database; ``None`` while that row is still being fetched.
"""

from __future__ import annotations

from typing import Iterable, Optional

from PySide6.QtCore import QObject, Signal


class TickSet(QObject):
    """Ordered set of ticked study UIDs with their last-seen rows.

    ``changed()`` after every change of membership or of a row; ``toggled(uids)``
    with the UIDs whose tick changed (the model repaints their boxes).
    """

    changed = Signal()
    toggled = Signal(list)

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self._rows: dict[str, Optional[dict]] = {}

    # -- reading ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, study_uid: object) -> bool:
        return study_uid in self._rows

    def uids(self) -> list[str]:
        return list(self._rows)

    def rows(self) -> list[Optional[dict]]:
        return list(self._rows.values())

    def row(self, study_uid: str) -> Optional[dict]:
        return self._rows.get(study_uid)

    def missing(self) -> list[str]:
        """Ticked UIDs whose rows are not known yet."""
        return [uid for uid, row in self._rows.items() if row is None]

    def patients(self) -> list[str]:
        """The distinct patient IDs of the ticked studies (known rows only), in tick order."""
        seen: dict[str, None] = {}
        for row in self._rows.values():
            if row is not None:
                seen.setdefault(row.get("patient_id") or "", None)
        return list(seen)

    # -- changing --------------------------------------------------------------

    def tick(self, study_uid: str, row: Optional[dict] = None) -> None:
        self.add([(study_uid, row)])

    def untick(self, study_uid: str) -> None:
        self.discard([study_uid])

    def toggle(self, study_uid: str, row: Optional[dict] = None) -> bool:
        """Tick or untick; returns the new state."""
        if study_uid in self._rows:
            self.untick(study_uid)
            return False
        self.tick(study_uid, row)
        return True

    def add(self, items: Iterable[tuple[str, Optional[dict]]]) -> None:
        added = []
        for uid, row in items:
            if uid not in self._rows:
                self._rows[uid] = _known(row)
                added.append(uid)
            elif row is not None and _known(row) is not None:
                self._rows[uid] = row
        if added:
            self.toggled.emit(added)
            self.changed.emit()

    def discard(self, study_uids: Iterable[str]) -> None:
        gone = [uid for uid in study_uids if self._rows.pop(uid, False) is not False]
        if gone:
            self.toggled.emit(gone)
            self.changed.emit()

    def clear(self) -> None:
        self.discard(list(self._rows))

    def update_rows(self, rows: Iterable[dict]) -> None:
        """Fresh worklist rows for ticked studies (others are ignored)."""
        updated = False
        for row in rows:
            uid = row.get("study_instance_uid")
            if uid in self._rows and _known(row) is not None and self._rows[uid] != row:
                self._rows[uid] = row
                updated = True
        if updated:
            self.changed.emit()


def _known(row: Optional[dict]) -> Optional[dict]:
    """A row counts as known once it carries the patient (the model keeps a
    bare ``{"study_instance_uid"}`` for a study that vanished)."""
    return row if row and "patient_id" in row else None
