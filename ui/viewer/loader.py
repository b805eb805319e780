"""Frames decoded off the GUI thread, kept in a bounded cache, fetched ahead
of the reader.

One :class:`FrameLoader` per viewport: ``want(index)`` returns the ready
frame or queues it first, and ``prefetch(index, step)`` queues the images
around the current one, more of them in the direction of travel. Decoding
runs on one thread pool shared by every viewer window (as many threads as
cores, at most four: decoding is CPU work, more threads only queue), and the
finished frame comes back as ``ready(index)`` on the GUI thread. A frame of
a compressed file is decoded by one of the viewer's worker processes
(app.viewer.decoder; the pool thread waits for it), since the JPEG 2000 and
JPEG decoders hold the interpreter lock the GUI thread needs; native files
are decoded in the pool thread.

Each finished frame is drawn on the pool thread too, with the window and
inversion the viewport had when it asked, so while scrolling the GUI thread
only makes the 32-bit image of the frames it paints (numpy, without the
interpreter lock). Frames live in one cache shared by all
loaders, bounded in bytes (least recently used first out), so that a window
of 2,000 images or four windows open cost the same memory.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from app.viewer import decoder
from ui.viewer.frames import Display, Frame, ImageInfo, SeriesImage, image_info

CACHE_BYTES = 160 * 2**20  # ~128 frames of 512x512 CT (float32 values + 8-bit display)
AHEAD, BEHIND = 12, 4  # images prefetched in and against the direction of travel

_pool: Optional[QThreadPool] = None


def decode_pool() -> QThreadPool:
    """The viewers' own pool: thumbnails and searches keep theirs."""
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(max(1, min(4, os.cpu_count() or 2)))
        app = QCoreApplication.instance()
        if app is not None:  # no decode may run into the interpreter's exit
            app.aboutToQuit.connect(_drain)
    return _pool


def _drain() -> None:
    decoder.shutdown()
    if _pool is not None:
        _pool.clear()
        _pool.waitForDone(10000)


@dataclass
class Loaded:
    """A cache entry: the frame and its pixels drawn for one (window, invert),
    or the reason the image cannot be shown."""

    frame: Optional[Frame] = None
    display: Optional[Display] = None
    drawn_for: tuple = ()
    error: str = ""
    info: ImageInfo = ImageInfo()
    image: Optional[QImage] = None  # `display` ready to paint (None: make it when painted)

    @property
    def size(self) -> int:
        total = 256
        if self.frame is not None:
            for arr in (self.frame.values, self.frame.rgb):
                total += arr.nbytes if arr is not None else 0
        if self.display is not None:
            total += self.display.pixels.nbytes
        if self.image is not None:
            total += self.image.sizeInBytes()
        elif self.display is not None:  # counted before it is made: the budget holds
            total += 4 * self.display.pixels.shape[0] * self.display.pixels.shape[1]
        return total


def paintable(pixels) -> QImage:
    """The display pixels as a QImage in the format the screen is painted in
    (32-bit RGB), so painting scales it without first converting it; made
    when the frame is first painted.

    The 0xffRRGGBB words are made in numpy, which lets go of the interpreter
    lock, and the QImage keeps the array alive. QImage.convertToFormat does
    the same work holding the lock (PySide keeps it through the call):
    sampled while scrolling, the decode threads held the lock there more
    than anywhere else."""
    h, w = pixels.shape[:2]
    if pixels.ndim == 2:
        words = np.multiply(pixels, np.uint32(0x010101), dtype=np.uint32)
    else:
        words = np.left_shift(pixels[..., 0], 16, dtype=np.uint32)
        words |= np.left_shift(pixels[..., 1], 8, dtype=np.uint32)
        words |= pixels[..., 2]
    words |= np.uint32(0xFF000000)
    return QImage(words.data, w, h, 4 * w, QImage.Format.Format_RGB32)


class FrameCache:
    """(series key, index) -> Loaded, least recently used out past the budget."""

    def __init__(self, budget: int = CACHE_BYTES):
        self.budget = budget
        self.used = 0
        self._entries: OrderedDict[tuple, Loaded] = OrderedDict()

    def get(self, key: tuple) -> Optional[Loaded]:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: tuple, entry: Loaded) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.used -= old.size
        self._entries[key] = entry
        self.used += entry.size
        while self.used > self.budget and len(self._entries) > 1:
            _, dropped = self._entries.popitem(last=False)
            self.used -= dropped.size

    def __len__(self) -> int:
        return len(self._entries)


CACHE = FrameCache()


class _Bridge(QObject):
    """The one object pool threads emit on: made on the GUI thread, never
    deleted, so no thread can emit on a loader a closing window is deleting
    (what ui/jobs.py's bridge does for jobs). Results reach the loader by id;
    a loader that is gone drops them."""

    done = Signal(int, int, object)  # loader id, index, Loaded


_bridge: Optional[_Bridge] = None
_loaders: dict[int, "FrameLoader"] = {}


def _the_bridge() -> _Bridge:
    global _bridge
    if _bridge is None:
        _bridge = _Bridge()
        _bridge.done.connect(_deliver)
    return _bridge


def _deliver(loader_id: int, index: int, entry: Optional[Loaded]) -> None:
    loader = _loaders.get(loader_id)
    if loader is not None:
        try:
            loader._done(index, entry)
        except RuntimeError:  # its viewport is being deleted
            _loaders.pop(loader_id, None)


class _Decode(QRunnable):
    def __init__(self, bridge: _Bridge, loader_id: int, index: int, image: SeriesImage,
                 frame: int, drawn_for: tuple, still_wanted: Callable[[int], bool]):
        super().__init__()
        self.setAutoDelete(True)
        self.args = (bridge, loader_id, index, image, frame, drawn_for, still_wanted)

    def run(self) -> None:  # a pool thread: no widgets, no QObjects made here
        bridge, loader_id, index, image, frame, drawn_for, still_wanted = self.args
        self.args = None
        if not still_wanted(index):
            _emit(bridge, loader_id, index, None)
            return
        # compressed frames decode in a worker process (app.viewer.decoder): the
        # decoders hold the interpreter lock, which is the GUI thread's too
        decoded = decoder.decode(image.path, frame, drawn_for)
        if decoded.error:
            entry = Loaded(error=decoded.error)
        else:
            # the 32-bit image is made when the frame is painted (canvas): scrolling
            # fast, most frames are passed over, and its 1 MB of fresh memory an
            # image cost the decode threads more than painting the few shown
            loaded = decoded.frame
            try:
                entry = Loaded(loaded, decoded.display, drawn_for,
                               info=image_info(loaded.header, loaded.index))
            except Exception as exc:  # noqa: BLE001 - a placeholder, never a crash
                entry = Loaded(error=f"{type(exc).__name__}: {exc}")
        _emit(bridge, loader_id, index, entry)


def _emit(bridge: _Bridge, loader_id: int, index: int, entry: Optional[Loaded]) -> None:
    try:
        bridge.done.emit(loader_id, index, entry)
    except RuntimeError:  # only at the interpreter's exit, when Qt is already gone
        pass


class FrameLoader(QObject):
    """The frames of one series for one viewport (see the module)."""

    ready = Signal(int)

    _ids = iter(range(1, 1 << 62))

    def __init__(self, key: str, images: list[tuple[SeriesImage, int]],
                 parent: Optional[QObject] = None, cache: FrameCache = CACHE):
        super().__init__(parent)
        self.id = next(self._ids)
        self.key = key  # the series UID: shared cache entries of the same series
        self.images = images  # (image, frame) per display position
        self.cache = cache
        self.pool = decode_pool()
        self.slots = 3 * self.pool.maxThreadCount()  # queued in the pool: no idle gap between jobs
        self._bridge = _the_bridge()
        _loaders[self.id] = self
        loader_id = self.id
        self.destroyed.connect(lambda *_: _loaders.pop(loader_id, None))
        self._queue: list[int] = []  # wanted, most urgent first
        self._running: set[int] = set()
        self._wanted: frozenset[int] = frozenset()  # read from pool threads
        self._lock = threading.Lock()
        self.drawn_for: tuple = (None, False)  # (window, invert) jobs draw with

    def __len__(self) -> int:
        return len(self.images)

    def get(self, index: int) -> Optional[Loaded]:
        return self.cache.get((self.key, index))

    def put(self, index: int, entry: Loaded) -> None:
        self.cache.put((self.key, index), entry)

    def want(self, index: int, step: int = 1) -> Optional[Loaded]:
        """The entry at `index` if ready; else queue it (first) and return None.
        Either way, queue its neighbours in the direction `step`."""
        entry = self.get(index)
        self.prefetch(index, step, include_current=entry is None)
        return entry

    def prefetch(self, index: int, step: int = 1, include_current: bool = True) -> None:
        n = len(self.images)
        if n == 0:
            return
        forward = 1 if step >= 0 else -1
        order = [index] if include_current else []
        for k in range(1, max(AHEAD, BEHIND) + 1):
            if k <= AHEAD:
                order.append(index + forward * k)
            if k <= BEHIND:
                order.append(index - forward * k)
        order = [i for i in order if 0 <= i < n and (i == index or self.get(i) is None)]
        with self._lock:
            self._queue = [i for i in order if i not in self._running]
            self._wanted = frozenset(order) | self._running
        self._start()

    def cancel(self) -> None:
        """Forget the queue and what is on its way (the viewport closes or
        changes series)."""
        with self._lock:
            self._queue, self._wanted = [], frozenset()
        _loaders.pop(self.id, None)

    def busy(self) -> bool:
        return bool(self._queue or self._running)

    def _still_wanted(self, index: int) -> bool:
        return index in self._wanted

    def _start(self) -> None:
        while self._queue and len(self._running) < self.slots:
            index = self._queue.pop(0)
            if self.get(index) is not None and index not in self._running:
                continue
            self._running.add(index)
            image, frame = self.images[index]
            self.pool.start(_Decode(self._bridge, self.id, index, image, frame,
                                    self.drawn_for, self._still_wanted))

    def _done(self, index: int, entry: Optional[Loaded]) -> None:
        self._running.discard(index)
        if entry is not None:
            self.put(index, entry)
            self.ready.emit(index)
        self._start()
