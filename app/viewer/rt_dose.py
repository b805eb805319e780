"""An RT Dose grid on one image: the dose at every pixel, a colour wash and
isodose lines.

The dose grid is a stack of planes of its own (Image Position and
Orientation Patient, Pixel Spacing, and Grid Frame Offset Vector for where
each plane sits along the normal, PS3.3 C.8.8.3.2), coarser than the CT and
seldom aligned with it. :meth:`DoseGrid.on_image` resamples it onto the
image's pixel centres: bilinear within a dose plane, linear (or nearest) between
planes, NaN where the image leaves the grid, so a wash never paints dose that
was not computed. Stored values times Dose Grid Scaling are Gy when Dose
Units is GY; with RELATIVE they are fractions of a reference the plan sets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from app.errors import BadInput
from app.viewer.image_plane import ImagePlane, dataset_of
from app.viewer.isolines import isolines

# A point this close (in pixels, or mm between planes) outside the grid's
# outermost centres still belongs to it: positions are written rounded.
_EDGE = 1e-3

# Percentages of a reference dose a planner reads isodose lines at.
STANDARD_PERCENTS = (107, 95, 80, 50, 30)


class DoseGrid:
    """An RTDOSE read once: values in Gy (or relative), and its geometry."""

    def __init__(self, source: Dataset | str | os.PathLike):
        ds = dataset_of(source)
        self.sop_instance_uid = str(ds.get("SOPInstanceUID", "") or "")
        self.frame_of_reference = str(ds.get("FrameOfReferenceUID", "") or "")
        self.units = str(ds.get("DoseUnits", "") or "").upper()
        self.plane = ImagePlane.of(ds)
        scaling = float(ds.get("DoseGridScaling", 1.0) or 1.0)
        try:
            stored = ds.pixel_array
        except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad file here
            raise BadInput(f"RT Dose {self.sop_instance_uid}: cannot read the dose grid "
                           f"({type(exc).__name__}: {exc})") from exc
        values = np.asarray(stored, dtype=np.float32).reshape(
            -1, int(ds.Rows), int(ds.Columns)) * np.float32(scaling)
        offsets = _frame_offsets(ds, len(values))
        order = np.argsort(offsets, kind="stable")  # np.interp wants them rising
        self.values, self.offsets = values[order], offsets[order]

    @property
    def maximum(self) -> float:
        return float(self.values.max()) if self.values.size else 0.0

    @property
    def what(self) -> str:
        return f"RT Dose {self.sop_instance_uid}"

    def on_image(self, plane: ImagePlane, between_planes: str = "linear") -> np.ndarray:
        """The dose at each pixel centre of ``plane``: (rows, columns) float32,
        NaN outside the grid. ``between_planes`` is "linear" or "nearest"."""
        plane.require_frame(self.what, {self.frame_of_reference})
        if plane.rows <= 0 or plane.columns <= 0:
            raise BadInput(f"{self.what}: the image plane has no Rows/Columns to resample onto")
        start, step_col, step_row = self._affine(plane)
        snap = np.rint if between_planes == "nearest" else (lambda k: k)
        if np.allclose([step_col[1], step_col[2], step_row[0], step_row[2]], 0.0, atol=1e-9):
            # The usual case (a CT parallel to the dose planes, same axes):
            # one blend of two planes, then rows and columns one after the other.
            u = start[0] + np.arange(plane.columns) * step_col[0]
            v = start[1] + np.arange(plane.rows) * step_row[1]
            return _separable(self.values, snap(self._plane_index(np.array(start[2]))), v, u)
        c = np.arange(plane.columns, dtype=np.float64)[None, :, None]
        r = np.arange(plane.rows, dtype=np.float64)[:, None, None]
        coords = start + c * step_col + r * step_row
        k = snap(self._plane_index(coords[..., 2]))
        return _trilinear(self.values, k, coords[..., 1], coords[..., 0])

    def _affine(self, plane: ImagePlane):
        """The image's pixel centres in the grid's terms (column index, row
        index within a dose plane, mm along the grid's normal): where pixel
        (0, 0) falls, and the steps for one column and one row."""
        grid = self.plane
        axes = np.stack([np.asarray(grid.row_dir) / grid.spacing[1],
                         np.asarray(grid.col_dir) / grid.spacing[0], grid.normal])
        start = axes @ (np.asarray(plane.origin) - np.asarray(grid.origin))
        step_col = axes @ (np.asarray(plane.row_dir) * plane.spacing[1])
        step_row = axes @ (np.asarray(plane.col_dir) * plane.spacing[0])
        return start, step_col, step_row

    def _plane_index(self, w: np.ndarray) -> np.ndarray:
        """Fractional index of the dose plane at ``w`` mm along the normal."""
        offsets = self.offsets
        if len(offsets) == 1:
            half = max(self.plane.thickness / 2.0, _EDGE)
            return np.where(np.abs(w - offsets[0]) <= half, 0.0, np.nan)
        w = np.where((w >= offsets[0] - _EDGE) & (w < offsets[0]), offsets[0], w)
        w = np.where((w <= offsets[-1] + _EDGE) & (w > offsets[-1]), offsets[-1], w)
        return np.interp(w, offsets, np.arange(len(offsets), dtype=np.float64),
                         left=np.nan, right=np.nan)


def _frame_offsets(ds: Dataset, frames: int) -> np.ndarray:
    """Each plane's distance (mm) from the first along the normal. The vector
    is relative when it starts at 0, else absolute z (PS3.3 C.8.8.3.2): both
    read the same once the first value is taken off."""
    vector = ds.get("GridFrameOffsetVector")
    try:
        offsets = np.asarray([float(v) for v in vector], dtype=np.float64) if vector else None
    except (TypeError, ValueError):
        offsets = None
    if offsets is None or len(offsets) != frames:
        if frames == 1:
            return np.zeros(1)
        raise BadInput(f"RT Dose {ds.get('SOPInstanceUID', '')}: Grid Frame Offset Vector "
                       f"does not give a position for each of its {frames} frames")
    return offsets - offsets[0]


def _axis(index: np.ndarray, size: int):
    """Linear interpolation along one axis of ``size`` samples: the samples
    below and above each fractional index, the weight of the upper one, and
    whether the index falls on the grid at all (NaN never does)."""
    inside = (index >= -_EDGE) & (index <= size - 1 + _EDGE)
    index = np.clip(np.nan_to_num(index), 0, size - 1)
    low = np.minimum(np.floor(index).astype(np.intp), max(size - 2, 0))
    return low, np.minimum(low + 1, size - 1), index - low, inside


def _trilinear(values: np.ndarray, k: np.ndarray, v: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Sample ``values`` (planes, rows, cols) at fractional (k, v, u), any shape."""
    (k0, k1, tk, ik), (v0, v1, tv, iv), (u0, u1, tu, iu) = (
        _axis(index, size) for index, size in zip((k, v, u), values.shape))
    out = np.zeros(np.shape(k), dtype=np.float64)
    for kk, wk in ((k0, 1 - tk), (k1, tk)):
        for vv, wv in ((v0, 1 - tv), (v1, tv)):
            for uu, wu in ((u0, 1 - tu), (u1, tu)):
                out += wk * wv * wu * values[kk, vv, uu]
    return np.where(ik & iv & iu, out, np.nan).astype(np.float32)


def _separable(values: np.ndarray, k: np.ndarray, v: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Sample at one plane index ``k`` (a scalar array), rows ``v`` and
    columns ``u`` (1-D each): the grid aligned with the image, ~10x faster."""
    k0, k1, tk, ik = _axis(k, values.shape[0])
    if not ik:
        return np.full((len(v), len(u)), np.nan, dtype=np.float32)
    plane = values[k0] * (1 - tk) + values[k1] * tk
    v0, v1, tv, iv = _axis(v, values.shape[1])
    u0, u1, tu, iu = _axis(u, values.shape[2])
    rows = plane[v0] * (1 - tv)[:, None] + plane[v1] * tv[:, None]
    out = rows[:, u0] * (1 - tu) + rows[:, u1] * tu
    return np.where(iv[:, None] & iu[None, :], out, np.nan).astype(np.float32)


# --- drawing -----------------------------------------------------------------

_STOPS = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
_RGB = np.array([(0, 0, 255), (0, 255, 255), (0, 255, 0), (255, 255, 0), (255, 0, 0)], float)


def rainbow(fraction: np.ndarray) -> np.ndarray:
    """Blue through cyan, green, yellow to red for 0..1: (..., 3) uint8."""
    t = np.clip(np.nan_to_num(np.asarray(fraction, dtype=np.float64)), 0.0, 1.0)
    return np.stack([np.interp(t, _STOPS, _RGB[:, i]) for i in range(3)],
                    axis=-1).round().astype(np.uint8)


def colour_wash(dose: np.ndarray, reference: float, threshold: float = 0.1,
                opacity: float = 0.4) -> np.ndarray:
    """RGBA (rows, cols, 4) uint8 over the image: the colours span from
    ``threshold`` (a fraction of ``reference``) to the reference, doses above
    it stay red; below the threshold, and outside the grid, alpha is 0."""
    if reference <= 0:
        raise BadInput("a dose wash needs a reference dose above 0")
    fraction = np.asarray(dose, dtype=np.float64) / reference
    shown = np.isfinite(fraction) & (fraction >= threshold)
    rgba = np.zeros(fraction.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = rainbow((fraction - threshold) / max(1.0 - threshold, 1e-6))
    rgba[..., 3] = np.where(shown, round(opacity * 255), 0)
    return rgba


@dataclass(frozen=True, eq=False)
class Isodose:
    """The lines of one dose level: polylines (n, 2) as (column, row)."""

    level: float  # Gy (or relative, as the grid's units)
    percent: float  # of the reference the levels were given against
    colour: tuple[int, int, int]
    lines: tuple[np.ndarray, ...]


def isodose_lines(dose: np.ndarray, reference: float,
                  percents=STANDARD_PERCENTS) -> list[Isodose]:
    """Isodose lines at ``percents`` of ``reference`` (the prescription, or
    the grid's maximum when the plan gives none), highest first; each
    coloured where the wash puts its level."""
    if reference <= 0:
        raise BadInput("isodose lines need a reference dose above 0")
    result = []
    for percent in sorted(percents, reverse=True):
        level = reference * percent / 100.0
        colour = tuple(int(v) for v in rainbow(percent / 100.0))
        result.append(Isodose(level, float(percent), colour, tuple(isolines(dose, level))))
    return result


def prescription_gy(plan: Dataset | str | os.PathLike) -> float | None:
    """The target prescription of an RT Plan (the highest Target Prescription
    Dose of its Dose Reference Sequence), the usual 100 % of isodose lines."""
    ds = dataset_of(plan)
    doses = []
    for item in ds.get("DoseReferenceSequence", []) or []:
        try:
            doses.append(float(item.get("TargetPrescriptionDose")))
        except (TypeError, ValueError):
            continue
    return max(doses) if doses else None
