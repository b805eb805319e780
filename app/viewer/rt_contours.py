"""An RT Structure Set's contours on one image, in pixel coordinates.

A coordinator scrolls a planning CT and expects each ROI's outline on every
slice it crosses, in its colour. A contour belongs on an image when its
ROI's Frame of Reference is the image's and it lies in the image's slab:
every point within half a slice of the plane, measured along the image's
normal (a half-open slab, so a contour exactly between two slices of a
regular stack is drawn on one of them, not both). A contour whose Contour
Image Sequence names the image's SOP Instance UID is drawn on it too.

Speed: a 200-slice CT with ~20 ROIs holds thousands of contours and
hundreds of thousands of points. :class:`StructureSet` parses Contour Data
once (straight from the element's bytes), keeps every point in one array,
and per image orientation sorts the contours by where they sit along the
normal; :meth:`StructureSet.on_image` is then a binary search and one
projection of the few contours found.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from app.viewer.image_plane import ImagePlane, dataset_of

CONTOUR_DATA = 0x30060050

# Colours for ROIs whose ROIContourSequence item has no ROI Display Color,
# picked by ROI number so an ROI keeps its colour from slice to slice and
# from one opening to the next.
PALETTE = (
    (255, 0, 0), (0, 200, 0), (0, 128, 255), (255, 200, 0), (255, 0, 255),
    (0, 220, 220), (255, 128, 0), (160, 90, 255), (128, 255, 0), (255, 105, 180),
    (0, 160, 128), (200, 200, 255),
)


@dataclass(frozen=True)
class Roi:
    """One region of interest, as a legend lists it."""

    number: int
    name: str
    colour: tuple[int, int, int]
    frame_of_reference: str
    interpreted_type: str = ""  # RT ROI Interpreted Type: EXTERNAL, PTV, ORGAN...


@dataclass(frozen=True, eq=False)
class Contour:
    """One contour placed on an image: points (n, 2) float as (column, row)."""

    roi: Roi
    kind: str  # Contour Geometric Type: CLOSED_PLANAR, OPEN_PLANAR, POINT...
    points: np.ndarray

    @property
    def closed(self) -> bool:
        return self.kind == "CLOSED_PLANAR"


@dataclass(frozen=True)
class RoiSection:
    """The contours of one ROI on one image."""

    roi: Roi
    contours: tuple[Contour, ...]


class StructureSet:
    """An RTSTRUCT indexed once, then asked per image with :meth:`on_image`."""

    def __init__(self, source: Dataset | str | os.PathLike):
        ds = dataset_of(source)
        self.label = str(ds.get("StructureSetLabel", "") or "")
        self.sop_instance_uid = str(ds.get("SOPInstanceUID", "") or "")
        self.rois = _rois(ds)
        self.series_uids = _referenced_series(ds)
        by_number = {roi.number: index for index, roi in enumerate(self.rois)}
        points, counts, roi_index, kinds, image_uids = [], [], [], [], []
        for item in ds.get("ROIContourSequence", []) or []:
            index = by_number.get(_int(item.get("ReferencedROINumber")))
            if index is None:
                continue  # contours of an ROI the set does not declare: no name, no frame
            for contour in item.get("ContourSequence", []) or []:
                xyz = _contour_points(contour)
                if len(xyz) == 0:
                    continue
                points.append(xyz)
                counts.append(len(xyz))
                roi_index.append(index)
                kinds.append(str(contour.get("ContourGeometricType", "") or "").upper())
                image_uids.append(_referenced_images(contour))
        self._points = np.concatenate(points) if points else np.zeros((0, 3))
        self._counts = np.asarray(counts, dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(self._counts)[:-1]]).astype(np.int64)
        self._roi_index = np.asarray(roi_index, dtype=np.int64)
        self._kinds = kinds
        self._by_image: dict[str, list[int]] = {}
        for number, uids in enumerate(image_uids):
            for uid in uids:
                self._by_image.setdefault(uid, []).append(number)
        self._by_normal: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @property
    def frames(self) -> set[str]:
        return {roi.frame_of_reference for roi in self.rois}

    @property
    def what(self) -> str:
        return f"RT Structure Set {self.label or self.sop_instance_uid}"

    def __len__(self) -> int:
        """How many contours the set holds."""
        return len(self._counts)

    def on_image(self, plane: ImagePlane) -> list[RoiSection]:
        """The contours drawn on ``plane``, per ROI in the set's order.

        Refused (RuleRefused, naming the rule) when no ROI shares the image's
        Frame of Reference; ROIs of another frame are left out.
        """
        plane.require_frame(self.what, self.frames)
        wanted = np.flatnonzero(
            [roi.frame_of_reference == plane.frame_of_reference for roi in self.rois])
        chosen = np.union1d(self._in_slab(plane),
                            self._by_image.get(plane.sop_instance_uid, [])).astype(np.int64)
        chosen = chosen[np.isin(self._roi_index[chosen], wanted)]
        chosen = chosen[np.lexsort((chosen, self._roi_index[chosen]))]
        return self._sections(plane, chosen)

    def _in_slab(self, plane: ImagePlane) -> np.ndarray:
        """Indices of the contours whose every point lies in the plane's slab."""
        if not len(self._counts):
            return np.zeros(0, dtype=np.int64)
        normal = plane.normal
        order, lows, highs = self._along(normal)
        centre, half = plane.offset(), plane.half_thickness
        first = np.searchsorted(lows, centre - half, side="left")
        last = np.searchsorted(lows, centre + half, side="left")
        found = order[first:last]
        return found[highs[found] < centre + half]

    def _along(self, normal: np.ndarray):
        """Per orientation (cached): contours sorted by their lowest point
        along ``normal``, the sorted lows, and every contour's highest point."""
        key = tuple(np.round(normal, 4))
        if key not in self._by_normal:
            d = self._points @ normal
            lows = np.minimum.reduceat(d, self._starts)
            highs = np.maximum.reduceat(d, self._starts)
            order = np.argsort(lows, kind="stable")
            self._by_normal[key] = (order, lows[order], highs)
        return self._by_normal[key]

    def _sections(self, plane: ImagePlane, chosen: np.ndarray) -> list[RoiSection]:
        if not len(chosen):
            return []
        starts, counts = self._starts[chosen], self._counts[chosen]
        # One gather and one projection for every point of every chosen contour.
        index = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        pixels = plane.to_pixels(self._points[index])
        pieces = np.split(pixels, np.cumsum(counts)[:-1])
        sections: list[RoiSection] = []
        current: list[Contour] = []
        for number, xy in zip(chosen, pieces):
            roi = self.rois[self._roi_index[number]]
            if current and current[0].roi is not roi:
                sections.append(RoiSection(current[0].roi, tuple(current)))
                current = []
            current.append(Contour(roi, self._kinds[number], xy))
        sections.append(RoiSection(current[0].roi, tuple(current)))
        return sections


def _rois(ds: Dataset) -> tuple[Roi, ...]:
    """The declared ROIs, with colour (ROIContourSequence) and interpreted type
    (RTROIObservationsSequence) joined by ROI number."""
    colours = {_int(item.get("ReferencedROINumber")): _colour(item.get("ROIDisplayColor"))
               for item in ds.get("ROIContourSequence", []) or []}
    kinds = {_int(item.get("ReferencedROINumber")): str(item.get("RTROIInterpretedType", "") or "")
             for item in ds.get("RTROIObservationsSequence", []) or []}
    frames = [str(item.get("FrameOfReferenceUID", "") or "")
              for item in ds.get("ReferencedFrameOfReferenceSequence", []) or []]
    # An ROI without its own frame falls back on the set's single frame.
    default_frame = frames[0] if len(frames) == 1 else str(ds.get("FrameOfReferenceUID", "") or "")
    rois = []
    for item in ds.get("StructureSetROISequence", []) or []:
        number = _int(item.get("ROINumber"))
        if number is None:
            continue
        colour = colours.get(number) or PALETTE[(number - 1) % len(PALETTE)]
        frame = str(item.get("ReferencedFrameOfReferenceUID", "") or "") or default_frame
        rois.append(Roi(number, str(item.get("ROIName", "") or f"ROI {number}"), colour, frame,
                        kinds.get(number, "")))
    return tuple(rois)


def _referenced_series(ds: Dataset) -> tuple[str, ...]:
    """The image series the set was drawn on (RT Referenced Series Sequence):
    where a viewer offers the overlay first."""
    return tuple(str(series.get("SeriesInstanceUID", "") or "")
                 for frame in ds.get("ReferencedFrameOfReferenceSequence", []) or []
                 for study in frame.get("RTReferencedStudySequence", []) or []
                 for series in study.get("RTReferencedSeriesSequence", []) or []
                 if series.get("SeriesInstanceUID"))


def _contour_points(contour: Dataset) -> np.ndarray:
    """Contour Data as (n, 3) floats, parsed from the element's bytes when it
    is still raw (pydicom's DS objects cost ~50x more per number)."""
    element = contour.get_item(CONTOUR_DATA)
    if element is None or element.value is None:
        return np.zeros((0, 3))
    value = element.value
    try:
        if isinstance(value, (bytes, bytearray)):
            text = bytes(value).replace(b"\\", b" ").replace(b"\x00", b" ").decode("ascii")
            numbers = np.fromstring(text, sep=" ")
        else:
            numbers = np.asarray(contour.ContourData, dtype=float).ravel()
    except (ValueError, TypeError, UnicodeDecodeError):
        try:
            numbers = np.asarray(contour.ContourData, dtype=float).ravel()
        except (ValueError, TypeError):
            return np.zeros((0, 3))  # tolerant reading: an unreadable contour is skipped
    numbers = numbers[: len(numbers) // 3 * 3]
    return numbers.reshape(-1, 3)


def _referenced_images(contour: Dataset) -> list[str]:
    return [str(item.get("ReferencedSOPInstanceUID", "") or "")
            for item in contour.get("ContourImageSequence", []) or []
            if item.get("ReferencedSOPInstanceUID")]


def _colour(value) -> tuple[int, int, int] | None:
    try:
        rgb = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        return None
    if len(rgb) != 3:
        return None
    return tuple(min(max(v, 0), 255) for v in rgb)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
