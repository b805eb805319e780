"""The importer's recorder and preparer as the network intake uses them (durable, shared)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

from app import store
from app.importing import importer


class _Recorder(importer.Recorder):
    """The importer's recorder, made durable the intake's way. A received
    file is written in place, at its path in the store, and synced with its
    directory entries before it is queued (:func:`app.store.write_new_synced`),
    so its batch only commits, syncing the write-ahead log; a file that
    came through the temporary area (a large data set, or a second copy of
    an instance whose place was taken) was synced when written, and its
    batch syncs the directories its rename went into (and the parents of
    directories it created) before the commit."""

    def __init__(self, home, result: importer.ImportResult, node: Optional[str]):
        super().__init__(home, "copy", result, node)
        self.db.execute("PRAGMA synchronous=FULL")
        self._created: set[Path] = set()
        self._in_place: set[int] = set()  # ids of the items, and of their paths, written in place

    def sync_staged(self, paths: list[Path]) -> None:
        pass  # synced when written (store.write_new_synced, store.write_synced, store.sync_file)

    def record_in_place(self, items: list[importer.Prepared], in_place: list[importer.Prepared]) -> None:
        """:meth:`record`, *in_place* being those of *items* whose files were
        written and synced at their final paths (with their folders)."""
        # by identity: hashing a Path (its parts joined anew) is dear per file
        self._in_place = {id(x) for item in in_place for x in (item, item.staged)}
        try:
            self.record(items)
        finally:
            self._in_place = set()

    def _pending(self, item: importer.Prepared) -> Optional[store.PendingFile]:
        if id(item) in self._in_place:
            return store.PendingFile(item.staged, item.staged)
        if item.staged is not None:
            h = item.header
            final = self.home.root / store.relative_path(
                h.study_instance_uid, h.series_instance_uid, h.sop_instance_uid)
            folder = final.parent
            while not folder.exists():
                self._created.add(folder)
                folder = folder.parent
        return super()._pending(item)

    def sync_renamed(self, paths: list[Path]) -> None:
        folders = {p.parent for p in paths if id(p) not in self._in_place} | {f.parent for f in self._created}
        self._created.clear()
        store.sync_all((), folders)

    def refresh_counts(self, accepted: list[importer.Prepared]) -> None:
        """Add the batch to its series' and studies' counts and size rather
        than count them again: recounting a study costs a read of all its
        instance rows, every batch (a batch may hold one instance). The
        series count and modalities are taken again from the series rows."""
        series: dict[str, int] = {}
        studies: dict[str, list[int]] = {}
        for item in accepted:
            h = item.header
            series[h.series_instance_uid] = series.get(h.series_instance_uid, 0) + 1
            totals = studies.setdefault(h.study_instance_uid, [0, 0])
            totals[0] += 1
            totals[1] += h.size
        for uid, count in series.items():
            self.db.execute("UPDATE series SET instance_count = instance_count + ? WHERE series_instance_uid = ?",
                            [count, uid])
        for uid, (count, size) in studies.items():
            modalities = sorted({m for (m,) in self.db.execute(
                "SELECT DISTINCT modality FROM series WHERE study_instance_uid = ? AND modality != ''", [uid])})
            series_count = self.db.execute("SELECT count(*) FROM series WHERE study_instance_uid = ?",
                                           [uid]).fetchone()[0]
            self.db.execute("UPDATE studies SET series_count = ?, instance_count = instance_count + ?,"
                            " size_bytes = size_bytes + ?, modalities = ? WHERE study_instance_uid = ?",
                            [series_count, count, size, "\\".join(modalities), uid])

    def _drop_duplicates(self, items: list[importer.Prepared]) -> list[importer.Prepared]:
        """As the importer's, except that a file written in place is left
        where it is when it has become the file of the row recorded for the
        same instance meanwhile (another copy renamed over it)."""
        uids = [i.header.sop_instance_uid for i in items]
        marks = ",".join("?" * len(uids))
        known = dict(self.db.execute(
            f"SELECT sop_instance_uid, path FROM instances WHERE sop_instance_uid IN ({marks})", uids))
        fresh, seen = [], set()
        for item in items:
            uid = item.header.sop_instance_uid
            if uid in known or uid in seen:
                self.result.duplicates += 1
                path = known.get(uid)
                if item.staged is not None and (path is None or store.absolute(self.home, path) != item.staged):
                    item.staged.unlink(missing_ok=True)
            else:
                seen.add(uid)
                fresh.append(item)
        return fresh


class _Preparer(importer.Preparer):
    """The importer's preparer, shared by the receiving threads: its one
    read-only connection answers one of them at a time."""

    def __init__(self, scratch: Path, db_path: Path):
        super().__init__("copy", scratch, db_path)
        self._lock = threading.Lock()

    def known(self, sop_uid: str) -> bool:
        with self._lock:
            return super().known(sop_uid)

    def close(self) -> None:
        with self._lock:
            super().close()
