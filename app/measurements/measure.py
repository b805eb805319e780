"""The arithmetic of a measurement: lengths and areas in mm from the image's
pixel spacing, angles, and the statistics of a region in modality units.

Points are in the image's pixel coordinates as a DICOM SCOORD holds them
(PS3.3 C.18.6.1.1): (column, row), the top left corner of the top left pixel
at (0, 0) and the bottom right corner of the bottom right pixel at
(Columns, Rows), so the pixel of 0-based index (c, r) spans c..c+1 and its
centre is (c + 0.5, r + 0.5). A pixel belongs to a region when its centre is
inside the shape. Nothing here reads a file: :mod:`app.measurements.image`
gives the header and the values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from pydicom.dataset import Dataset

from app.dicom.lut import _functional_item
from app.errors import BadInput, RuleRefused

Point = tuple[float, float]

PIXEL_SPACING_RULE = ("a measurement in mm needs the image's Pixel Spacing (0028,0030) or "
                      "Imager Pixel Spacing (0018,1164)")


@dataclass(frozen=True)
class Spacing:
    """Physical size of one pixel: *row* is the distance between rows
    (vertical), *column* between columns (horizontal), in mm; *source* the
    attribute it came from."""

    row: float
    column: float
    source: str


def spacing_of(ds: Dataset, frame: int = 0) -> Optional[Spacing]:
    """The pixel spacing of *frame* (0-based): Pixel Spacing of the frame's
    Pixel Measures functional group (enhanced objects) or of the header,
    else Imager Pixel Spacing (projection images: at the detector). None
    when the header gives neither (or nonsense)."""
    item = _functional_item(ds, frame, "PixelMeasuresSequence")
    for source, keyword in ((item, "PixelSpacing"), (ds, "PixelSpacing"), (ds, "ImagerPixelSpacing")):
        value = source.get(keyword) if source is not None else None
        try:
            if value is not None and len(value) == 2:
                row, column = float(value[0]), float(value[1])
                if row > 0 and column > 0 and math.isfinite(row) and math.isfinite(column):
                    return Spacing(row, column, keyword)
        except (TypeError, ValueError):
            continue
    return None


def require_spacing(ds: Dataset, frame: int, what: str) -> Spacing:
    spacing = spacing_of(ds, frame)
    if spacing is None:
        raise RuleRefused(f"{what}: {PIXEL_SPACING_RULE}, and it has neither")
    return spacing


def check_inside(points: Sequence[Point], rows: int, columns: int) -> None:
    """Refuse a point outside the image (0..Columns, 0..Rows)."""
    for x, y in points:
        if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= columns and 0 <= y <= rows):
            raise BadInput(f"point ({x:g}, {y:g}) is outside the image: columns 0..{columns}, "
                           f"rows 0..{rows} (column, row; pixel (0, 0) spans 0..1)")


def length_mm(p1: Point, p2: Point, spacing: Spacing) -> float:
    """The physical distance between two points: columns scale by the column
    spacing, rows by the row spacing (non-square pixels included)."""
    return math.hypot((p2[0] - p1[0]) * spacing.column, (p2[1] - p1[1]) * spacing.row)


def angle_deg(p1: Point, vertex: Point, p2: Point, spacing: Optional[Spacing] = None) -> float:
    """The angle at *vertex* between the rays to *p1* and *p2*, 0..180
    degrees, measured in physical space when the spacing is known (square
    pixels assumed otherwise)."""
    sx, sy = (spacing.column, spacing.row) if spacing else (1.0, 1.0)
    ax, ay = (p1[0] - vertex[0]) * sx, (p1[1] - vertex[1]) * sy
    bx, by = (p2[0] - vertex[0]) * sx, (p2[1] - vertex[1]) * sy
    if (ax == 0 and ay == 0) or (bx == 0 and by == 0):
        raise BadInput("an angle needs its two end points apart from the vertex")
    return math.degrees(math.atan2(abs(ax * by - ay * bx), ax * bx + ay * by))


# -- regions --------------------------------------------------------------------------


def ellipse_axes(p1: Point, p2: Point, p3: Point, p4: Point) -> tuple[Point, Point, float, float]:
    """Centre, unit vectors and half-lengths of an SCOORD ELLIPSE given as its
    major axis end points (p1, p2) and minor axis end points (p3, p4)."""
    cx, cy = (p1[0] + p2[0]) / 2, (p1[1] + p2[1]) / 2
    a = math.dist(p1, p2) / 2
    b = math.dist(p3, p4) / 2
    if a == 0 or b == 0:
        raise BadInput("an ellipse needs two axes of non-zero length")
    u = ((p2[0] - p1[0]) / (2 * a), (p2[1] - p1[1]) / (2 * a))
    return (cx, cy), u, a, b


def check_ellipse(points: Sequence[Point]) -> None:
    """Refuse four points that are not an ellipse's axes as an SCOORD
    ELLIPSE gives them (PS3.3 C.18.6.1.2): the major axis' ends, then the
    minor axis' ends, the two axes crossing at their middles at a right
    angle, the first not shorter than the second."""
    if len(points) != 4:
        raise BadInput(f"an ellipse is four points (its axes' ends), not {len(points)}")
    p1, p2, p3, p4 = points
    (cx, cy), (ux, uy), a, b = ellipse_axes(p1, p2, p3, p4)
    rule = "PS3.3 C.18.6.1.2"
    if math.dist((cx, cy), ((p3[0] + p4[0]) / 2, (p3[1] + p4[1]) / 2)) > 0.01 * a + 1e-6:
        raise BadInput(f"not an ellipse: its axes do not cross at their middles ({rule})")
    vx, vy = (p4[0] - p3[0]) / (2 * b), (p4[1] - p3[1]) / (2 * b)
    if abs(ux * vx + uy * vy) > 0.01:
        raise BadInput(f"not an ellipse: its axes are not at a right angle ({rule})")
    if b > a * 1.0001:
        raise BadInput(f"the ellipse's first axis ({2 * a:g} pixels) is shorter than its "
                       f"second ({2 * b:g}): the major axis comes first ({rule})")


def ellipse_from_box(x1: float, y1: float, x2: float, y2: float) -> list[Point]:
    """The four SCOORD ELLIPSE points of the ellipse inscribed in a box (the
    longer side is the major axis, as the standard wants it first)."""
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    horizontal = [(min(x1, x2), cy), (max(x1, x2), cy)]
    vertical = [(cx, min(y1, y2)), (cx, max(y1, y2))]
    if abs(x2 - x1) >= abs(y2 - y1):
        return horizontal + vertical
    return vertical + horizontal


def region_mask(shape: str, points: Sequence[Point], rows: int, columns: int) -> np.ndarray:
    """Boolean (rows, columns) mask of the pixels whose centres are inside the
    ``ellipse`` (4 points) or ``polygon`` (3 or more vertices; even-odd rule)."""
    y, x = np.mgrid[0:rows, 0:columns].astype(np.float64) + 0.5
    if shape == "ellipse":
        (cx, cy), (ux, uy), a, b = ellipse_axes(*points)
        dx, dy = x - cx, y - cy
        along, across = dx * ux + dy * uy, -dx * uy + dy * ux
        return (along / a) ** 2 + (across / b) ** 2 <= 1.0
    if shape == "polygon":
        vertices = _open(points)
        inside = np.zeros((rows, columns), bool)
        for (x0, y0), (x1, y1) in zip(vertices, vertices[1:] + vertices[:1]):
            if y0 == y1:
                continue
            crosses = (y0 > y) != (y1 > y)
            at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
            inside ^= crosses & (x < at)
        return inside
    raise BadInput(f"region shape {shape!r}: ellipse or polygon")


def region_area_mm2(shape: str, points: Sequence[Point], spacing: Spacing) -> float:
    """The geometric area of the shape (not its pixel count): an affine
    scaling of the pixel plane multiplies areas by row x column spacing."""
    if shape == "ellipse":
        _, _, a, b = ellipse_axes(*points)
        pixels = math.pi * a * b
    else:
        vertices = _open(points)
        pixels = abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1)
                         in zip(vertices, vertices[1:] + vertices[:1]))) / 2
    return pixels * spacing.row * spacing.column


def _open(points: Sequence[Point]) -> list[Point]:
    vertices = [tuple(map(float, p)) for p in points]
    if len(vertices) > 1 and vertices[0] == vertices[-1]:
        vertices = vertices[:-1]
    if len(vertices) < 3:
        raise BadInput("a polygon needs at least three distinct vertices")
    return vertices


@dataclass(frozen=True)
class RegionStats:
    mean: float
    std: float
    min: float
    max: float
    area_mm2: Optional[float]
    pixels: int


def region_stats(values: np.ndarray, shape: str, points: Sequence[Point],
                 spacing: Optional[Spacing]) -> RegionStats:
    """Mean, population standard deviation, min and max of *values* (the
    frame in modality units) inside the shape, and its area in mm2 (None
    without a spacing)."""
    if values.ndim != 2:
        raise BadInput("region statistics need a greyscale image (one value a pixel)")
    rows, columns = values.shape
    check_inside(points, rows, columns)
    inside = values[region_mask(shape, points, rows, columns)]
    if inside.size == 0:
        raise BadInput("the region holds no pixel centre: draw it larger")
    inside = inside.astype(np.float64)
    area = region_area_mm2(shape, points, spacing) if spacing else None
    return RegionStats(float(inside.mean()), float(inside.std()), float(inside.min()),
                       float(inside.max()), area, int(inside.size))
