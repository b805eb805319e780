"""The one door between the viewer window and the Qt-free display core
(app/viewer): a frame of a file decoded and ready to draw
(``load_frame(path, frame) -> Frame``; ``Frame.draw(window, invert) ->
Display``), a series in display order, the window presets, and what the
corner text reads from a frame's header (:func:`image_info`). The window
imports the core only through this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydicom.multival import MultiValue

from app.dicom import lut
from app.viewer.display import Display, Frame, Undisplayable, load_frame
from app.viewer.presets import CT_PRESETS, Preset, presets_for
from app.viewer.series import SeriesImage, series_images

__all__ = ["Display", "Frame", "Undisplayable", "load_frame", "CT_PRESETS", "Preset", "presets_for",
           "SeriesImage", "series_images", "ImageInfo", "image_info"]


# --------------------------------------------------------------------------
# what the corner text reads from a frame's header


@dataclass(frozen=True)
class ImageInfo:
    """Per-image facts for the overlay; None where the header has none."""

    slice_location: float | None = None
    slice_thickness: float | None = None
    spacing: tuple[float, float] | None = None  # (row, column) mm per pixel
    orientation: tuple[float, ...] | None = None  # Image Orientation (Patient), 6 values


def image_info(ds, frame: int = 0) -> ImageInfo:
    """The facts of frame `frame` of a header (a Dataset or the native
    reader's quick view of one, app.dicom.quick_header)."""
    if ds is None:
        return ImageInfo()
    measures = lut._functional_item(ds, frame, "PixelMeasuresSequence")
    plane = lut._functional_item(ds, frame, "PlaneOrientationSequence")
    position = lut._functional_item(ds, frame, "PlanePositionSequence")
    spacing = _numbers(measures.get("PixelSpacing") if measures else None, 2) \
        or _numbers(ds.get("PixelSpacing"), 2) or _numbers(ds.get("ImagerPixelSpacing"), 2)
    orientation = _numbers(plane.get("ImageOrientationPatient") if plane else None, 6) \
        or _numbers(ds.get("ImageOrientationPatient"), 6)
    thickness = _numbers(measures.get("SliceThickness") if measures else None, 1) \
        or _numbers(ds.get("SliceThickness"), 1)
    location = _numbers(ds.get("SliceLocation"), 1)
    if location is None and position is not None and orientation:
        ipp = _numbers(position.get("ImagePositionPatient"), 3)
        location = (_slice_coordinate(ipp, orientation),) if ipp else None
    return ImageInfo(location[0] if location else None, thickness[0] if thickness else None,
                     spacing if spacing and min(spacing) > 0 else None, orientation)


def _slice_coordinate(ipp: tuple, iop: tuple) -> float:
    """The position along the plane's normal (what Slice Location means)."""
    row, col = np.array(iop[:3]), np.array(iop[3:])
    return float(np.dot(np.cross(row, col), ipp))


def _numbers(value, count: int) -> tuple[float, ...] | None:
    """`count` finite numbers of an element's value, or None."""
    if value is None or value == "":
        return None
    items = list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]
    try:
        numbers = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        return None
    if len(numbers) != count or not all(math.isfinite(n) for n in numbers):
        return None
    return numbers
