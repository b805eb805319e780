"""Disc burners: one interface, a backend per operating system.

- Linux: xorriso (libburn), drives from ``xorriso -devices``; also writes to
  a file-backed drive (``stdio:/path/file``), which the tests use.
- Windows: IMAPI2 through PowerShell (the COM objects every Windows has).
- macOS: ``hdiutil burn`` of the ISO image, drives from ``drutil``.

A backend lists drives, tells what medium a drive holds, writes a staged
disc and says where to read it back from: a device holding an ISO 9660
image, or a mounted folder. The burn job (app/media/burn.py) does the rest:
capacity check, asking for the next blank disc, verification, audit.
"""

from __future__ import annotations

import platform
import subprocess
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, TYPE_CHECKING

from app.errors import BadInput, Cancelled, StudyDeskError
from app.jobs import CancelToken, Progress

if TYPE_CHECKING:
    from app.media.stage import StagedDisc


@dataclass(frozen=True)
class Drive:
    device: str   # what --device takes: /dev/sr0, E:, an IOService path
    name: str     # vendor and model, for people

    def to_json(self) -> dict:
        return {"device": self.device, "name": self.name}


BLANK, APPENDABLE, CLOSED, NO_MEDIUM, UNKNOWN = "blank", "appendable", "closed", "no medium", "unknown"


@dataclass(frozen=True)
class MediaInfo:
    status: str                  # one of the constants above
    free: Optional[int] = None   # bytes that can still be written (None: the drive did not say)
    kind: str = ""               # CD-R, DVD+R, BD-R..., as the drive names it


@dataclass(frozen=True)
class ReadBack:
    """Where a written disc is read back from: an ISO 9660 image (a device
    or a file) or a folder where the system mounted the disc."""

    image: Optional[Path] = None
    folder: Optional[Path] = None


class BurnError(StudyDeskError):
    """The drive or the burning tool failed."""


class Burner(ABC):
    name = ""

    @abstractmethod
    def drives(self) -> list[Drive]: ...

    @abstractmethod
    def media(self, device: str) -> MediaInfo: ...

    @abstractmethod
    def write(self, disc: "StagedDisc", device: str, progress: Progress, cancel: CancelToken) -> None: ...

    @abstractmethod
    def read_back(self, disc: "StagedDisc", device: str) -> ReadBack: ...

    def eject(self, device: str) -> None:
        """Open the tray (after a verified disc, so the next can go in)."""


def run_tool(argv: list[str], cancel: CancelToken, on_line: Optional[Callable[[str], None]] = None,
             env: Optional[dict] = None, timeout: Optional[float] = None) -> tuple[int, str]:
    """Run a tool, feeding each output line (stdout and stderr) to
    *on_line*; a cancel stops it. Returns the exit code and the output."""
    try:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, text=True, errors="replace",
                                   env=env, bufsize=1)
    except FileNotFoundError:
        raise BurnError(f"{argv[0]}: not installed (needed to burn discs on {platform.system()})") from None
    stopped = threading.Event()

    def watch() -> None:
        while not stopped.wait(0.2):
            if cancel.cancelled:
                process.terminate()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if on_line is not None:
                on_line(line.rstrip("\n"))
        code = process.wait(timeout=timeout)
    finally:
        stopped.set()
        if process.poll() is None:
            process.kill()
            process.wait()
    if cancel.cancelled:
        raise Cancelled()
    return code, "".join(lines)


def for_system(system: Optional[str] = None) -> Burner:
    """The backend of this (or the named) operating system."""
    system = system or platform.system()
    if system == "Linux":
        from app.media.burners.linux import XorrisoBurner
        return XorrisoBurner()
    if system == "Windows":
        from app.media.burners.windows import Imapi2Burner
        return Imapi2Burner()
    if system == "Darwin":
        from app.media.burners.macos import HdiutilBurner
        return HdiutilBurner()
    raise BadInput(f"burning discs: not supported on {system}")
