"""The arithmetic of measurements, against independent computations: lengths
and angles by hand, region statistics against numpy over masks built pixel
by pixel from the SCOORD convention (pixel (c, r) has its centre at
(c + 0.5, r + 0.5))."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydicom.dataset import Dataset

from app.errors import BadInput, RuleRefused
from app.measurements import measure


def _spacing(row: float, column: float) -> measure.Spacing:
    ds = Dataset()
    ds.PixelSpacing = [row, column]
    return measure.spacing_of(ds)


def test_length_uses_the_row_and_column_spacing():
    spacing = _spacing(0.5, 0.75)
    # 8 columns across (6 mm) and 6 rows down (3 mm)
    assert measure.length_mm((2, 3), (10, 9), spacing) == pytest.approx(math.sqrt(6 ** 2 + 3 ** 2))
    assert measure.length_mm((0.25, 0), (0.25, 10), spacing) == pytest.approx(5.0)


def test_spacing_sources_in_order_and_the_rule_when_there_is_none():
    ds = Dataset()
    ds.ImagerPixelSpacing = [0.2, 0.2]
    assert measure.spacing_of(ds).source == "ImagerPixelSpacing"
    ds.PixelSpacing = [0.4, 0.3]
    assert (measure.spacing_of(ds).row, measure.spacing_of(ds).column) == (0.4, 0.3)
    frame = Dataset()
    frame.PixelMeasuresSequence = [Dataset()]
    frame.PixelMeasuresSequence[0].PixelSpacing = [0.9, 0.8]
    ds.PerFrameFunctionalGroupsSequence = [Dataset(), frame]
    assert measure.spacing_of(ds, 1).row == 0.9 and measure.spacing_of(ds, 0).row == 0.4
    with pytest.raises(RuleRefused, match=r"Pixel Spacing \(0028,0030\) or Imager Pixel Spacing"):
        measure.require_spacing(Dataset(), 0, "image 1")


def test_angle_in_physical_space():
    assert measure.angle_deg((10, 0), (0, 0), (0, 10)) == pytest.approx(90)
    assert measure.angle_deg((10, 0), (0, 0), (10, 10)) == pytest.approx(45)
    assert measure.angle_deg((10, 0), (0, 0), (-10, 0)) == pytest.approx(180)
    # a 45-degree diagonal in pixels is steeper when rows are twice as far apart
    spacing = _spacing(1.0, 0.5)
    assert measure.angle_deg((10, 0), (0, 0), (10, 10), spacing) == pytest.approx(
        math.degrees(math.atan2(10 * 1.0, 10 * 0.5)))
    with pytest.raises(BadInput):
        measure.angle_deg((0, 0), (0, 0), (1, 1))


def _by_hand(rows, columns, inside) -> np.ndarray:
    return np.array([[inside(c + 0.5, r + 0.5) for c in range(columns)] for r in range(rows)])


def test_ellipse_statistics_against_numpy():
    rng = np.random.default_rng(7)
    values = rng.normal(40, 15, (40, 50))
    points = measure.ellipse_from_box(10, 8, 34, 26)  # 24 wide, 18 tall
    mask = _by_hand(40, 50, lambda x, y: ((x - 22) / 12) ** 2 + ((y - 17) / 9) ** 2 <= 1)
    stats = measure.region_stats(values, "ellipse", points, _spacing(0.5, 0.75))
    expected = values[mask]
    assert stats.pixels == expected.size
    assert stats.mean == pytest.approx(expected.mean())
    assert stats.std == pytest.approx(expected.std())
    assert (stats.min, stats.max) == (expected.min(), expected.max())
    assert stats.area_mm2 == pytest.approx(math.pi * (12 * 0.75) * (9 * 0.5))


def test_rotated_ellipse_and_polygon_against_numpy():
    values = np.arange(30 * 30, dtype=float).reshape(30, 30)
    # a 45-degree ellipse: major axis (5,5)-(25,25), minor axis across it
    points = [(5, 5), (25, 25), (18, 12), (12, 18)]
    a, b = math.dist((5, 5), (25, 25)) / 2, math.dist((18, 12), (12, 18)) / 2

    def inside(x, y):
        u, v = ((x - 15) + (y - 15)) / math.sqrt(2), (-(x - 15) + (y - 15)) / math.sqrt(2)
        return (u / a) ** 2 + (v / b) ** 2 <= 1

    stats = measure.region_stats(values, "ellipse", points, None)
    assert stats.mean == pytest.approx(values[_by_hand(30, 30, inside)].mean())
    assert stats.area_mm2 is None
    # a rectangle as a polygon: exactly the pixels of rows 4..9, columns 3..11
    rect = [(3, 4), (12, 4), (12, 10), (3, 10)]
    stats = measure.region_stats(values, "polygon", rect, _spacing(2.0, 1.0))
    block = values[4:10, 3:12]
    assert stats.pixels == block.size and stats.mean == pytest.approx(block.mean())
    assert stats.std == pytest.approx(block.std())
    assert stats.area_mm2 == pytest.approx(9 * 6 * 2.0)
    # a triangle: the pixels below the diagonal of a 10 x 10 square
    tri = [(0, 0), (10, 10), (0, 10)]
    mask = _by_hand(30, 30, lambda x, y: x < 10 and y < 10 and x < y)
    assert measure.region_stats(values, "polygon", tri, None).mean == pytest.approx(values[mask].mean())


@pytest.mark.parametrize("points, words", [
    ([(2, 5), (8, 5), (5, 1), (5, 9)], "shorter than its second"),      # minor axis first
    ([(0, 5), (10, 5), (8, 3), (8, 7)], "do not cross at their middles"),
    ([(0, 5), (10, 5), (3, 2), (7, 8)], "not at a right angle"),
    ([(0, 5), (10, 5), (5, 3)], "four points"),
])
def test_four_points_that_are_no_ellipse_are_refused(points, words):
    with pytest.raises(BadInput, match=words):
        measure.check_ellipse(points)


def test_ellipses_the_viewer_draws_are_ellipses():
    for box in [(0, 0, 10, 4), (0, 0, 4, 10), (3, 3, 9, 9), (7.5, 2.25, 1.5, 9.75)]:
        measure.check_ellipse(measure.ellipse_from_box(*box))


def test_points_outside_the_image_are_refused():
    with pytest.raises(BadInput, match="outside the image"):
        measure.region_stats(np.zeros((10, 10)), "polygon", [(0, 0), (11, 0), (5, 5)], None)
    measure.check_inside([(0, 0), (10, 10)], 10, 10)  # corners of the last pixel are inside
