"""Screenshots of the viewer on a demo CT, for the docs.

    xvfb-run -a .venv/bin/python -m tools.screenshots.viewer OUT_DIR

On a temporary demo home: the CT series with the most images, opened at its
middle image (OUT_DIR/viewer_ct.png), then the 1x2 layout with the study's
next series beside it (OUT_DIR/viewer_ct_1x2.png); the planning CT of the RT
case at its isocentre with contours, dose wash and isodose lines
(OUT_DIR/viewer_rt.png); measurements drawn with the mouse on the CT
(OUT_DIR/viewer_measurements.png, tools/screenshots/viewer_measure.py); the current
CT beside an earlier study of the patient (OUT_DIR/viewer_prior.png,
tools/screenshots/viewer_prior.py).
"""

from __future__ import annotations

import argparse
import shutil
from contextlib import closing
from pathlib import Path

from tools.screenshots.screenshot import settle, wait_until
from tools.screenshots.viewer_measure import measure_scene
from tools.screenshots.viewer_prior import prior_scene


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots.viewer")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args(argv)

    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from app.accounts import accounts
    from app.home import os_login
    from app.importing.demo import import_demo
    from app.startup import open_home
    from tools.screenshots.scenes import scratch_root
    from ui.app import application, apply_theme
    from ui.jobs import JobRunner
    from ui.viewer import open_viewer

    qapp = application()
    apply_theme(qapp)
    root = scratch_root("studydesk-viewer-shot-")
    try:
        home = open_home(root / "StudyDesk")
        import_demo(home, os_login(), patients=2)
        with closing(home.connect()) as db:
            user = accounts.get_user(db, os_login())
            uid, count = db.execute(
                "SELECT series_instance_uid, instance_count FROM series WHERE modality = 'CT'"
                " ORDER BY instance_count DESC LIMIT 1").fetchone()
        runner = JobRunner()
        window = open_viewer(None, home, user, runner, uid, image=count // 2 + 1)
        window.resize(args.width, args.height)
        viewport = window.panes[0].viewport
        wait_until(lambda: viewport.current() is not None, 30, "the first image")
        settle()
        args.out_dir.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(args.out_dir / "viewer_ct.png"))
        print(args.out_dir / "viewer_ct.png")
        QTest.keyClick(viewport, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
        wait_until(lambda: len(window.panes) == 2 and window.panes[1].viewport.current()
                   is not None, 30, "the second viewport")
        settle()
        window.grab().save(str(args.out_dir / "viewer_ct_1x2.png"))
        print(args.out_dir / "viewer_ct_1x2.png")
        window.close()
        rt_scene(home, user, runner, args.out_dir / "viewer_rt.png", (args.width, args.height))
        measure_scene(home, user, runner, args.out_dir / "viewer_measurements.png",
                      (args.width, args.height))
        prior_scene(home, user, runner, args.out_dir / "viewer_prior.png",
                    (args.width, args.height))
        runner.shutdown()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


def rt_scene(home, user, runner, out: Path, size: tuple[int, int]) -> None:
    """The demo's planning CT at the slice nearest the isocentre, RT shown."""
    import pydicom

    from app.demo.rt import ISOCENTER
    from app.viewer.series import series_images
    from ui.viewer import open_viewer

    with closing(home.connect()) as db:
        (uid,) = db.execute("SELECT series_instance_uid FROM series WHERE modality = 'CT' AND"
                            " study_instance_uid IN (SELECT study_instance_uid FROM series"
                            " WHERE modality = 'RTSTRUCT')").fetchone()
        images = series_images(home, db, uid)
    z = [float(pydicom.dcmread(i.path, stop_before_pixels=True).ImagePositionPatient[2])
         for i in images]
    image = min(range(len(z)), key=lambda i: abs(z[i] - ISOCENTER[2])) + 1
    window = open_viewer(None, home, user, runner, uid, image=image)
    window.resize(*size)
    wait_until(lambda: window.rt.legend.layer is not None, 30, "the RT overlay")
    window.rt.legend.wash.setChecked(True)
    window.rt.legend.lines.setChecked(True)
    layer, viewport = window.rt.legend.layer, window.panes[0].viewport
    wait_until(lambda: viewport.current() is not None and layer.dose_of(
        viewport, viewport.state.index, viewport.current()) is not None, 30, "the dose")
    settle()
    window.grab().save(str(out))
    print(out)
    window.close()


if __name__ == "__main__":
    raise SystemExit(main())
