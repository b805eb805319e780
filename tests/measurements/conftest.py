"""A home with CT series to measure on: one with a known, non-square Pixel
Spacing, one without any spacing (a secondary capture style image), and a
multi-frame image."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import EnhancedCTImageStorage

from app.cli import main
from tests.factories import ct_dataset, uid, write

ROW_MM, COLUMN_MM = 0.5, 0.75  # Pixel Spacing: between rows, between columns
needs_dciodvfy = pytest.mark.skipif(shutil.which("dciodvfy") is None,
                                    reason="dicom3tools dciodvfy not installed")


def run(home: Path, capsys, *args: str):
    """`studydesk --home HOME --json ARGS`: (exit code, JSON document or None, stderr)."""
    capsys.readouterr()
    code = main(["--home", str(home), "--json", *args])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else None), out.err


def _multiframe(folder: Path) -> Path:
    ds = ct_dataset("P1", study="s1", series="mf", number=1)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = EnhancedCTImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid("P1", "s1", "mf", "enhanced")
    frames = np.stack([np.full((32, 32), 100 * (f + 1), np.int16) for f in range(3)])
    ds.NumberOfFrames = 3
    ds.PixelData = frames.tobytes()
    ds.PixelSpacing = [ROW_MM, COLUMN_MM]
    return write(ds, folder / "mf.dcm")


@pytest.fixture
def ct_home(tmp_path):
    """(home, the spaced series' UID, the unspaced series' UID, the study UID)."""
    src = tmp_path / "src"
    for n in (1, 2, 3):
        ds = ct_dataset("P1", study="s1", series="spaced", number=n)
        ds.PixelSpacing = [ROW_MM, COLUMN_MM]
        write(ds, src / f"spaced{n}.dcm")
        write(ct_dataset("P1", study="s1", series="bare", number=n), src / f"bare{n}.dcm")
    _multiframe(src)
    home = tmp_path / "home"
    assert main(["--home", str(home), "import", str(src)]) == 0
    return home, uid("P1", "s1", "spaced"), uid("P1", "s1", "bare"), uid("P1", "s1")
