"""Linux: xorriso (libburnia) writes the staged folder as an ISO 9660 session
(level 1, Joliet, Rock Ridge) and closes write-once media.

A device is what xorriso takes after ``-dev``: ``/dev/sr0``, or a
file-backed drive ``stdio:/path/file`` (a disc image written the way a
drive is, used by the tests). After writing, the disc is read back as an
ISO 9660 image straight from the device file.
"""

from __future__ import annotations

import re
from pathlib import Path

from app.jobs import CancelToken, Progress
from app.media.burners import (APPENDABLE, BLANK, CLOSED, NO_MEDIUM, UNKNOWN, Burner, BurnError,
                               Drive, MediaInfo, ReadBack, run_tool)

XORRISO = "xorriso"
_DRIVE = re.compile(r"^\s*\d+\s+-dev\s+'([^']+)'\s+\S+\s*:\s*'([^']*)'\s*'([^']*)'")
_PERCENT = re.compile(r"Writing:\s+\d+s\s+([\d.]+)%")
_SPACE = re.compile(r"^Media space\s*:\s*(\d+)s", re.M)
_KIND = re.compile(r"^Media current:\s*(.+)$", re.M)
_STATUS = re.compile(r"^Media status\s*:\s*(.+)$", re.M)


def drives_command() -> list[str]:
    return [XORRISO, "-devices"]


def media_command(device: str) -> list[str]:
    return [XORRISO, "-outdev", device, "-toc", "-tell_media_space"]


def write_command(folder: Path, device: str, volume: str) -> list[str]:
    return [XORRISO, "-abort_on", "FAILURE", "-report_about", "UPDATE",
            "-dev", device, "-volid", volume,
            "-joliet", "on", "-rockridge", "on", "-compliance", "iso_9660_level=1",
            "-close", "on",                      # write-once media: closed, readable everywhere
            "-map", str(folder), "/", "-commit"]


def eject_command(device: str) -> list[str]:
    return [XORRISO, "-outdev", device, "-eject", "all"]


def parse_drives(output: str) -> list[Drive]:
    drives = []
    for line in output.splitlines():
        match = _DRIVE.match(line)
        if match:
            device, vendor, model = match.groups()
            drives.append(Drive(device, f"{vendor.strip()} {model.strip()}".strip()))
    return drives


def parse_media(output: str) -> MediaInfo:
    status_text = (_STATUS.search(output).group(1) if _STATUS.search(output) else "").lower()
    if "is blank" in status_text:
        status = BLANK
    elif "appendable" in status_text:
        status = APPENDABLE
    elif "closed" in status_text:
        status = CLOSED
    elif "no media" in output.lower() or "not present" in status_text:
        status = NO_MEDIUM
    else:
        status = UNKNOWN
    space = _SPACE.search(output)
    kind = _KIND.search(output)
    return MediaInfo(status, int(space.group(1)) * 2048 if space else None,
                     kind.group(1).strip() if kind else "")


def image_path(device: str) -> Path:
    """The file to read a written disc back from."""
    return Path(device[len("stdio:"):] if device.startswith("stdio:") else device)


class XorrisoBurner(Burner):
    name = "xorriso"

    def drives(self) -> list[Drive]:
        _code, output = run_tool(drives_command(), CancelToken())
        return parse_drives(output)  # "No drives found" ends with code 32 and no list

    def media(self, device: str) -> MediaInfo:
        _code, output = run_tool(media_command(device), CancelToken())
        return parse_media(output)

    def write(self, disc, device: str, progress: Progress, cancel: CancelToken) -> None:
        def on_line(line: str) -> None:
            match = _PERCENT.search(line)
            if match:
                progress(float(match.group(1)) / 100, f"Writing disc {disc.number} to {device}")

        progress(None, f"Writing disc {disc.number} to {device}")
        code, output = run_tool(write_command(disc.folder, device, disc.volume), cancel, on_line)
        if code != 0:
            reason = next((line for line in output.splitlines()
                           if ": FAILURE :" in line or ": FATAL :" in line or ": SORRY :" in line), "")
            raise BurnError(f"device {device}: writing failed (xorriso exit {code})"
                            + (f": {reason.split(':', 2)[-1].strip()}" if reason else ""),
                            detail=output[-4000:])

    def read_back(self, disc, device: str) -> ReadBack:
        return ReadBack(image=image_path(device))

    def eject(self, device: str) -> None:
        if not device.startswith("stdio:"):
            run_tool(eject_command(device), CancelToken())
