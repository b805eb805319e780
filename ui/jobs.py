"""The one adapter between app jobs and Qt: run ``job(progress, cancel)`` off
the GUI thread and report back through signals delivered on the GUI thread.

A job is any callable of the app's job shape (app/jobs.py). It must not touch
widgets: it runs on a pool thread and talks to the window only through its
progress callback and its return value.

Operations on the cache: ``runner.read(home, title, fn)`` and
``runner.write(home, title, fn, changed=...)`` run ``fn(db, progress,
cancel)`` with a database connection of its own, opened on the pool thread
and closed when ``fn`` returns; a write that succeeds broadcasts what it
changed (ui/cache_events.py), and every view refreshes from that broadcast.
Core functions that open their own connections (import, retrieve) run
through ``runner.start`` with the plain job shape.

Pools (``kind``):

- ``"write"``: jobs that write the cache (import, change sets). One thread:
  they run one at a time, in the order they were started.
- ``"read"``: searches and other short reads; side by side.
- ``"preview"``: thumbnails; a small pool of its own so that a long series
  strip never delays a search.

Outcomes: ``succeeded(result)``, ``failed(message)``, ``cancelled()``, then
``finished()``. A failure goes to a (non-blocking) message box unless the
caller passes ``on_failure``; a cancel is a normal outcome and never shows a
dialog.

Threads: the pool thread only ever touches the runner's one long-lived
:class:`_Bridge` (emitting its signals, tagged with the job id) and the job's
CancelToken. The :class:`Job` handles live and die on the GUI thread; the
runner forwards each bridge signal to its handle there. No QObject is ever
created or destroyed on a pool thread.
"""

from __future__ import annotations

import itertools
import logging
import traceback
from typing import Any, Callable, Optional, Union

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from app.errors import Cancelled, StudyDeskError
from app.home import Home
from app.jobs import CancelToken, Throttled
from ui.cache_events import CacheChange, announce

log = logging.getLogger(__name__)

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
UNKNOWN = -1.0  # progress fraction when the job cannot tell


class Job(QObject):
    """A handle on one job, living on the GUI thread.

    Its signals are emitted on the GUI thread, so any slot (lambdas too) may
    touch widgets. Do not capture the handle in a lambda connected to its own
    signals (a reference cycle through C++ that Python cannot collect).
    """

    started = Signal()
    progress = Signal(float, str)  # fraction 0..1, or -1 when unknown; message
    succeeded = Signal(object)
    failed = Signal(str)  # the one-line message
    cancelled = Signal()
    finished = Signal()  # after any of the three outcomes

    _ids = itertools.count(1)

    def __init__(self, title: str, kind: str, visible: bool,
                 summarize: Optional[Callable[[Any], str]] = None):
        super().__init__()
        self.id = next(self._ids)
        self.title = title
        self.kind = kind
        self.visible = visible
        self.summarize = summarize  # result -> the final line in the jobs panel
        self.token = CancelToken()
        self.state = QUEUED
        self.fraction = UNKNOWN
        self.message = "Waiting" if kind == "write" else ""
        self.result: Any = None
        self.error: str = ""
        self.detail: str = ""

    @property
    def done(self) -> bool:
        return self.state in (SUCCEEDED, FAILED, CANCELLED)

    def cancel(self) -> None:
        """Ask the job to stop; it ends with ``cancelled`` at its next check."""
        self.token.cancel()

    # -- called by the runner, on the GUI thread ------------------------------

    def _log(self, outcome: str, level: int = logging.INFO) -> None:
        """The log file (app/logs.py) records every failure and the jobs the
        user sees or that write; searches and thumbnails, many a second,
        only at DEBUG."""
        if level < logging.WARNING and not (self.visible or self.kind == "write"):
            level = logging.DEBUG
        log.log(level, "job %d %s: %s", self.id, outcome, self.title)

    def _start(self) -> None:
        self.state, self.message = RUNNING, ""
        self._log("started")
        self.started.emit()

    def _progress(self, fraction: float, message: str) -> None:
        if not self.done:
            self.fraction, self.message = fraction, message
            self.progress.emit(fraction, message)

    def _succeed(self, result: Any) -> None:
        self.state, self.result, self.fraction = SUCCEEDED, result, 1.0
        try:
            self.message = self.summarize(result) if self.summarize else "Done"
        except Exception:  # noqa: BLE001 - a summary must never turn success into failure
            self.message = "Done"
        self._log(f"done ({self.message})")
        self.succeeded.emit(result)
        self.finished.emit()

    def _fail(self, message: str, detail: str) -> None:
        self.state, self.error, self.detail, self.message = FAILED, message, detail, message
        self._log(f"failed ({message})", logging.WARNING)
        self.failed.emit(message)
        self.finished.emit()

    def _cancel(self) -> None:
        self.state, self.message = CANCELLED, "Cancelled"
        self._log("cancelled")
        self.cancelled.emit()
        self.finished.emit()


class _Bridge(QObject):
    """Emitted on pool threads, received on the GUI thread (queued by Qt,
    since the bridge and the runner live there)."""

    started = Signal(int)
    progress = Signal(int, float, str)
    succeeded = Signal(int, object)
    failed = Signal(int, str, str)
    cancelled = Signal(int)


class _Runnable(QRunnable):
    def __init__(self, bridge: _Bridge, job_id: int, token: CancelToken, fn: Callable):
        super().__init__()
        self.setAutoDelete(True)
        self._bridge, self._id, self._token, self._fn = bridge, job_id, token, fn

    def run(self) -> None:  # on a pool thread: no widgets, no handles here
        bridge, job_id, token = self._bridge, self._id, self._token
        if token.cancelled:
            bridge.cancelled.emit(job_id)
            return
        bridge.started.emit(job_id)
        progress = Throttled(
            lambda fraction, message="": bridge.progress.emit(
                job_id, UNKNOWN if fraction is None else float(fraction), message or ""))
        try:
            result = self._fn(progress, token)
        except Cancelled:
            bridge.cancelled.emit(job_id)
        except StudyDeskError as e:
            bridge.failed.emit(job_id, e.message, e.detail)
        except Exception as e:  # noqa: BLE001 - every failure reaches the user
            log.exception("job %d failed", job_id)
            bridge.failed.emit(job_id, f"{type(e).__name__}: {e}", traceback.format_exc())
        else:
            bridge.succeeded.emit(job_id, result)
        finally:
            self._fn = None  # drop the job's closure here, not at some later GC


def _with_connection(home: Home, fn: Callable) -> Callable:
    def job(progress, cancel):
        db = home.connect()
        try:
            return fn(db, progress, cancel)
        finally:
            db.close()
    return job


class JobRunner(QObject):
    """Starts jobs on the right pool and keeps their handles until they end.

    ``job_added(job)`` is emitted for every visible job (the jobs panel
    listens). ``error_parent`` is the widget failure dialogs are shown over.
    """

    job_added = Signal(object)

    POOL_SIZES = {"write": 1, "read": 4, "preview": 2}

    def __init__(self, parent: Optional[QObject] = None, error_parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.error_parent = error_parent
        self._pools: dict[str, QThreadPool] = {}
        for kind, size in self.POOL_SIZES.items():
            pool = QThreadPool(self)
            pool.setMaxThreadCount(size)
            self._pools[kind] = pool
        self._jobs: dict[int, tuple[Job, bool]] = {}  # id -> (handle, default error path)
        self._dialogs: list[QMessageBox] = []
        self._closed = False
        self._bridge = _Bridge(self)
        self._bridge.started.connect(self._on_started)
        self._bridge.progress.connect(self._on_progress)
        self._bridge.succeeded.connect(self._on_succeeded)
        self._bridge.failed.connect(self._on_failed)
        self._bridge.cancelled.connect(self._on_cancelled)

    def start(self, title: str, fn: Callable, *, kind: str = "read", visible: bool = True,
              on_success: Optional[Callable[[Any], None]] = None,
              on_failure: Optional[Callable[[str], None]] = None,
              on_cancel: Optional[Callable[[], None]] = None,
              summarize: Optional[Callable[[Any], str]] = None) -> Job:
        """Run ``fn(progress, cancel)`` on the *kind* pool; returns its handle.

        Without ``on_failure`` a failure shows a message box. ``summarize``
        turns the result into the line the jobs panel shows at the end.
        """
        if kind not in self._pools:
            raise ValueError(f"job kind {kind!r}: one of {', '.join(self._pools)}")
        job = Job(title, kind, visible, summarize)
        if on_success is not None:
            job.succeeded.connect(on_success)
        if on_failure is not None:
            job.failed.connect(on_failure)
        if on_cancel is not None:
            job.cancelled.connect(on_cancel)
        self._jobs[job.id] = (job, on_failure is None)
        if self._closed:
            job.cancel()  # after shutdown: ends at once as cancelled
        if visible:
            self.job_added.emit(job)
        self._pools[kind].start(_Runnable(self._bridge, job.id, job.token, fn))
        return job

    def read(self, home: Home, title: str, fn: Callable, *, visible: bool = False,
             kind: str = "read", **callbacks) -> Job:
        """Run ``fn(db, progress, cancel)`` on a connection of its own (closed after)."""
        return self.start(title, _with_connection(home, fn), kind=kind, visible=visible, **callbacks)

    def write(self, home: Home, title: str, fn: Callable, *,
              changed: Union[CacheChange, Callable[[Any], Optional[CacheChange]], None] = None,
              visible: bool = True, on_success: Optional[Callable[[Any], None]] = None,
              **callbacks) -> Job:
        """Run ``fn(db, progress, cancel)`` on the write pool with a connection
        of its own; on success broadcast ``changed`` (or ``changed(result)``)
        to every view of *home*, then call ``on_success(result)``."""

        def succeeded(result: Any) -> None:
            change = changed(result) if callable(changed) else changed
            if change is not None:
                announce(home, change)
            if on_success is not None:
                on_success(result)

        return self.start(title, _with_connection(home, fn), kind="write", visible=visible,
                          on_success=succeeded, **callbacks)

    # -- forwarding, on the GUI thread ---------------------------------------------

    def _job(self, job_id: int) -> Optional[Job]:
        entry = self._jobs.get(job_id)
        return entry[0] if entry else None

    @Slot(int)
    def _on_started(self, job_id: int) -> None:
        if (job := self._job(job_id)) is not None:
            job._start()

    @Slot(int, float, str)
    def _on_progress(self, job_id: int, fraction: float, message: str) -> None:
        if (job := self._job(job_id)) is not None:
            job._progress(fraction, message)

    @Slot(int, object)
    def _on_succeeded(self, job_id: int, result: Any) -> None:
        if (entry := self._jobs.pop(job_id, None)) is not None:
            entry[0]._succeed(result)

    @Slot(int, str, str)
    def _on_failed(self, job_id: int, message: str, detail: str) -> None:
        if (entry := self._jobs.pop(job_id, None)) is not None:
            job, default_path = entry
            job._fail(message, detail)
            if default_path:
                self.show_failure(job)

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        if (entry := self._jobs.pop(job_id, None)) is not None:
            entry[0]._cancel()

    # -- failures ------------------------------------------------------------------

    def show_failure(self, job: Job) -> None:
        """The default error path: a window-modal box that does not block the loop."""
        box = QMessageBox(QMessageBox.Icon.Warning, "StudyDesk", f"{job.title} failed.",
                          QMessageBox.StandardButton.Ok, self.error_parent)
        box.setInformativeText(job.error)
        if job.detail:
            box.setDetailedText(job.detail)
        box.setObjectName("jobFailure")
        box.finished.connect(self._forget_dialogs)
        self._dialogs.append(box)
        box.open()

    def _forget_dialogs(self) -> None:
        for box in [b for b in self._dialogs if not b.isVisible()]:
            self._dialogs.remove(box)
            box.deleteLater()

    # -- lifetime ------------------------------------------------------------------

    def running(self) -> list[Job]:
        return [job for job, _ in self._jobs.values()]

    def cancel_all(self) -> None:
        for job, _ in list(self._jobs.values()):
            job.cancel()

    def wait(self, msecs: int = 30000) -> bool:
        """Block until every pool is idle (shutdown and tests only)."""
        return all(pool.waitForDone(msecs) for pool in self._pools.values())

    def shutdown(self, msecs: int = 30000) -> bool:
        """Cancel every job, refuse new ones, wait for the pools."""
        self._closed = True
        self.cancel_all()
        return self.wait(msecs)
