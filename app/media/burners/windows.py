"""Windows: IMAPI2, the burning service every Windows has, driven through
PowerShell's COM support (no extra software).

A device is a drive letter (``E:``). IMAPI2FS builds the file system image
from the staged folder (ISO 9660 and Joliet, the volume name from the
label) and IMAPI2's data writer burns it and closes the disc. Windows mounts
the written disc at its drive letter, where it is read back.

Parameters go to the scripts through environment variables, never through
the script text, so no path or label needs quoting. Not runnable on the
build machines: tests check the commands and the parsing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from app.jobs import CancelToken, Progress
from app.media.burners import (APPENDABLE, BLANK, NO_MEDIUM, UNKNOWN, Burner, BurnError, Drive,
                               MediaInfo, ReadBack, run_tool)

POWERSHELL = "powershell.exe"

_FIND_RECORDER = r"""
$master = New-Object -ComObject IMAPI2.MsftDiscMaster2
$recorder = $null
foreach ($id in $master) {
  $r = New-Object -ComObject IMAPI2.MsftDiscRecorder2
  $r.InitializeDiscRecorder($id)
  if ($r.VolumePathNames -contains ($env:SD_DEVICE.TrimEnd('\') + '\')) { $recorder = $r }
}
if ($recorder -eq $null) { Write-Error "no recorder at $env:SD_DEVICE"; exit 3 }
"""

DRIVES_SCRIPT = r"""
$master = New-Object -ComObject IMAPI2.MsftDiscMaster2
$out = @()
foreach ($id in $master) {
  $r = New-Object -ComObject IMAPI2.MsftDiscRecorder2
  $r.InitializeDiscRecorder($id)
  $out += @{ device = ($r.VolumePathNames | Select-Object -First 1);
             name = ($r.VendorId.Trim() + ' ' + $r.ProductId.Trim()) }
}
ConvertTo-Json -Compress @($out)
"""

MEDIA_SCRIPT = _FIND_RECORDER + r"""
$format = New-Object -ComObject IMAPI2.MsftDiscFormat2Data
if (-not $format.IsCurrentMediaSupported($recorder)) {
  ConvertTo-Json -Compress @{ status = 'no medium' }; exit 0
}
$format.Recorder = $recorder
ConvertTo-Json -Compress @{ blank = $format.MediaHeuristicallyBlank; free = $format.FreeSectorsOnMedia;
                            kind = [int]$format.CurrentPhysicalMediaType }
"""

WRITE_SCRIPT = _FIND_RECORDER + r"""
$image = New-Object -ComObject IMAPI2FS.MsftFileSystemImage
$image.ChooseImageDefaults($recorder)
$image.FileSystemsToCreate = 3
$image.VolumeName = $env:SD_LABEL
$image.Root.AddTree($env:SD_FOLDER, $false)
$result = $image.CreateResultImage()
$format = New-Object -ComObject IMAPI2.MsftDiscFormat2Data
$format.Recorder = $recorder
$format.ClientName = 'StudyDesk'
$format.ForceMediaToBeClosed = $true
$format.Write($result.ImageStream)
Write-Output 'written'
"""

EJECT_SCRIPT = _FIND_RECORDER + "$recorder.EjectMedia()\n"


def command(script: str) -> list[str]:
    return [POWERSHELL, "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
            "-Command", script]


def environment(device: str = "", folder: Path | None = None, label: str = "") -> dict[str, str]:
    env = dict(os.environ)
    env.update({"SD_DEVICE": device, "SD_FOLDER": str(folder or ""), "SD_LABEL": label})
    return env


def parse_drives(output: str) -> list[Drive]:
    try:
        items = json.loads(output.strip().splitlines()[-1]) if output.strip() else []
    except (json.JSONDecodeError, IndexError):
        return []
    items = items if isinstance(items, list) else [items]
    return [Drive(str(i.get("device") or "").rstrip("\\"), str(i.get("name") or "").strip())
            for i in items if i.get("device")]


def parse_media(output: str) -> MediaInfo:
    try:
        info = json.loads(output.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return MediaInfo(UNKNOWN)
    if info.get("status") == NO_MEDIUM:
        return MediaInfo(NO_MEDIUM)
    free = info.get("free")
    return MediaInfo(BLANK if info.get("blank") else APPENDABLE,
                     int(free) * 2048 if free is not None else None, f"IMAPI type {info.get('kind', '?')}")


class Imapi2Burner(Burner):
    name = "IMAPI2"

    def _run(self, script: str, cancel: CancelToken, **env) -> str:
        code, output = run_tool(command(script), cancel, env=environment(**env))
        if code != 0:
            raise BurnError(f"IMAPI2: failed (exit {code})", detail=output[-4000:])
        return output

    def drives(self) -> list[Drive]:
        return parse_drives(self._run(DRIVES_SCRIPT, CancelToken()))

    def media(self, device: str) -> MediaInfo:
        return parse_media(self._run(MEDIA_SCRIPT, CancelToken(), device=device))

    def write(self, disc, device: str, progress: Progress, cancel: CancelToken) -> None:
        progress(None, f"Writing disc {disc.number} to {device}")
        self._run(WRITE_SCRIPT, cancel, device=device, folder=disc.folder, label=disc.volume)

    def read_back(self, disc, device: str) -> ReadBack:
        return ReadBack(folder=Path(device.rstrip("\\") + "\\"))

    def eject(self, device: str) -> None:
        self._run(EJECT_SCRIPT, CancelToken(), device=device)
