"""Series thumbnails: rendered on a pool thread, cached in memory by series UID.

The preview comes from app.dicom.render.render_preview on the middle instance
of the series. The worker builds a QImage (safe off the GUI thread, unlike
QPixmap) from a copy of the numpy buffer; the GUI thread turns it into a
pixmap when it shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from app import store
from app.worklist import query as worklist
from app.errors import BadInput, NotFound
from app.home import Home
from ui.jobs import Job, JobRunner

SIZE = 128

IMAGE, NO_PIXELS, CANNOT_DECODE, MISSING = "image", "no-pixels", "cannot-decode", "missing"


@dataclass(frozen=True)
class Thumbnail:
    status: str  # IMAGE, NO_PIXELS, CANNOT_DECODE, MISSING
    image: Optional[QImage] = None
    message: str = ""


def to_qimage(pixels: np.ndarray) -> QImage:
    """A QImage owning its own copy of a uint8 (H, W) grey or (H, W, 3) RGB array."""
    if pixels.dtype != np.uint8:
        raise ValueError(f"thumbnail pixels: expected uint8, got {pixels.dtype}")
    pixels = np.ascontiguousarray(pixels)
    if pixels.ndim == 2:
        height, width = pixels.shape
        fmt, line = QImage.Format.Format_Grayscale8, width
    elif pixels.ndim == 3 and pixels.shape[2] == 3:
        height, width = pixels.shape[:2]
        fmt, line = QImage.Format.Format_RGB888, width * 3
    else:
        raise ValueError(f"thumbnail pixels: unexpected shape {pixels.shape}")
    # The QImage only borrows the buffer; copy() gives it memory of its own
    # before the array can go away.
    return QImage(pixels.data, width, height, line, fmt).copy()


def render_series(home: Home, db, series_uid: str, max_size: int = SIZE) -> Thumbnail:
    """Runs on a pool thread (a read job's connection *db*), no widgets."""
    from app.dicom.render import render_preview

    instances = worklist.instances_of(db, series_uid)
    if not instances:
        return Thumbnail(MISSING, message="no instances in the cache")
    middle = instances[len(instances) // 2]
    try:
        pixels = render_preview(store.absolute(home, middle["path"]), max_size=max_size)
    except NotFound as e:
        return Thumbnail(MISSING, message=e.message)
    except BadInput as e:
        return Thumbnail(CANNOT_DECODE, message=e.message)
    if pixels is None:
        return Thumbnail(NO_PIXELS, message="no pixel data")
    return Thumbnail(IMAGE, to_qimage(pixels))


class ThumbnailLoader(QObject):
    """``request(series_uid)`` returns a cached thumbnail or starts rendering it;
    ``ready(series_uid, thumbnail)`` follows when it is done."""

    ready = Signal(str, object)

    def __init__(self, home: Home, runner: JobRunner, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.home = home
        self.runner = runner
        self._cache: dict[str, Thumbnail] = {}
        self._pending: dict[str, Job] = {}

    def cached(self, series_uid: str) -> Optional[Thumbnail]:
        return self._cache.get(series_uid)

    def request(self, series_uid: str) -> Optional[Thumbnail]:
        if series_uid in self._cache:
            return self._cache[series_uid]
        if series_uid not in self._pending:
            home = self.home

            def job(db, progress, cancel):
                cancel.check()
                return render_series(home, db, series_uid)

            self._pending[series_uid] = self.runner.read(
                home, "Thumbnail", job, kind="preview",
                on_success=lambda thumb, uid=series_uid: self._done(uid, thumb),
                on_failure=lambda message, uid=series_uid: self._done(
                    uid, Thumbnail(CANNOT_DECODE, message=message)))
        return None

    def cancel_pending(self) -> None:
        """Stop renders nobody waits for any more (the study changed). A render
        already under way still lands in the cache."""
        pending, self._pending = self._pending, {}
        for job in pending.values():
            job.cancel()

    def forget(self, series_uids=None) -> None:
        """Drop cached thumbnails (all, or those given)."""
        if series_uids is None:
            self._cache.clear()
        else:
            for uid in series_uids:
                self._cache.pop(uid, None)

    def is_busy(self) -> bool:
        return bool(self._pending)

    def _done(self, series_uid: str, thumb: Thumbnail) -> None:
        self._pending.pop(series_uid, None)
        self._cache[series_uid] = thumb
        self.ready.emit(series_uid, thumb)
