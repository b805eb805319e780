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

from contextlib import closing
from pathlib import Path

from tools.screenshots.screenshot import settle, wait_until
from tools.screenshots.viewer_measure import measure_scene
from tools.screenshots.viewer_prior import prior_scene


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from tools.screenshots.viewer_session import viewer_session
    from ui.viewer import open_viewer

    with viewer_session("viewer", argv, patients=2) as (session, out_dir, size):
        home, user, runner = session.home, session.user, session.runner
        with closing(home.connect()) as db:
            uid, count = db.execute(
                "SELECT series_instance_uid, instance_count FROM series WHERE modality = 'CT'"
                " ORDER BY instance_count DESC LIMIT 1").fetchone()
        window = open_viewer(None, home, user, runner, uid, image=count // 2 + 1)
        window.resize(*size)
        viewport = window.panes[0].viewport
        wait_until(lambda: viewport.current() is not None, 30, "the first image")
        settle()
        window.grab().save(str(out_dir / "viewer_ct.png"))
        print(out_dir / "viewer_ct.png")
        QTest.keyClick(viewport, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
        wait_until(lambda: len(window.panes) == 2 and window.panes[1].viewport.current()
                   is not None, 30, "the second viewport")
        settle()
        window.grab().save(str(out_dir / "viewer_ct_1x2.png"))
        print(out_dir / "viewer_ct_1x2.png")
        window.close()
        rt_scene(home, user, runner, out_dir / "viewer_rt.png", size)
        measure_scene(home, user, runner, out_dir / "viewer_measurements.png", size)
        prior_scene(home, user, runner, out_dir / "viewer_prior.png", size)
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
