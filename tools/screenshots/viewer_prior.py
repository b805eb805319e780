"""The viewer's prior-study screenshot, for the docs.

    xvfb-run -a .venv/bin/python -m tools.screenshots.viewer_prior OUT_DIR

The demo has no patient with two comparable exams, so the scene gives the
RT patient (PID1001) one: a copy of the planning CT as a study of a year
earlier, every other slice (6 mm) and 4.5 mm along the table, in the same
frame of reference. The viewer opens today's CT at its middle image, the
Prior menu's first entry is chosen and the scene waits until both sides are
in step (OUT_DIR/viewer_prior.png): the corners show the two dates and the
nearest slice locations. :func:`prior_scene` is also run by
tools/screenshots/viewer.py.
"""

from __future__ import annotations

import tempfile
from contextlib import closing
from pathlib import Path

from tools.screenshots.screenshot import settle, wait_until


def add_prior(home) -> str:
    """Import the earlier copy of the planning CT; returns today's series UID."""
    import pydicom
    from pydicom.uid import generate_uid

    from app import store
    from app.home import os_login
    from app.importing.importer import import_paths

    with closing(home.connect()) as db:
        (uid,) = db.execute("SELECT series_instance_uid FROM series WHERE modality = 'CT' AND"
                            " series_description = 'RT Planning CT 3mm'").fetchone()
        paths = [store.absolute(home, p) for (p,) in db.execute(
            "SELECT path FROM instances WHERE series_instance_uid = ? ORDER BY instance_number",
            [uid])]
    study, series = generate_uid(), generate_uid()
    with tempfile.TemporaryDirectory(prefix="studydesk-prior-") as folder:
        for number, path in enumerate(paths[::2], start=1):
            ds = pydicom.dcmread(path)
            ds.StudyInstanceUID, ds.StudyDate, ds.StudyTime = study, "20230412", "101500"
            ds.StudyDescription, ds.AccessionNumber, ds.StudyID = \
                "CT Brain follow-up", "ACC9901", "S9901"
            ds.SeriesInstanceUID, ds.SeriesDescription = series, "Brain 6mm"
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            ds.InstanceNumber = number
            x, y, z = (float(v) for v in ds.ImagePositionPatient)
            ds.ImagePositionPatient, ds.SliceLocation = [x, y, z + 4.5], z + 4.5
            ds.SliceThickness = 6  # every second 3 mm slice: a 6 mm series
            ds.save_as(Path(folder) / f"{number:04d}.dcm", enforce_file_format=True)
        import_paths(home, [Path(folder)], os_login())
    return uid


def prior_scene(home, user, runner, out: Path, size: tuple[int, int]) -> None:
    from ui.viewer import open_viewer

    uid = add_prior(home)
    window = open_viewer(None, home, user, runner, uid, image=16)
    window.resize(*size)
    left = window.panes[0].viewport
    wait_until(lambda: left.current() is not None and window.priors.button.isEnabled(), 30,
               "the current CT and its prior")
    window.priors.menu.actions()[0].trigger()
    wait_until(lambda: window.priors.sync is not None and len(window.panes) == 2
               and window.panes[1].viewport.current() is not None
               and window.panes[1].viewport.state.index == window.priors.sync.target(0, 15),
               30, "the prior in step")
    settle()
    window.grab().save(str(out))
    print(out)
    window.close()


def main(argv: list[str] | None = None) -> int:
    from tools.screenshots.viewer_session import viewer_session

    with viewer_session("viewer_prior", argv, patients=1) as (session, out_dir, size):
        prior_scene(session.home, session.user, session.runner, out_dir / "viewer_prior.png", size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
