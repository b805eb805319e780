"""ISO 9660 images of a staged disc, written with pycdlib.

Level 1 (8.3 names, 8 directory levels) with Joliet (what Windows shows) and
Rock Ridge (what Linux and macOS show). The staged names already satisfy
level 1, so all three trees carry the same names; only the ISO 9660 tree
adds the version suffix the standard requires (``README.TXT;1``), once.
pycdlib is pure Python: the same writer on every platform, in this process
(a progress callback, cancellation), and as fast as xorriso here
(docs/performance/burn.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from app import __version__
from app.errors import Cancelled
from app.jobs import CancelToken, Progress, no_progress
from app.media.names import iso_identifier

FILE_MODE = 0o100444
DIR_MODE = 0o040555


def write_iso(folder: Path, target: Path, volume: str, progress: Progress = no_progress,
              cancel: Optional[CancelToken] = None) -> int:
    """Write the image of *folder* to *target* (complete, or not at all);
    returns its size in bytes."""
    import pycdlib

    cancel = cancel or CancelToken()
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=1, vol_ident=volume, sys_ident="", joliet=3, rock_ridge="1.09",
            app_ident_str=f"STUDYDESK {__version__}")
    for current, dirs, files in os.walk(folder):
        dirs.sort()
        base = Path(current).relative_to(folder).as_posix()
        prefix = "" if base == "." else "/" + base
        for name in dirs:
            path = f"{prefix}/{name}"
            iso.add_directory(iso_path=path, rr_name=name, joliet_path=path, file_mode=DIR_MODE)
        for name in sorted(files):
            iso.add_file(os.path.join(current, name), iso_path=f"{prefix}/{iso_identifier(name, False)}",
                         rr_name=name, joliet_path=f"{prefix}/{name}", file_mode=FILE_MODE)

    def report(done: int, total: int, _opaque) -> None:
        if cancel.cancelled:
            raise Cancelled()
        progress(done / total if total else None,
                 f"Writing the image: {done / 1e6:.0f} of {total / 1e6:.0f} MB")

    partial = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    from app import recovery

    recovery.register_partial(partial)  # a kill leaves no partial for good
    try:
        iso.write(str(partial), progress_cb=report)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        recovery.release_partial(partial)
        iso.close()
    return target.stat().st_size


def listing(image: Path) -> list[dict]:
    """Every entry of *image*: its path in the ISO 9660, Joliet and Rock
    Ridge trees (for tests and for checking a disc by hand)."""
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.open(str(image))
    try:
        out = []
        for current, dirs, files in iso.walk(iso_path="/"):
            for name in dirs + files:
                iso_path = f"{current.rstrip('/')}/{name}"
                record = iso.get_record(iso_path=iso_path)
                out.append({
                    "iso_path": iso_path,
                    "rr_path": iso.full_path_from_dirrecord(record, rockridge=True),
                    "is_dir": record.is_dir(),
                    "size": record.get_data_length(),
                })
        return out
    finally:
        iso.close()


def volume_identifier(image: Path) -> str:
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.open(str(image))
    try:
        return iso.pvd.volume_identifier.decode("ascii").rstrip()
    finally:
        iso.close()
