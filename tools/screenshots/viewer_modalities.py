"""The viewer on an MR and on a multi-frame ultrasound cine, for the docs.

    xvfb-run -a .venv/bin/python -m tools.screenshots.viewer_modalities OUT_DIR

On a scratch home: pydicom's 1024 x 1024 JPEG 2000 MR (MR2_J2KR.dcm) shown
as the header's window says (OUT_DIR/viewer_mr.png), and a 24-frame RGB
ultrasound cine made from pydicom's US1_UNCR.dcm (the probe's picture drifting
a few pixels a frame), opened at its first frame (OUT_DIR/viewer_us.png).
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import closing
from pathlib import Path

from tools.screenshots.screenshot import settle, wait_until


def write_cine(folder: Path, frames: int = 24) -> Path:
    """A multi-frame RGB ultrasound from the single US1_UNCR frame."""
    import numpy as np
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    ds = pydicom.dcmread(get_testdata_file("US1_UNCR.dcm"))
    still = ds.pixel_array
    cine = np.stack([np.roll(still, 3 * n, axis=1) for n in range(frames)])
    ds.NumberOfFrames, ds.FrameTime, ds.CineRate = frames, 40.0, 25
    ds.FrameIncrementPointer = (0x0018, 0x1063)
    ds.PixelData = cine.tobytes()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SeriesDescription = "Cine loop"
    path = folder / "us_cine.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def scene(home, user, runner, series_uid: str, image: int, out: Path, size: tuple[int, int]) -> None:
    from ui.viewer import open_viewer

    window = open_viewer(None, home, user, runner, series_uid, image=image)
    window.resize(*size)
    viewport = window.panes[0].viewport
    wait_until(lambda: viewport.current() is not None and viewport.current().display is not None,
               30, "the image")
    settle()
    window.grab().save(str(out))
    print(out)
    window.close()


def main(argv: list[str] | None = None) -> int:
    from pydicom.data import get_testdata_file

    from app.home import os_login
    from app.importing.importer import import_paths
    from tools.screenshots.viewer_session import viewer_session

    with viewer_session("viewer_modalities", argv) as (session, out_dir, size):
        home = session.home
        with tempfile.TemporaryDirectory(prefix="studydesk-us-") as folder:
            mr = Path(folder) / "mr"
            mr.mkdir()
            shutil.copy(get_testdata_file("MR2_J2KR.dcm"), mr / "mr.dcm")
            write_cine(Path(folder))
            import_paths(home, [mr, Path(folder) / "us_cine.dcm"], os_login())
        with closing(home.connect()) as db:
            uids = dict(db.execute("SELECT modality, series_instance_uid FROM series").fetchall())
        scene(home, session.user, session.runner, uids["MR"], 1, out_dir / "viewer_mr.png", size)
        scene(home, session.user, session.runner, uids["US"], 1, out_dir / "viewer_us.png", size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
