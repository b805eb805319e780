"""The viewer's measurements screenshot, for the docs.

    xvfb-run -a .venv/bin/python -m tools.screenshots.viewer_measure OUT_DIR

On a temporary demo home: the CT series with the most images at its middle
image, a length, an angle and an ellipse drawn with the mouse (each kept as
a measurement report) and a polygon being drawn, the measurement list open
(OUT_DIR/viewer_measurements.png). :func:`measure_scene` is also run by
tools/screenshots/viewer.py.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from tools.screenshots.screenshot import settle, wait_until


def measure_scene(home, user, runner, out: Path, size: tuple[int, int]) -> None:
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtTest import QTest

    from ui.viewer import open_viewer
    from ui.viewer.view_state import image_transform

    with closing(home.connect()) as db:
        uid, count = db.execute(
            "SELECT series_instance_uid, instance_count FROM series WHERE modality = 'CT'"
            " ORDER BY instance_count DESC LIMIT 1").fetchone()
    window = open_viewer(None, home, user, runner, uid, image=count // 2 + 1)
    window.resize(*size)
    viewport, tools = window.panes[0].viewport, window.measures
    wait_until(lambda: viewport.current() is not None, 30, "the image")
    settle()
    entry = viewport.current()
    h, w = entry.display.pixels.shape[:2]

    def at(fx: float, fy: float) -> QPoint:  # a fraction of the image's width and height
        t = image_transform(viewport.state, w, h, entry.display.aspect, viewport.width(),
                            viewport.height())[0]
        p = t.map(QPointF(fx * w, fy * h))
        return QPoint(round(p.x()), round(p.y()))

    left = Qt.MouseButton.LeftButton
    saved = []
    tools.read.connect(lambda _study: saved.append(1))
    shapes = [("length", [(0.22, 0.50), (0.78, 0.50)], "transverse"),
              ("angle", [(0.30, 0.25), (0.45, 0.38), (0.62, 0.27)], ""),
              ("ellipse", [(0.55, 0.58), (0.68, 0.70)], "grey matter")]
    for tool, points, label in shapes:
        tools.set_tool(tool)
        tools.panel.label.setText(label)
        before = len(saved)
        if tool == "angle":
            for fx, fy in points:
                QTest.mouseClick(viewport, left, pos=at(fx, fy))
        else:
            QTest.mousePress(viewport, left, pos=at(*points[0]))
            QTest.mouseMove(viewport, at(*points[1]))
            QTest.mouseRelease(viewport, left, pos=at(*points[1]))
        wait_until(lambda b=before: len(saved) > b, 30, f"the {tool} kept")
    tools.set_tool("polygon")  # one being drawn: its live statistics
    for fx, fy in ((0.30, 0.62), (0.42, 0.60), (0.44, 0.72)):
        QTest.mouseClick(viewport, left, pos=at(fx, fy))
    QTest.mousePress(viewport, left, pos=at(0.32, 0.74))
    QTest.mouseMove(viewport, at(0.32, 0.74))
    settle()
    window.grab().save(str(out))
    print(out)
    QTest.mouseRelease(viewport, left, pos=at(0.32, 0.74))
    tools.set_tool(None)
    window.close()


def main(argv: list[str] | None = None) -> int:
    from tools.screenshots.viewer_session import viewer_session

    with viewer_session("viewer_measure", argv, patients=1) as (session, out_dir, size):
        measure_scene(session.home, session.user, session.runner,
                      out_dir / "viewer_measurements.png", size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
