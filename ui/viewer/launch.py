"""Opening the viewer from the lists that show studies and series (the
worklist, its series strip, the Content Manager, the research Edit dialog).

Every place opens it the same way: at once, without waiting (the series is
read and decoded off the GUI thread), a new window each time. The window
belongs to the outermost window of the place it was opened from (the main
window, or the Content Manager opened alone), which keeps it alive and
closes it when it closes itself (:func:`close_viewers`).

A study opens on its first series with images: structure sets, plans,
reports, key-object notes and presentation states have none to show, and
a series whose instances have no rows is skipped for the same reason.
"""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from app.home import Home
from app.worklist.query import resolve_study_uid

# Modalities of objects without pixels (what a double-click on a study passes over)
NON_IMAGE = frozenset({"RTSTRUCT", "RTPLAN", "RTRECORD", "SR", "KO", "PR", "REG", "DOC"})

_FIRST_IMAGE_SERIES = """
SELECT se.series_instance_uid, se.modality
  FROM series se
 WHERE se.study_instance_uid = ? AND EXISTS (
       SELECT 1 FROM instances i WHERE i.series_instance_uid = se.series_instance_uid
          AND i.rows > 0)
 ORDER BY se.series_number IS NULL, se.series_number, se.series_instance_uid"""


class Launches(QObject):
    """``opened(window)`` for every viewer window opened here, as it opens
    (before its series is read): a test or a tool can follow it from the
    start."""

    opened = Signal(object)


_launches: Optional[Launches] = None


def launches() -> Launches:
    global _launches
    if _launches is None:
        _launches = Launches()
    return _launches


def first_image_series(db, study_uid: str) -> Optional[str]:
    """The study's first series (by number) with images, or None."""
    uid = resolve_study_uid(db, study_uid, include_trashed=True)
    for series_uid, modality in db.execute(_FIRST_IMAGE_SERIES, [uid]):
        if (modality or "").upper() not in NON_IMAGE:
            return series_uid
    return None


def host_of(widget: Optional[QWidget]) -> Optional[QWidget]:
    """The outermost window above *widget* (None stays None)."""
    host = widget.window() if widget is not None else None
    while host is not None and host.parentWidget() is not None:
        host = host.parentWidget().window()
    return host


def viewers_of(host: Optional[QWidget]) -> list:
    """The viewer windows *host* keeps open (oldest first)."""
    return list(getattr(host, "_viewers", [])) if host is not None else []


def open_series(widget: Optional[QWidget], home: Home, user, runner, series_uid: str,
                image: Optional[int] = None):
    """Open a viewer on *series_uid*, kept by the outermost window above *widget*."""
    from ui.viewer import open_viewer

    host = host_of(widget)
    window = open_viewer(host, home, user, runner, series_uid, image)
    if host is not None:
        kept = getattr(host, "_viewers", None)
        if kept is None:
            kept = host._viewers = []
        kept.append(window)
        window.destroyed.connect(lambda *_: window in kept and kept.remove(window))
    launches().opened.emit(window)
    return window


def open_study(widget: Optional[QWidget], home: Home, user, runner, study_uid: str,
               message: Callable[[str], None], opened: Optional[Callable] = None) -> None:
    """Find the study's first series with images (a read job), then open it;
    when it has none, say so through *message* (never a dialog that waits).
    *opened(window)* is told of the window."""

    def found(series_uid: Optional[str]) -> None:
        if series_uid is None:
            message("This study has no series with images to view (only structure sets, "
                    "plans, reports or notes)")
            return
        window = open_series(widget, home, user, runner, series_uid)
        if opened is not None:
            opened(window)

    runner.read(home, "Open study", lambda db, progress, cancel: first_image_series(db, study_uid),
                on_success=found, on_failure=lambda text: message(f"Cannot open the study: {text}"))


def close_viewers(host: Optional[QWidget]) -> None:
    """Close the viewer windows *host* keeps (it is closing)."""
    for window in viewers_of(host):
        try:
            window.close()
        except RuntimeError:  # already deleted
            pass
