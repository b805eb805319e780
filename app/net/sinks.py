"""Where a received data set goes as its P-DATA fragments arrive
(:func:`app.net.dimse.receive`): written as it came, after a File Meta
Information header of our own, into a file (:class:`FileSink`) or into a
reused buffer (:class:`MemorySink`, which goes on into a file past its
limit). Never decoded.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Optional

from app.dicom import meta as dicom_meta

MEMORY_LIMIT = 32 << 20  # a MemorySink writes larger data sets to a file as they arrive
BUFFER_SIZE = 1 << 20    # the least a receive buffer holds


def file_meta(sop_class: str, sop_instance: str, transfer_syntax: str, source_aet: str = "") -> bytes:
    """Preamble, 'DICM' and a File Meta Information group (PS3.10 7.1): the
    project's one writer (app/dicom/meta.py)."""
    return dicom_meta.file_meta(sop_class, sop_instance, transfer_syntax, source_aet)


class FileSink:
    """Writes a received data set, as it arrived, after a File Meta Information
    header of our own, into a new file in *folder*. The file is complete only
    once :meth:`finish` returned; :meth:`discard` removes it."""

    def __init__(self, folder: Path, sop_class: str, sop_instance: str, transfer_syntax: str,
                 source_aet: str):
        self.path = folder / f"r{uuid.uuid4().hex}.part"
        self._file = open(self.path, "wb")
        try:
            self.write(memoryview(file_meta(sop_class, sop_instance, transfer_syntax, source_aet)))
        except BaseException:
            self.discard()
            raise

    def write(self, data: memoryview) -> None:
        self._file.write(data)

    def finish(self) -> Path:
        self._file.close()
        return self.path

    def discard(self) -> None:
        try:
            self._file.close()
        finally:
            self.path.unlink(missing_ok=True)


class Buffers:
    """A free list of receive buffers. Writing into memory the process has
    used before costs nothing more; fresh memory for each data set costs a
    page fault per 4 KiB, about 0.15 ms of system time per 0.5 MB handed
    from the receiving thread to another (docs/performance/network.md)."""

    def __init__(self, keep_bytes: int = 64 << 20):
        self.keep_bytes = keep_bytes
        self._free: list[bytearray] = []
        self._kept = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bytearray:
        """A buffer of at least *size* bytes (its content is garbage)."""
        with self._lock:
            for i in range(len(self._free) - 1, -1, -1):
                if len(self._free[i]) >= size:
                    buffer = self._free.pop(i)
                    self._kept -= len(buffer)
                    return buffer
        return bytearray(max(size, BUFFER_SIZE))

    def give(self, buffer: bytearray) -> None:
        """Back to the list, once nothing refers to its content any more."""
        with self._lock:
            if self._kept + len(buffer) <= self.keep_bytes:
                self._free.append(buffer)
                self._kept += len(buffer)

    @property
    def kept(self) -> int:
        """Bytes held in the free list."""
        return self._kept

    def clear(self) -> None:
        """Let the memory go (a transfer ended); buffers in use are not affected."""
        with self._lock:
            self._free.clear()
            self._kept = 0


BUFFERS = Buffers()


def release(view: memoryview) -> None:
    """Give the buffer of a :class:`MemorySink`'s data back to :data:`BUFFERS`."""
    buffer = view.obj
    view.release()
    if isinstance(buffer, bytearray):
        BUFFERS.give(buffer)


class MemorySink:
    """Holds a received data set in memory, after the same File Meta
    Information header as :class:`FileSink` writes: :meth:`finish` returns
    the complete file's bytes (a view of a buffer of :data:`BUFFERS`; pass
    it to :func:`release` once done with it), which the receiver hands on
    without having touched the disk. A data set that grows past *limit*
    bytes goes on into a :class:`FileSink` in *folder*, and :meth:`finish`
    returns its path."""

    def __init__(self, folder: Path, sop_class: str, sop_instance: str, transfer_syntax: str,
                 source_aet: str, limit: int = MEMORY_LIMIT):
        self._file_args = (folder, sop_class, sop_instance, transfer_syntax, source_aet)
        meta = file_meta(sop_class, sop_instance, transfer_syntax, source_aet)
        self._buffer: Optional[bytearray] = BUFFERS.take(len(meta))
        self._view = memoryview(self._buffer)
        self._view[:len(meta)] = meta
        self._size = self._meta_size = len(meta)
        self._file: Optional[FileSink] = None
        self.limit = limit

    def write(self, data: memoryview) -> None:
        if self._file is not None:
            self._file.write(data)
            return
        end = self._size + len(data)
        if end > self.limit:
            self._file = FileSink(*self._file_args)
            self._file.write(self._view[self._meta_size:self._size])
            self._give_back()
            self._file.write(data)
            return
        if end > len(self._view):
            bigger = BUFFERS.take(max(end, 2 * len(self._view)))
            memoryview(bigger)[:self._size] = self._view[:self._size]
            self._give_back()
            self._buffer, self._view = bigger, memoryview(bigger)
        self._view[self._size:end] = data
        self._size = end

    def finish(self) -> "Path | memoryview":
        if self._file is not None:
            return self._file.finish()
        data = self._view[:self._size]
        self._view.release()
        self._buffer = None
        return data

    def discard(self) -> None:
        if self._file is not None:
            self._file.discard()
        self._give_back()

    def _give_back(self) -> None:
        if self._buffer is not None:
            self._view.release()
            BUFFERS.give(self._buffer)
            self._buffer = None
