"""CPU-bound work (parsing, rewriting DICOM files) in worker processes.

One helper for every job that handles many files: chunks go to a process
pool and come back in order, the cancel token is checked while waiting,
and when workers cannot start (a script without a ``__main__`` guard, a
locked-down machine) the remaining chunks run in this process instead.
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


def _quiet_init(initializer: Optional[Callable], initargs: tuple) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides about Ctrl+C
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
                               initializer=_quiet_init, initargs=(initializer, initargs))
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
