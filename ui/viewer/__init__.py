"""The image viewer window (issue #15): stack, window/level, zoom, layouts,
over the Qt-free display core. Open it with :func:`open_viewer`."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QWidget

from app.home import Home

_OPEN: list = []  # windows without a parent, kept alive until closed


def open_viewer(parent: Optional[QWidget], home: Home, user, runner, series_uid: str,
                image: Optional[int] = None):
    """Open a viewer window on `series_uid` at image `image` (1-based; the
    first when None) and return it at once: the series is read and decoded
    on pool threads, so nothing waits. Each call opens a window of its own."""
    from ui.viewer.window import ViewerWindow

    window = ViewerWindow(home, user, runner, series_uid, image, parent)
    if parent is None:
        _OPEN.append(window)
        window.destroyed.connect(lambda *_: _OPEN.remove(window) if window in _OPEN else None)
    window.show()
    window.raise_()
    return window
