"""Compressed frames decoded in worker processes, so that the process that
shows them keeps its interpreter lock.

pydicom's pixel handlers decode JPEG, JPEG 2000, RLE... holding the
interpreter lock (pylibjpeg-openjpeg keeps it for the whole decode: half a
second for a large radiograph), and in the viewer the lock is the GUI
thread's too. :func:`decode` therefore sends every frame that
:mod:`app.dicom.native`'s reader does not read (compressed, big endian,
deflated, odd) to a small process pool of the viewer's
own, and the frame comes back decoded and drawn, whole: a :class:`Decoded`
holding the :class:`~app.viewer.display.Frame` (its header the pydicom data
set, without the pixel data) and its :class:`~app.viewer.display.Display`,
or the one-line refusal the window shows as a placeholder. Native files
(the common case, :mod:`app.dicom.native`'s fast path) are decoded in the
calling thread, as before: shipping their pixels would cost more than
decoding them.

The pool is made once, off the calling thread, when the first compressed
frame asks for it (that frame waits for the workers to start, about half a
second, on its decode thread; a session of native images never starts
them) and kept: forkserver from a window (never fork from a
process with threads), spawn in a PyInstaller bundle (app.parallel's
:func:`~app.parallel._start_method`), each worker guarded to die with the
application (:func:`~app.parallel.guard_worker`). The thread that makes it
lives as long as the pool does, since a spawned worker's death signal is
tied to the thread that started it. When the pool cannot start or breaks,
the frame is decoded in the calling thread (no image is lost) and the next
frame makes a new pool.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Optional

from app.parallel import _quiet_init, _start_method, worker_count
from app.viewer.display import Display, Frame, Undisplayable, load_frame, load_native_frame

START_TIMEOUT = 30.0  # seconds a decode waits for the pool to start, then decodes here
_WARM_TASK = 0.1  # seconds each start-up task holds its worker: every worker is started


@dataclass
class Decoded:
    """A frame decoded and drawn, or why it cannot be shown; `pid`: the
    process that decoded it."""

    frame: Optional[Frame] = None
    display: Optional[Display] = None
    error: str = ""
    pid: int = 0


def decode_here(path: str, frame: int, drawn_for: tuple = (None, False)) -> Decoded:
    """Decode frame `frame` of `path` in this thread and draw it with
    (window, invert); the data set keeps no pixel data (the frame holds
    its values)."""
    try:
        return _drawn(load_frame(path, frame), drawn_for)
    except Undisplayable as exc:
        return Decoded(error=exc.message, pid=os.getpid())
    except Exception as exc:  # noqa: BLE001 - a placeholder, never a crash
        return Decoded(error=f"{type(exc).__name__}: {exc}", pid=os.getpid())


def _drawn(loaded: Frame, drawn_for: tuple) -> Decoded:
    if loaded.header is not None and "PixelData" in loaded.header:
        del loaded.ds.PixelData  # decoded into values: no second copy kept (or sent)
    return Decoded(loaded, loaded.draw(*drawn_for), pid=os.getpid())


def decode(path: str, frame: int, drawn_for: tuple = (None, False)) -> Decoded:
    """:func:`decode_here`, in a worker process unless the native reader
    reads the file (see the module): it is tried first, in this thread."""
    try:
        loaded = load_native_frame(path, frame)
        if loaded is not None:
            return _drawn(loaded, drawn_for)
    except Undisplayable as exc:
        return Decoded(error=exc.message, pid=os.getpid())
    except Exception as exc:  # noqa: BLE001 - a placeholder, never a crash
        return Decoded(error=f"{type(exc).__name__}: {exc}", pid=os.getpid())
    pool = _POOL.ready()
    if pool is None:
        return decode_here(path, frame, drawn_for)
    try:
        return pool.submit(decode_here, path, frame, drawn_for).result()
    except BrokenProcessPool:
        _POOL.discard(pool)
    except Exception:  # noqa: BLE001 - shut down under us, a result that did not travel
        pass
    if _POOL.closed:
        return Decoded(error="the viewer is closing")
    return decode_here(path, frame, drawn_for)


def warm() -> None:
    """Start the pool's workers now (off this thread), after a
    :func:`shutdown` too. Cheap when already started; the first compressed
    frame does it too."""
    with _POOL._lock:
        _POOL.closed = False
    _POOL.start()


def worker_pids() -> list[int]:
    """The worker processes running now ([] before the first compressed
    frame or after shutdown): what they cost is the viewer's too."""
    executor = _POOL._executor
    processes = getattr(executor, "_processes", None) or {}
    return [p.pid for p in list(processes.values()) if p.is_alive()]


def shutdown() -> None:
    """End the workers (the application quits); decodes still asked for
    are done in their own thread."""
    _POOL.close()


def _hello() -> int:
    time.sleep(_WARM_TASK)
    return os.getpid()


class _Pool:
    """The one pool, made by a thread of its own (see the module)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._executor: Optional[ProcessPoolExecutor] = None
        self._started = threading.Event()  # set once the current attempt has ended
        self._stop: Optional[threading.Event] = None
        self.closed = False

    def start(self) -> threading.Event:
        with self._lock:
            if self._stop is None and not self.closed:
                self._started = threading.Event()
                self._stop = threading.Event()
                threading.Thread(target=self._own, args=(self._started, self._stop),
                                 daemon=True, name="studydesk-viewer-decoders").start()
            return self._started

    def ready(self) -> Optional[ProcessPoolExecutor]:
        """The started pool, or None (closed, or it could not start)."""
        if self.closed:
            return None
        self.start().wait(START_TIMEOUT)
        return self._executor

    def discard(self, executor: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is executor and self._stop is not None:
                self._executor = None
                self._stop.set()
                self._stop = None  # the next decode makes a new pool

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._executor = None
            if self._stop is not None:
                self._stop.set()
                self._stop = None

    def _own(self, started: threading.Event, stop: threading.Event) -> None:
        executor = None
        try:
            context = _start_method()
            if context.get_start_method() == "forkserver":
                # workers fork from a server with the decoders imported, and
                # never import the main script (a script without a main guard
                # would run again); no effect once the server runs
                context.set_forkserver_preload([__name__])
            executor = ProcessPoolExecutor(max_workers=worker_count(), mp_context=context,
                                           initializer=_quiet_init,
                                           initargs=(None, (), os.getpid()))
            hellos = [executor.submit(_hello) for _ in range(worker_count())]
            for hello in hellos:
                hello.result(timeout=START_TIMEOUT)
        except Exception:  # noqa: BLE001 - no workers: decodes run in their thread
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
            with self._lock:
                if self._stop is stop:
                    self._stop = None  # try again next time
            started.set()
            return
        with self._lock:
            if not stop.is_set():
                self._executor = executor
        started.set()
        stop.wait()
        executor.shutdown(wait=False, cancel_futures=True)


_POOL = _Pool()
