"""macOS: ``hdiutil burn`` writes the disc's ISO image (made with the same
writer as ``burn --iso``); ``drutil`` lists drives and tells the medium.

A device is the drive's number in ``drutil list`` (``1``, ``2``...), which
both tools take. After burning, macOS mounts the disc under ``/Volumes``
with the volume name, where it is read back. Not runnable on the build
machines: tests check the commands and the parsing.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from app.jobs import CancelToken, Progress
from app.media.burners import (APPENDABLE, BLANK, NO_MEDIUM, UNKNOWN, Burner, BurnError, Drive,
                               MediaInfo, ReadBack, run_tool)

_PERCENT = re.compile(r"^PERCENT:\s*([\d.]+)")
_FREE = re.compile(r"Space Free:.*?blocks:\s*(\d+)", re.I)
_TYPE = re.compile(r"^\s*Type:\s*(\S+)", re.M)
VOLUMES = Path("/Volumes")


def drives_command() -> list[str]:
    return ["drutil", "list"]


def media_command(device: str) -> list[str]:
    return ["drutil", "-drive", device, "status"]


def burn_command(image: Path, device: str) -> list[str]:
    # -puppetstrings: progress as "PERCENT:n" lines; -noeject: stay mounted
    # for the read-back; our own verification replaces hdiutil's.
    return ["hdiutil", "burn", str(image), "-device", device, "-noeject", "-noverifyburn",
            "-puppetstrings"]


def eject_command(device: str) -> list[str]:
    return ["drutil", "-drive", device, "eject"]


def parse_drives(output: str) -> list[Drive]:
    """Rows ``N  Vendor Product  Rev  Bus  SupportLevel`` of ``drutil list``."""
    drives = []
    for line in output.splitlines():
        tokens = line.split()
        if len(tokens) >= 5 and tokens[0].isdigit():
            drives.append(Drive(tokens[0], " ".join(tokens[1:-3])))
    return drives


def parse_media(output: str) -> MediaInfo:
    text = output.lower()
    if "no media" in text:
        return MediaInfo(NO_MEDIUM)
    kind = _TYPE.search(output)
    free = _FREE.search(output)
    status = BLANK if "blank" in text else (APPENDABLE if "appendable" in text else UNKNOWN)
    return MediaInfo(status, int(free.group(1)) * 2048 if free else None,
                     kind.group(1) if kind else "")


class HdiutilBurner(Burner):
    name = "hdiutil"

    def drives(self) -> list[Drive]:
        return parse_drives(run_tool(drives_command(), CancelToken())[1])

    def media(self, device: str) -> MediaInfo:
        return parse_media(run_tool(media_command(device), CancelToken())[1])

    def write(self, disc, device: str, progress: Progress, cancel: CancelToken) -> None:
        from app.media.iso import write_iso

        with tempfile.TemporaryDirectory(dir=disc.folder.parent) as work:
            image = Path(work) / "DISC.ISO"
            write_iso(disc.folder, image, disc.volume,
                      lambda f, m="": progress(None if f is None else f * 0.3, m), cancel)

            def on_line(line: str) -> None:
                match = _PERCENT.match(line)
                if match:
                    progress(0.3 + 0.7 * float(match.group(1)) / 100, f"Writing disc {disc.number}")

            code, output = run_tool(burn_command(image, device), cancel, on_line)
            if code != 0:
                raise BurnError(f"drive {device}: hdiutil burn failed (exit {code})", detail=output[-4000:])

    def read_back(self, disc, device: str) -> ReadBack:
        return ReadBack(folder=VOLUMES / disc.volume)

    def eject(self, device: str) -> None:
        run_tool(eject_command(device), CancelToken())
