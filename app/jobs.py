"""The one shape of long work: ``job(progress, cancel) -> result``.

A job reports with ``progress(fraction, message)`` (fraction in 0..1, or None
when unknown) and checks its :class:`CancelToken` between units of work;
``cancel.check()`` raises :class:`~app.errors.Cancelled`. The window runs jobs
through one adapter (``ui/jobs.py``); the command line runs them inline.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional, Protocol

from app.errors import Cancelled


class Progress(Protocol):
    def __call__(self, fraction: Optional[float], message: str = "") -> None: ...


def no_progress(fraction: Optional[float], message: str = "") -> None:
    """A progress callback that ignores everything."""


class CancelToken:
    """Thread-safe flag a job checks between units of work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


class Throttled:
    """Wrap a progress callback so it fires only when the percent or the
    message changes, and at most every ``interval`` seconds otherwise."""

    def __init__(self, progress: Progress, interval: float = 0.1):
        self._progress = progress
        self._interval = interval
        self._last = (None, None)
        self._last_time = 0.0

    def __call__(self, fraction: Optional[float], message: str = "") -> None:
        percent = None if fraction is None else int(fraction * 100)
        now = time.monotonic()
        if (percent, message) == self._last:
            return
        if percent == self._last[0] and now - self._last_time < self._interval:
            return
        self._last = (percent, message)
        self._last_time = now
        self._progress(fraction, message)


Job = Callable[[Progress, CancelToken], Any]
