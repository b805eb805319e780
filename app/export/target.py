"""The ZIP being written: under a temporary name beside the destination,
renamed into place only when complete; removed on any failure."""

from __future__ import annotations

import os
import shutil
import uuid
import zipfile
from pathlib import Path
from typing import BinaryIO

from app import recovery
from app.export.names import check_member

CHUNK = 1 << 20
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class ZipTarget:
    def __init__(self, destination: Path, fixed_times: bool = False):
        self.destination = destination
        self.partial = destination.with_name(f".{destination.name}.{uuid.uuid4().hex[:8]}.partial")
        recovery.register_partial(self.partial)  # a kill leaves no partial for good
        self.fixed_times = fixed_times
        self.members: list[str] = []
        self._names: set[str] = set()
        try:
            self._zip = zipfile.ZipFile(self.partial, "w", compression=zipfile.ZIP_STORED,
                                        allowZip64=True)
        except BaseException:
            recovery.release_partial(self.partial)
            raise
        self._done = False

    def _info(self, name: str, size: int, source: Path | None = None) -> zipfile.ZipInfo:
        check_member(name)
        if name in self._names:
            raise ValueError(f"member {name!r} written twice")
        self._names.add(name)
        if source is not None and not self.fixed_times:
            info = zipfile.ZipInfo.from_file(source, name)
        else:
            info = zipfile.ZipInfo(name, FIXED_TIME)
        info.compress_type = zipfile.ZIP_STORED
        info.file_size = size
        return info

    def add_file(self, name: str, source: Path) -> int:
        """Stream *source* into the archive as *name*; returns its size."""
        size = source.stat().st_size
        with open(source, "rb") as src:
            self._copy(self._info(name, size, source), src)
        return size

    def add_range(self, name: str, source: BinaryIO, offset: int, size: int) -> None:
        """Copy *size* bytes of *source* from *offset* into the archive as *name*."""
        source.seek(offset)
        info = self._info(name, size)
        with self._zip.open(info, "w", force_zip64=size >= 0x7FFFFFFF) as dst:
            left = size
            while left:
                block = source.read(min(CHUNK, left))
                if not block:
                    raise OSError(f"{name}: the worker's output ended early")
                dst.write(block)
                left -= len(block)
        self.members.append(name)

    def add_bytes(self, name: str, data: bytes) -> None:
        self._zip.writestr(self._info(name, len(data)), data)
        self.members.append(name)

    def _copy(self, info: zipfile.ZipInfo, src: BinaryIO) -> None:
        with self._zip.open(info, "w", force_zip64=info.file_size >= 0x7FFFFFFF) as dst:
            shutil.copyfileobj(src, dst, CHUNK)
        self.members.append(info.filename)

    def commit(self) -> Path:
        self._zip.close()
        with open(self.partial, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(self.partial, self.destination)
        recovery.release_partial(self.partial)
        self._done = True
        return self.destination

    def discard(self) -> None:
        if self._done:
            return
        try:
            self._zip.close()
        except Exception:  # noqa: BLE001 - the archive is thrown away anyway
            pass
        self.partial.unlink(missing_ok=True)
        recovery.release_partial(self.partial)
        self._done = True
