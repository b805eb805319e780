"""CPU-bound work (parsing, rewriting DICOM files) in worker processes.

One helper for every job that handles many files: chunks go to a process
pool and come back in order, the cancel token is checked while waiting,
and when workers cannot start (a script without a ``__main__`` guard, a
locked-down machine) the remaining chunks run in this process instead.

Workers never outlive the application: a worker blocked waiting for work
would otherwise hold the cache and the store open for good after a kill -9
of its parent. Each worker asks the kernel to kill it when its parent dies
(Linux ``PR_SET_PDEATHSIG``) and, on every system, runs a small thread that
exits the worker once the process that made the pool is gone or the
worker has been handed to another parent. With the ``forkserver`` start the
worker's parent is the fork server, which itself exits when the
application's end of its pipe closes, so the same two guards cover it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Callable, Iterator, Optional, Sequence, TypeVar

from app.jobs import CancelToken

T = TypeVar("T")
R = TypeVar("R")


def worker_count() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def _start_method():
    """fork is the quickest start (no re-import) and safe while this process
    runs one thread (the command line); from a window's worker thread,
    forkserver; in a PyInstaller bundle or on Windows, spawn."""
    if os.name != "posix" or getattr(sys, "frozen", False):
        return multiprocessing.get_context("spawn")
    if threading.active_count() == 1 and threading.current_thread() is threading.main_thread():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver")


PR_SET_PDEATHSIG = 1        # <linux/prctl.h>
WATCH_INTERVAL = 0.25       # seconds between two looks at the parent (the fallback)


def _kill_with_parent() -> bool:
    """Linux: have the kernel send SIGKILL to this process when the thread
    that forked it ends (a pool is made and shut down by one thread, so that
    is the parent's death). True when it was set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def process_alive(pid: int) -> bool:
    """Whether process *pid* exists (one owned by another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch_parent(owner: int, parent: int) -> None:
    """Exit this worker as soon as *owner* (the process that made the pool)
    is gone or this worker's parent changed (it was orphaned)."""
    while True:
        if os.getppid() != parent or not process_alive(owner):
            os._exit(1)
        threading.Event().wait(WATCH_INTERVAL)


def guard_worker(owner: int) -> None:
    """Make this worker process end when the application ends (see the
    module docstring). *owner*: the pid of the process that made the pool."""
    parent = os.getppid()
    if os.environ.get("STUDYDESK_FAULT") != "no-pdeathsig":  # tests: the portable guard alone
        _kill_with_parent()
    if not process_alive(owner) or (parent == 1 and owner != 1):
        os._exit(1)  # the parent died before the guard was set
    threading.Thread(target=_watch_parent, args=(owner, parent), daemon=True,
                     name="studydesk-parent-watch").start()


def _quiet_init(initializer: Optional[Callable], initargs: tuple, owner: Optional[int] = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides about Ctrl+C
    if owner is not None:
        guard_worker(owner)
    if initializer is not None:
        initializer(*initargs)


def map_chunks(func: Callable[[Sequence[T]], R], chunks: list[Sequence[T]], cancel: CancelToken,
               workers: int, initializer: Optional[Callable] = None,
               initargs: tuple = (), ahead: Optional[int] = None) -> Iterator[R]:
    """``func(chunk)`` for every chunk, results in order. *func* and
    *initializer* must be importable module-level functions. *ahead*: how
    many chunks may be handed out before their results are taken (bounds
    the memory that results waiting in order can hold); all by default."""
    done = 0
    if workers > 1 and len(chunks) > 1:
        try:
            for result in _pooled(func, chunks, cancel, workers, initializer, initargs,
                                  ahead or len(chunks)):
                yield result
                done += 1
            return
        except BrokenProcessPool:
            pass  # workers could not start: do the rest here, nothing twice
    if initializer is not None:
        initializer(*initargs)
    for chunk in chunks[done:]:
        cancel.check()
        yield func(chunk)


def _pooled(func, chunks, cancel, workers, initializer, initargs, ahead: int) -> Iterator:
    pool = ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=_start_method(),
                               initializer=_quiet_init,
                               initargs=(initializer, initargs, os.getpid()))
    try:
        waiting = iter(chunks)
        futures = deque(pool.submit(func, chunk) for chunk in islice(waiting, max(1, ahead)))
        while futures:
            future = futures.popleft()
            while True:
                cancel.check()
                try:
                    result = future.result(timeout=0.2)
                    break
                except FuturesTimeout:
                    continue
            for chunk in islice(waiting, 1):
                futures.append(pool.submit(func, chunk))
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
