"""Shrinking an image to a preview's size in its true proportions: the pixel
aspect from Pixel Spacing or Pixel Aspect Ratio, the target shape, and area
averaging (float32).
"""

from __future__ import annotations

import math

import numpy as np
from pydicom.dataset import Dataset

from app.dicom.lut import _functional_item


def _pixel_aspect(ds: Dataset, frame: int) -> float:
    """Physical height / width of one pixel (1.0 when unknown)."""
    spacing = None
    item = _functional_item(ds, frame, "PixelMeasuresSequence")
    for source in (item, ds):
        if source is not None and source.get("PixelSpacing"):
            spacing = source.get("PixelSpacing")
            break
    if spacing is None and ds.get("ImagerPixelSpacing"):
        spacing = ds.get("ImagerPixelSpacing")
    ratio = None
    try:
        if spacing is not None and len(spacing) == 2:
            rows, cols = float(spacing[0]), float(spacing[1])
            if rows > 0 and cols > 0:
                ratio = rows / cols
        elif ds.get("PixelAspectRatio") and len(ds.PixelAspectRatio) == 2:
            vertical, horizontal = (float(v) for v in ds.PixelAspectRatio)
            if vertical > 0 and horizontal > 0:
                ratio = vertical / horizontal
    except (TypeError, ValueError):
        ratio = None
    if ratio is None or not math.isfinite(ratio) or abs(ratio - 1.0) < 0.01:
        return 1.0
    return min(max(ratio, 0.125), 8.0)



def _target_shape(h: int, w: int, max_size: int, aspect: float) -> tuple[int, int]:
    """Output (rows, columns): true proportions, at most max_size, never enlarged."""
    phys_h, phys_w = h * aspect, float(w)
    scale = min(max_size / max(phys_h, phys_w), h / phys_h, w / phys_w)
    out_h = min(h, max(1, round(phys_h * scale)))
    out_w = min(w, max(1, round(phys_w * scale)))
    return out_h, out_w


def _shrink(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Resize (H, W[, C]) down to (out_h, out_w) as float32.

    Averages k x k blocks for the largest integer factors that do not go below
    the target, then picks the nearest rows/columns for the remainder.
    """
    h, w = img.shape[:2]
    ky, kx = max(h // out_h, 1), max(w // out_w, 1)
    if ky > 1 or kx > 1:
        hh, ww = h // ky, w // kx
        crop = img[: hh * ky, : ww * kx]
        if ky * kx <= 64:
            # Summing strided views beats a reshape-mean over non-contiguous
            # axes by 3-4x for small factors (512 -> 128: 0.3 ms vs 1.4 ms).
            acc = np.zeros((hh, ww) + img.shape[2:], np.float32)
            for dy in range(ky):
                rows = crop[dy::ky]
                for dx in range(kx):
                    np.add(acc, rows[:, dx::kx], out=acc, casting="unsafe")
            acc *= np.float32(1.0 / (ky * kx))
        else:  # large factors: one vectorised pass is faster than many views
            blocks = crop.reshape((hh, ky, ww, kx) + img.shape[2:])
            acc = blocks.mean(axis=(1, 3), dtype=np.float32)
        img = acc
    else:
        img = img.astype(np.float32)
    h, w = img.shape[:2]
    if (h, w) != (out_h, out_w):
        rows = ((np.arange(out_h) + 0.5) * (h / out_h)).astype(np.intp)
        cols = ((np.arange(out_w) + 0.5) * (w / out_w)).astype(np.intp)
        img = img[rows][:, cols]
    return img
