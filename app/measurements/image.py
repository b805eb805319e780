"""The image a measurement is made on: image N of a series in the cache, in
the series' display order, the one the viewer's scroll bar and ``render
--image N`` use (app.viewer.series.series_images: by Instance Number, then
the position along the slice normal where numbers are missing or repeated;
instances without pixel data left out). For the usual series that is the
order of app.worklist.query.instances_of.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, pixel_array

from app.dicom.lut import _rescale
from app.errors import BadInput, NotFound
from app.home import Home
from app.viewer.series import series_images
from app.worklist.query import resolve_series_uid

# Unified Code for Units of Measure, as SR NUM items name their units
HOUNSFIELD = "[hnsf'U]"
NO_UNITS = "1"


@dataclass
class Image:
    """One image (and frame) of the cache: where it is, its header, and
    what an SR needs to refer to it."""

    path: Path
    ds: Dataset              # the header, without the pixel data
    series_uid: str
    number: int              # 1-based, in the series' display order
    frame: Optional[int]     # 1-based for multi-frame images, else None

    @property
    def sop_class_uid(self) -> str:
        return str(self.ds.SOPClassUID)

    @property
    def sop_instance_uid(self) -> str:
        return str(self.ds.SOPInstanceUID)

    @property
    def study_uid(self) -> str:
        return str(self.ds.StudyInstanceUID)

    @property
    def frame_index(self) -> int:
        return (self.frame or 1) - 1

    @property
    def rows(self) -> int:
        return int(self.ds.Rows)

    @property
    def columns(self) -> int:
        return int(self.ds.Columns)

    def modality_values(self) -> tuple[np.ndarray, str]:
        """The frame in modality units (the Modality LUT or rescale applied:
        Hounsfield units for CT) and the UCUM code of those units."""
        try:
            raw = pixel_array(str(self.path), index=self.frame_index if self.frame else None)
        except Exception as exc:  # noqa: BLE001 - decoders raise many kinds
            raise BadInput(f"image {self.number} of series {self.series_uid}: cannot decode its "
                           f"pixel data ({type(exc).__name__}: {exc})") from exc
        if raw.ndim != 2:
            raise BadInput(f"image {self.number} of series {self.series_uid}: region statistics "
                           "need a greyscale image (one value a pixel)")
        if "ModalityLUTSequence" in self.ds:
            values = apply_modality_lut(raw, self.ds).astype(np.float64)
        else:
            slope, intercept = _rescale(self.ds, self.frame_index)
            values = raw.astype(np.float64) * slope + intercept
        return values, units_of(self.ds)


def units_of(ds: Dataset) -> str:
    """UCUM units of the modality values: HU for CT (unless the header names
    another rescale type), no units otherwise."""
    kind = str(ds.get("RescaleType", "") or "").strip().upper()
    if ds.get("Modality") == "CT" and kind in ("", "HU"):
        return HOUNSFIELD
    return NO_UNITS


def image_of(db, home: Home, series_uid: str, number: int, frame: Optional[int] = None) -> Image:
    """Image *number* (1-based) of the series, with its header read.
    NotFound for an unknown series; BadInput for a number or frame out of
    range, or an instance without pixel data."""
    uid = resolve_series_uid(db, series_uid)
    images = series_images(home, db, uid)
    if not 1 <= number <= len(images):
        raise BadInput(f"image {number} of series {uid}: out of range, the series has "
                       f"{len(images)} image(s), numbered from 1")
    path = images[number - 1].path
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except FileNotFoundError:
        raise NotFound(f"image {number} of series {uid}: its file is missing ({path})") from None
    except Exception as exc:  # noqa: BLE001
        raise BadInput(f"image {number} of series {uid}: unreadable ({exc})") from exc
    if "Rows" not in ds or "Columns" not in ds:
        raise BadInput(f"image {number} of series {uid}: not an image (no pixel data to measure on)")
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frame is not None and not 1 <= frame <= frames:
        raise BadInput(f"frame {frame} of image {number}: out of range, it has {frames} frame(s)")
    if frames > 1 and frame is None:
        frame = 1
    return Image(path, ds, uid, number, frame if frames > 1 else None)
