"""A series' images in display order: what "image N" means for the viewer's
scroll bar and for `studydesk render --image N`.

The order a radiologist expects from other workstations: by Instance Number;
where numbers are missing or repeated, by the position along the slice
normal (Image Position Patient projected on the cross product of Image
Orientation Patient's row and column directions), then by acquisition
(Acquisition Number, date and time, Content Time). The viewer can ask for
the position or the acquisition order instead. The cache already knows the
instance numbers, so the usual series is ordered without opening a file;
headers are read only when the numbers do not decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pydicom

from app import store
from app.errors import NotFound
from app.worklist.query import resolve_series_uid

ORDERS = ("instance", "position", "acquisition")
_HEADER_TAGS = ["InstanceNumber", "ImagePositionPatient", "ImageOrientationPatient",
                "AcquisitionNumber", "AcquisitionDate", "AcquisitionTime", "ContentDate",
                "ContentTime", "SOPInstanceUID"]


@dataclass
class SeriesImage:
    """One image (instance) of a series; a multi-frame one holds `frames` frames."""

    sop_instance_uid: str
    path: Path
    instance_number: int | None
    frames: int
    # read from the header when the order needs it
    along_normal: float | None = None
    acquisition: tuple = ()


def series_images(home, db, series_uid: str, order: str = "instance") -> list[SeriesImage]:
    """The images of the series (UID or unambiguous prefix) in display order.

    Instances without pixel data (the cache has no Rows for them) are left
    out, unless the series holds nothing else: then they are listed, so that
    drawing one says why it cannot be shown.
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    uid = resolve_series_uid(db, series_uid)
    rows = db.execute(
        "SELECT sop_instance_uid, instance_number, path, number_of_frames, rows FROM instances"
        " WHERE series_instance_uid = ?", [uid]).fetchall()
    if not rows:
        raise NotFound(f"series {uid}: no instances in the cache")
    images = [r for r in rows if r[4]] or rows
    found = [SeriesImage(sop, store.absolute(home, path), number, max(int(frames or 1), 1))
             for sop, number, path, frames, _ in images]
    numbers = [i.instance_number for i in found]
    if order == "instance" and None not in numbers and len(set(numbers)) == len(numbers):
        return sorted(found, key=lambda i: i.instance_number)
    for image in found:
        _read_order_keys(image)
    return sort_images(found, order)


def sort_images(images: list[SeriesImage], order: str = "instance") -> list[SeriesImage]:
    """`images` (their order keys read) sorted for display; see the module."""
    def position(i: SeriesImage):
        return (i.along_normal is None, i.along_normal or 0.0)

    def number(i: SeriesImage):
        return (i.instance_number is None, i.instance_number or 0)

    if order == "position":
        key = lambda i: (position(i), number(i), i.acquisition, i.sop_instance_uid)  # noqa: E731
    elif order == "acquisition":
        key = lambda i: (i.acquisition, number(i), position(i), i.sop_instance_uid)  # noqa: E731
    else:
        key = lambda i: (number(i), position(i), i.acquisition, i.sop_instance_uid)  # noqa: E731
    return sorted(images, key=key)


def along_normal(position, orientation) -> float | None:
    """Image Position Patient projected on the slice normal (mm), or None."""
    try:
        x, y, z = (float(v) for v in position)
        rx, ry, rz, cx, cy, cz = (float(v) for v in orientation)
    except (TypeError, ValueError):
        return None
    normal = (ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx)
    value = x * normal[0] + y * normal[1] + z * normal[2]
    return value if math.isfinite(value) and any(normal) else None


def _read_order_keys(image: SeriesImage) -> None:
    try:
        ds = pydicom.dcmread(image.path, stop_before_pixels=True, force=True,
                             specific_tags=_HEADER_TAGS)
    except Exception:  # noqa: BLE001 - an unreadable file sorts last; drawing it says why
        return
    image.along_normal = along_normal(ds.get("ImagePositionPatient"),
                                      ds.get("ImageOrientationPatient"))
    try:
        acquisition_number = int(ds.get("AcquisitionNumber"))
    except (TypeError, ValueError):
        acquisition_number = 0
    image.acquisition = (acquisition_number,
                         str(ds.get("AcquisitionDate", "") or ds.get("ContentDate", "") or ""),
                         str(ds.get("AcquisitionTime", "") or ""),
                         str(ds.get("ContentTime", "") or ""))
