"""Measuring on a viewport with the left mouse button: a length (press, drag,
release; or two clicks), an angle (three clicks: an end, the vertex, the
other end), an ellipse (drag its box) and a polygon (a click a vertex,
double-click to close).

While a shape is drawn its value shows beside it, worked out from the frame
in memory with app.measurements.measure (mm from the pixel spacing, degrees,
and the region's mean, standard deviation, min, max in modality units and
its area): the same arithmetic the saved report holds, which is computed
again from the file by app.measurements.record when the shape is finished
(ui/viewer/measure_tools.py runs that off the GUI thread).

Points are kept in the SCOORD convention (app/measurements/measure.py):
(column, row), the top left corner of the first pixel at (0, 0), which is
also the viewport's image coordinate system, so a point needs no conversion
between the mouse, the painter and the report. Saved measurements of the
study (:class:`Shown`, read back from its reports) are drawn on the image
they refer to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QPolygonF

from app.errors import StudyDeskError
from app.measurements import measure
from ui.viewer.layers import Layer
from ui.viewer.view_state import image_transform

if TYPE_CHECKING:
    from ui.viewer.canvas import Viewport
    from ui.viewer.loader import Loaded

Point = tuple[float, float]
TOOLS = ("length", "angle", "ellipse", "polygon")
DRAWING = QColor("#ffd400")
SAVED = QColor("#4fd1ff")
TEXT_BACK = QColor(0, 0, 0, 170)
UNIT_TEXT = {"mm": "mm", "deg": "°", "mm2": "mm²", "[hnsf'U]": "HU", "1": ""}


@dataclass
class Shown:
    """A saved measurement of the study, as its report holds it."""

    report_uid: str
    tracking_uid: str
    image_uid: str
    frame: Optional[int]  # 1-based frame of a multi-frame image, else None
    graphic_type: str
    points: list[Point]
    label: str
    values: list[tuple[str, float, str]] = field(default_factory=list)  # (kind, value, unit)
    drawn_as: str = ""  # the tool, for a shape still being saved (no values yet)

    @property
    def tool(self) -> str:
        if self.drawn_as:
            return self.drawn_as
        kinds = {kind for kind, _, _ in self.values}
        if self.graphic_type == "ELLIPSE":
            return "ellipse"
        if "angle" in kinds:
            return "angle"
        if "length" in kinds and len(self.points) == 2:
            return "length"
        return "polygon"

    @property
    def user_label(self) -> str:
        """The label the user gave (a report made without one names its
        first value's kind instead: not repeated)."""
        return "" if self.label in {kind for kind, _, _ in self.values} else self.label

    def text(self) -> str:
        return "\n".join(t for t in (self.user_label, value_text(self.values)) if t)


def shown_from(found: list) -> list[Shown]:
    """Group a study's measurement values (app.measurements.sr_read.Found,
    one per value) into the measurements they belong to."""
    out: dict[tuple, Shown] = {}
    for f in found:
        if not f.points or not f.image_uid:
            continue
        key = (f.report_uid, f.tracking_uid or id(f))
        shown = out.get(key)
        if shown is None:
            shown = out[key] = Shown(f.report_uid, f.tracking_uid, f.image_uid, f.frame,
                                     f.graphic_type, list(f.points), f.label)
        shown.values.append((f.kind, f.value, f.unit))
    return list(out.values())


def value_text(values: list[tuple[str, float, str]]) -> str:
    """What a measurement says on screen: '24.30 mm', '35.2°', or a region's
    'mean 40.1 HU  sd 3.2 / min 12 max 80 / area 123.4 mm²'."""
    by_kind = {kind: (value, UNIT_TEXT.get(unit, unit)) for kind, value, unit in values}
    if "length" in by_kind and len(by_kind) == 1:
        return f"{by_kind['length'][0]:.2f} mm"
    if "angle" in by_kind:
        return f"{by_kind['angle'][0]:.1f}°"
    lines = []
    if "mean" in by_kind:
        unit = by_kind["mean"][1]
        unit = f" {unit}" if unit else ""
        lines.append(f"mean {by_kind['mean'][0]:.1f}{unit}  sd {by_kind.get('std', (0,))[0]:.1f}")
        lines.append(f"min {by_kind.get('min', (0,))[0]:.1f}  max {by_kind.get('max', (0,))[0]:.1f}")
    if "area" in by_kind:
        lines.append(f"area {by_kind['area'][0]:.1f} mm²")
    lines.extend(f"{kind} {value:.2f} {unit}".strip() for kind, (value, unit) in by_kind.items()
                 if kind not in ("mean", "std", "min", "max", "area", "length", "angle"))
    return "\n".join(lines)


class MeasureLayer(Layer):
    """One viewport's measurements: the shape being drawn and the saved ones
    of its image. *tools* (ui/viewer/measure_tools.MeasureTools) says which
    tool is on, holds the study's saved measurements and saves a finished
    shape through ``finish(viewport, tool, points)``."""

    name = "measurements"

    def __init__(self, tools):
        self.tools = tools
        self.points: list[Point] = []  # fixed points of the shape being drawn
        self.cursor: Optional[Point] = None  # the point under the pressed mouse
        self.closing = False  # a double-click ended a polygon: its release adds nothing
        self.message = ""  # a refusal, shown over the image until the next shape
        self.loader = None  # the viewport's series and image this layer last saw
        self.index = -1

    # -- drawing state ----------------------------------------------------------------

    def cancel(self) -> None:
        self.points, self.cursor, self.closing = [], None, False

    def drawing(self) -> list[Point]:
        """The shape's points as the user sees them now (cursor included)."""
        points = list(self.points)
        if self.cursor is not None and (not points or points[-1] != self.cursor):
            points.append(self.cursor)
        return points

    def mouse_press(self, viewport: "Viewport", event, image_pos: Optional[QPointF]) -> bool:
        tool = self.tools.tool
        entry = viewport.current()
        if tool is None or image_pos is None or entry is None or entry.display is None:
            return False
        self.message = ""
        point = _inside(image_pos, entry)
        if event.type() == QEvent.Type.MouseButtonDblClick and tool == "polygon":
            points = list(self.points)
            self.cancel()
            self.closing = True  # its release adds no vertex
            if len(points) >= 3:
                self.tools.finish(viewport, tool, points)
            viewport.update()
            return True
        self.closing = False
        if not self.points:
            self.points = [point]
        self.cursor = point
        viewport.update()
        return True

    def mouse_move(self, viewport: "Viewport", event, image_pos: Optional[QPointF]) -> None:
        entry = viewport.current()
        if image_pos is not None and entry is not None and entry.display is not None \
                and not self.closing and self.points:
            self.cursor = _inside(image_pos, entry)
            viewport.update()

    def mouse_release(self, viewport: "Viewport", event, image_pos: Optional[QPointF]) -> None:
        if self.closing:
            self.closing = False
            return
        entry = viewport.current()
        if image_pos is not None and entry is not None and entry.display is not None:
            self.cursor = _inside(image_pos, entry)
        if self.cursor is not None and self.points and _apart(self.points[-1], self.cursor,
                                                              viewport):
            self.points.append(self.cursor)
        self.cursor = None
        tool, needed = self.tools.tool, {"length": 2, "angle": 3, "ellipse": 2}
        if tool in needed and len(self.points) >= needed[tool]:
            points = self.points
            if tool == "ellipse":
                (x1, y1), (x2, y2) = points[0], points[-1]
                points = measure.ellipse_from_box(x1, y1, x2, y2)
            self.cancel()
            self.tools.finish(viewport, tool, points)
        viewport.update()

    # -- values ---------------------------------------------------------------------

    def live_text(self, viewport: "Viewport", entry: "Loaded") -> str:
        """The value of the shape being drawn, from the frame in memory."""
        points, tool = self.drawing(), self.tools.tool
        spacing = _spacing(entry)
        try:
            if tool == "length" and len(points) == 2:
                if spacing is None:
                    return "no pixel spacing: no length in mm"
                return f"{measure.length_mm(points[0], points[1], spacing):.2f} mm"
            if tool == "angle" and len(points) == 3:
                return f"{measure.angle_deg(points[0], points[1], points[2], spacing):.1f}°"
            region = _region(tool, points)
            if region and entry.frame is not None and entry.frame.values is not None:
                stats = measure.region_stats(entry.frame.values, region[0], region[1], spacing)
                unit = self.tools.unit_of(viewport)
                found = [(k, getattr(stats, k), unit) for k in ("mean", "std", "min", "max")]
                if stats.area_mm2 is not None:
                    found.append(("area", stats.area_mm2, "mm2"))
                return value_text(found)
        except StudyDeskError:
            return ""
        return ""

    # -- painting -------------------------------------------------------------------

    def paint_image(self, painter: QPainter, viewport: "Viewport", index: int,
                    entry: "Loaded") -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for shown in self.tools.shown_on(viewport, index):
            _draw_shape(painter, shown.tool, shown.points, SAVED, closed=True)
        if index == viewport.state.index and self.tools.tool:
            points = self.drawing()
            if points:
                tool = self.tools.tool
                if tool == "ellipse" and len(points) >= 2:
                    points = _box_ellipse(points)
                _draw_shape(painter, tool, points, DRAWING, closed=tool == "polygon")

    def paint_widget(self, painter: QPainter, viewport: "Viewport", rect: QRectF,
                     entry: Optional["Loaded"]) -> None:
        if entry is None or entry.display is None:
            return
        to_widget = _transform(viewport, entry)
        for shown in self.tools.shown_on(viewport, viewport.state.index):
            if shown.values:
                _label(painter, rect, to_widget.map(_anchor(shown.points)), shown.text(), SAVED)
        points = self.drawing()
        if self.tools.tool and points:
            text = self.live_text(viewport, entry)
            if text:
                _label(painter, rect, to_widget.map(_anchor(points)), text, DRAWING)
        if self.message:
            _banner(painter, rect, self.message)


# -- helpers ------------------------------------------------------------------------


def _inside(pos: QPointF, entry: "Loaded") -> Point:
    """The point held to the image (a drag past its edge stops at the edge)."""
    h, w = entry.display.pixels.shape[:2]
    return (min(max(pos.x(), 0.0), float(w)), min(max(pos.y(), 0.0), float(h)))


def _apart(a: Point, b: Point, viewport: "Viewport") -> bool:
    """Further apart than three screen pixels (a click is not a segment)."""
    return math.dist(a, b) * max(viewport.zoom(), 1e-6) > 3


def _spacing(entry: "Loaded") -> Optional[measure.Spacing]:
    spacing = entry.info.spacing
    return measure.Spacing(spacing[0], spacing[1], "") if spacing else None


def _region(tool: str, points: list[Point]) -> Optional[tuple[str, list[Point]]]:
    if tool == "ellipse" and len(points) >= 2:
        return "ellipse", _box_ellipse(points)
    if tool == "polygon" and len(points) >= 3:
        return "polygon", points
    return None


def _box_ellipse(points: list[Point]) -> list[Point]:
    (x1, y1), (x2, y2) = points[0], points[-1]
    return measure.ellipse_from_box(x1, y1, x2, y2)


def _transform(viewport: "Viewport", entry: "Loaded"):
    h, w = entry.display.pixels.shape[:2]
    return image_transform(viewport.state, w, h, entry.display.aspect, viewport.width(),
                           viewport.height())[0]


def _anchor(points: list[Point]) -> QPointF:
    """Where a shape's text goes: right of its rightmost point."""
    x, y = max(points, key=lambda p: (p[0], -p[1]))
    return QPointF(x, y)


def _pen(colour: QColor) -> QPen:
    pen = QPen(colour, 1.5)
    pen.setCosmetic(True)  # the same width at every zoom
    return pen


def _draw_shape(painter: QPainter, tool: str, points: list[Point], colour: QColor,
                closed: bool) -> None:
    painter.setPen(_pen(colour))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    if tool == "ellipse" and len(points) == 4:
        (cx, cy), (ux, uy), a, b = _axes(points)
        painter.save()
        painter.translate(cx, cy)
        painter.rotate(math.degrees(math.atan2(uy, ux)))
        painter.drawEllipse(QPointF(0, 0), a, b)
        painter.restore()
        return
    polygon = QPolygonF([QPointF(x, y) for x, y in points])
    if tool == "polygon" and closed:
        painter.drawPolygon(polygon)
    else:
        painter.drawPolyline(polygon)
    if tool in ("length", "angle"):
        for x, y in (points[0], points[-1]):
            painter.drawLine(QPointF(x, y), QPointF(x, y))


def _axes(points: list[Point]):
    try:
        return measure.ellipse_axes(*points)
    except StudyDeskError:
        return points[0], (1.0, 0.0), 0.0, 0.0


def _label(painter: QPainter, rect: QRectF, at: QPointF, text: str, colour: QColor) -> None:
    font = QFont(painter.font())
    font.setPointSize(10)
    painter.setFont(font)
    metrics = QFontMetricsF(font)
    lines = text.split("\n")
    width = max(metrics.horizontalAdvance(line) for line in lines) + 8
    height = metrics.height() * len(lines) + 4
    box = QRectF(at.x() + 8, at.y() - height / 2, width, height)
    box.moveLeft(min(box.left(), rect.right() - width - 2))
    box.moveTop(min(max(box.top(), rect.top() + 2), rect.bottom() - height - 2))
    path = QPainterPath()
    path.addRoundedRect(box, 3, 3)
    painter.fillPath(path, TEXT_BACK)
    painter.setPen(colour)
    painter.drawText(box.adjusted(4, 2, -4, -2), Qt.AlignmentFlag.AlignLeft, text)


def _banner(painter: QPainter, rect: QRectF, text: str) -> None:
    """A refusal, across the bottom of the viewport above the corner text."""
    font = QFont(painter.font())
    font.setPointSize(10)
    painter.setFont(font)
    metrics = QFontMetricsF(font)
    width = min(rect.width() - 20, metrics.horizontalAdvance(text) + 24)
    lines = max(1, math.ceil((metrics.horizontalAdvance(text) + 24) / max(width, 1)))
    height = metrics.height() * lines + 12
    box = QRectF(rect.center().x() - width / 2, rect.bottom() - height - 70, width, height)
    path = QPainterPath()
    path.addRoundedRect(box, 4, 4)
    painter.fillPath(path, QColor(120, 20, 20, 220))
    painter.setPen(QColor("#ffffff"))
    painter.drawText(box.adjusted(12, 6, -12, -6),
                     Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

