"""Where an image lies in the patient: the plane the radiotherapy overlays
(rt_contours, rt_dose) are drawn on, and the one rule they share.

An RT object is placed on an image by the patient coordinates both carry,
never by slice number: Image Position Patient is the centre of the first
pixel, the two direction cosines of Image Orientation Patient say which way a
row and a column run, and Pixel Spacing is (between rows, between columns)
(PS3.3 C.7.6.2.1.1). Those coordinates mean something only inside one Frame
of Reference, so an overlay from another frame is refused, not guessed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue

from app.errors import BadInput, RuleRefused

# When neither the caller nor the header says how thick a slice is, a
# contour must lie within half a millimetre of the plane to be drawn on it.
DEFAULT_THICKNESS = 1.0

SAME_FRAME_RULE = ("an overlay is drawn only on images of its own Frame of Reference "
                   "(PS3.3 C.7.4.1: coordinates mean nothing across frames)")


@dataclass(frozen=True)
class ImagePlane:
    """One image's place in the patient, in millimetres."""

    origin: tuple[float, float, float]  # Image Position Patient
    row_dir: tuple[float, float, float]  # along a row: the column index grows
    col_dir: tuple[float, float, float]  # down a column: the row index grows
    spacing: tuple[float, float]  # Pixel Spacing: (between rows, between columns)
    frame_of_reference: str = ""
    sop_instance_uid: str = ""
    thickness: float = 0.0  # the slab along the normal this image stands for
    rows: int = 0
    columns: int = 0

    @classmethod
    def of(cls, ds: Dataset, frame: int = 0, thickness: float | None = None) -> "ImagePlane":
        """The plane of an image header (or of one frame of an enhanced one).

        ``thickness`` is best given by the caller that knows the series (the
        distance to the neighbouring slice); otherwise Spacing Between Slices,
        then Slice Thickness.
        """
        position = _functional(ds, frame, "PlanePositionSequence")
        orientation = _functional(ds, frame, "PlaneOrientationSequence")
        measures = _functional(ds, frame, "PixelMeasuresSequence")
        ipp = _numbers(position, ds, "ImagePositionPatient", 3)
        iop = _numbers(orientation, ds, "ImageOrientationPatient", 6)
        spacing = _numbers(measures, ds, "PixelSpacing", 2)
        name = str(ds.get("SOPInstanceUID", "") or "the image")
        if ipp is None or iop is None or spacing is None:
            raise BadInput(f"{name}: no Image Position/Orientation Patient or Pixel Spacing: "
                           "the image cannot be placed in the patient")
        if thickness is None:
            for source, keyword in ((measures, "SpacingBetweenSlices"), (ds, "SpacingBetweenSlices"),
                                    (measures, "SliceThickness"), (ds, "SliceThickness")):
                value = _numbers(source, None, keyword, 1)
                if value is not None and value[0] > 0:
                    thickness = value[0]
                    break
        return cls(tuple(ipp), tuple(iop[:3]), tuple(iop[3:]), (spacing[0], spacing[1]),
                   str(ds.get("FrameOfReferenceUID", "") or ""),
                   str(ds.get("SOPInstanceUID", "") or ""), float(thickness or 0.0),
                   int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0))

    @property
    def normal(self) -> np.ndarray:
        n = np.cross(self.row_dir, self.col_dir)
        return n / np.linalg.norm(n)

    @property
    def half_thickness(self) -> float:
        return (self.thickness if self.thickness > 0 else DEFAULT_THICKNESS) / 2.0

    def offset(self) -> float:
        """Where the plane sits along its normal (mm from the origin of the patient)."""
        return float(np.dot(self.origin, self.normal))

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        """Patient points (n, 3) projected on the plane: (n, 2) float (column, row)."""
        d = np.asarray(points, dtype=float) - np.asarray(self.origin)
        columns = d @ np.asarray(self.row_dir) / self.spacing[1]
        rows = d @ np.asarray(self.col_dir) / self.spacing[0]
        return np.stack([columns, rows], axis=-1)

    def require_frame(self, what: str, frames: set[str]) -> None:
        """Refuse an overlay whose Frame of Reference is not the image's."""
        if not self.frame_of_reference:
            raise RuleRefused(f"{what}: the image names no Frame of Reference; {SAME_FRAME_RULE}")
        if self.frame_of_reference not in frames:
            theirs = ", ".join(sorted(f or "(none)" for f in frames)) or "(none)"
            raise RuleRefused(f"{what} is in Frame of Reference {theirs}, the image in "
                              f"{self.frame_of_reference}: {SAME_FRAME_RULE}")


def dataset_of(source: Dataset | str | os.PathLike) -> Dataset:
    """An RT object given as a data set or a file (a bare data set without
    File Meta Information too, as old planning systems wrote them)."""
    if isinstance(source, Dataset):
        return source
    try:
        return pydicom.dcmread(source)
    except InvalidDicomError:
        pass
    except OSError as exc:
        raise BadInput(f"{source}: cannot read ({exc})") from exc
    try:
        ds = pydicom.dcmread(source, force=True)
    except Exception as exc:  # noqa: BLE001 - any parse failure means "not DICOM"
        raise BadInput(f"{source}: not a DICOM file ({type(exc).__name__})") from exc
    if "SOPClassUID" not in ds and "Modality" not in ds:
        raise BadInput(f"{source}: not a DICOM file")
    return ds


def _functional(ds: Dataset, frame: int, keyword: str) -> Dataset | None:
    """The item of functional group ``keyword`` for ``frame``: per-frame, else shared."""
    for groups, index in (("PerFrameFunctionalGroupsSequence", frame),
                          ("SharedFunctionalGroupsSequence", 0)):
        seq = ds.get(groups)
        if seq is not None and 0 <= index < len(seq) and seq[index].get(keyword):
            return seq[index].get(keyword)[0]
    return None


def _numbers(first: Dataset | None, second: Dataset | None, keyword: str,
             count: int) -> list[float] | None:
    """``count`` numbers of ``keyword`` from the first source holding them."""
    for source in (first, second):
        if source is None or keyword not in source:
            continue
        value = source.get(keyword)
        values = list(value) if isinstance(value, (list, tuple, MultiValue)) \
            else [value]
        try:
            numbers = [float(v) for v in values]
        except (TypeError, ValueError):
            continue
        if len(numbers) == count and all(np.isfinite(numbers)):
            return numbers
    return None
