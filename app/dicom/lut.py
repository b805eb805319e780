"""The greyscale transforms of PS3.3 C.11 on numpy arrays, without Qt: the
Modality LUT (Rescale Slope/Intercept, per frame for enhanced objects), the
VOI window (LINEAR, LINEAR_EXACT, SIGMOID) or VOI LUT table, and a robust
automatic range when the header gives none. Previews use them
(:mod:`app.dicom.render`), and so does the viewer (:mod:`app.viewer.display`)
through the full-size functions at the end: modality_values (rescale or a
Modality LUT Sequence), voi_lut_item / apply_voi_lut, voi_function and
data_range_window.
"""

from __future__ import annotations

import math

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_voi

_RT_DOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"
# Robust range for images without a window in the header.
_AUTO_PERCENTILES = (0.5, 99.5)


def window_from_header(ds: Dataset, frame: int = 0) -> tuple[float, float] | None:
    """The first (centre, width) of the VOI LUT module, or None.

    Looks in the Frame VOI LUT functional group of `frame` (per-frame, then
    shared) for enhanced multi-frame objects, then in the top-level Window
    Center / Window Width. Multi-valued elements give their first value. A
    missing, unreadable or non-positive width gives None.
    """
    source = _voi_source(ds, frame)
    if source is None:
        return None
    center = _first_number(source.get("WindowCenter"))
    width = _first_number(source.get("WindowWidth"))
    if center is None or width is None or width <= 0:
        return None
    return center, width


def apply_window(
    arr: np.ndarray, center: float, width: float, function: str = "LINEAR"
) -> np.ndarray:
    """Map values to uint8 0..255 through a DICOM VOI window.

    `function` is the VOI LUT Function (0028,1056): LINEAR (default, PS3.3
    C.11.2.1.2.1), LINEAR_EXACT (C.11.2.1.3.2) or SIGMOID (C.11.2.1.3.1).
    For LINEAR:
        x <= c - 0.5 - (w-1)/2          -> 0
        x >  c - 0.5 + (w-1)/2          -> 255
        else ((x - (c-0.5)) / (w-1) + 0.5) * 255
    A LINEAR width of 1 or less is a threshold at c - 0.5. Returns a new
    C-contiguous uint8 array of the same shape; computes in float32 (float64
    for float64 input).
    """
    function = (function or "LINEAR").strip().upper()
    center = float(center)
    width = float(width)
    x = np.array(arr, dtype=np.float64 if arr.dtype == np.float64 else np.float32, copy=True,
                 order="C")
    if function == "SIGMOID":
        if width <= 0:
            raise ValueError(f"window width must be > 0 for SIGMOID, got {width}")
        x -= center
        x *= -4.0 / width
        np.exp(x, out=x)
        x += 1.0
        np.divide(255.0, x, out=x)
        x += 0.5
        np.clip(x, 0.0, 255.0, out=x)
        return x.astype(np.uint8)
    if function == "LINEAR_EXACT":
        if width <= 0:
            raise ValueError(f"window width must be > 0 for LINEAR_EXACT, got {width}")
        slope = 255.0 / width
        offset = (0.5 - center / width) * 255.0
    else:  # LINEAR, and any unknown function read as LINEAR
        if width <= 1:
            return np.where(x > center - 0.5, np.uint8(255), np.uint8(0)).astype(
                np.uint8, copy=False
            )
        slope = 255.0 / (width - 1.0)
        offset = (0.5 - (center - 0.5) / (width - 1.0)) * 255.0
    x *= slope
    x += offset + 0.5  # +0.5: truncation in astype then rounds to nearest
    np.clip(x, 0.0, 255.0, out=x)
    return x.astype(np.uint8)

def _first_number(value) -> float | None:
    """The first value of a (possibly multi-valued) numeric element, or None."""
    if value is None or isinstance(value, (str, bytes)) and not value.strip():
        return None
    if isinstance(value, (list, tuple, MultiValue)):
        if len(value) == 0:
            return None
        value = value[0]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _functional_item(ds: Dataset, frame: int, keyword: str) -> Dataset | None:
    """First item of functional group `keyword` for `frame`, per-frame first."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and 0 <= frame < len(per_frame):
        seq = per_frame[frame].get(keyword)
        if seq:
            return seq[0]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        seq = shared[0].get(keyword)
        if seq:
            return seq[0]
    return None


def _voi_source(ds: Dataset, frame: int) -> Dataset | None:
    item = _functional_item(ds, frame, "FrameVOILUTSequence")
    if item is not None and "WindowCenter" in item and "WindowWidth" in item:
        return item
    if "WindowCenter" in ds and "WindowWidth" in ds:
        return ds
    return None


def _rescale(ds: Dataset, frame: int) -> tuple[float, float]:
    item = _functional_item(ds, frame, "PixelValueTransformationSequence")
    source = item if item is not None and "RescaleSlope" in item else ds
    slope = _first_number(source.get("RescaleSlope"))
    intercept = _first_number(source.get("RescaleIntercept"))
    if slope is None or slope == 0:
        slope = 1.0
    return slope, intercept or 0.0


def _is_dose(ds: Dataset) -> bool:
    return ds.get("Modality") == "RTDOSE" or ds.get("SOPClassUID") == _RT_DOSE_STORAGE


def _voi_table(values: np.ndarray, ds: Dataset) -> np.ndarray | None:
    """The first VOI LUT table of the header, scaled to 8 bits; None if unusable."""
    try:
        mapped = apply_voi(np.rint(values).astype(np.int64), ds, index=0)
        depth = int(ds.VOILUTSequence[0].LUTDescriptor[2])
    except Exception:  # noqa: BLE001 - malformed tables fall back to auto range
        return None
    if not 1 <= depth <= 16:
        return None
    scaled = mapped.astype(np.float32) * np.float32(255.0 / ((1 << depth) - 1)) + 0.5
    np.clip(scaled, 0, 255, out=scaled)
    return scaled.astype(np.uint8)


def _auto_window(values: np.ndarray, dose: bool) -> np.ndarray:
    """Map the data range (robust percentiles; min..max for dose) to 0..255."""
    if values.size == 0:
        return np.zeros(values.shape, np.uint8)
    if dose:
        lo, hi = float(values.min()), float(values.max())
    else:
        lo, hi = (float(v) for v in np.percentile(values, _AUTO_PERCENTILES))
        if hi <= lo:
            lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros(values.shape, np.uint8)
    scaled = values - np.float32(lo)
    scaled *= np.float32(255.0 / (hi - lo))
    scaled += np.float32(0.5)
    np.clip(scaled, 0.0, 255.0, out=scaled)
    return scaled.astype(np.uint8)


# --------------------------------------------------------------------------
# full-size display (the viewer and `studydesk render`)


def voi_function(ds: Dataset, frame: int = 0) -> str:
    """The VOI LUT Function (0028,1056) that goes with the frame's window.

    Read from the same place as the window (Frame VOI LUT functional group,
    then the top level); LINEAR when absent or unknown (PS3.3 C.11.2.1.3).
    """
    source = _voi_source(ds, frame)
    if source is None:
        item = _functional_item(ds, frame, "FrameVOILUTSequence")
        source = item if item is not None and "VOILUTFunction" in item else ds
    function = str(source.get("VOILUTFunction", "") or "LINEAR").strip().upper()
    return function if function in ("LINEAR", "LINEAR_EXACT", "SIGMOID") else "LINEAR"


def voi_lut_item(ds: Dataset, frame: int = 0) -> Dataset | None:
    """The first VOI LUT Sequence item for the frame (Frame VOI LUT group
    first, for enhanced objects), or None."""
    item = _functional_item(ds, frame, "FrameVOILUTSequence")
    for source in (item, ds):
        if source is not None and source.get("VOILUTSequence"):
            return source.VOILUTSequence[0]
    return None


def modality_values(arr: np.ndarray, ds: Dataset, frame: int = 0) -> np.ndarray:
    """Stored values -> modality values (float32; float64 for 32-bit data), PS3.3 C.11.1.

    Rescale Slope/Intercept (per frame for enhanced objects, from the Pixel
    Value Transformation group), else the Modality LUT Sequence's table
    (values below its first entry take the first, above its last the last).
    """
    table = ds.get("ModalityLUTSequence")
    has_rescale = "RescaleSlope" in ds or _functional_item(
        ds, frame, "PixelValueTransformationSequence") is not None
    if table and not has_rescale:
        return lookup(table[0], arr, ds).astype(np.float32)
    slope, intercept = _rescale(ds, frame)
    # float32 holds integers up to 2**24 exactly: 32-bit data (dose grids,
    # parametric maps) is computed in float64, or its greys would round
    kind = np.float64 if arr.dtype.itemsize > 2 else np.float32
    values = arr.astype(kind)
    if slope != 1.0:
        values *= kind(slope)
    if intercept != 0.0:
        values += kind(intercept)
    return values


def apply_voi_lut(values: np.ndarray, item: Dataset, ds: Dataset) -> np.ndarray:
    """Modality values -> uint8 through one VOI LUT Sequence item (C.11.2.1.1).

    The table's output, 0 .. 2**bits - 1 (bits: the LUT Descriptor's third
    value), is scaled linearly to 0..255 and rounded.
    """
    depth = int(item.LUTDescriptor[2])
    if not 1 <= depth <= 16:
        raise ValueError(f"VOI LUT of {depth} bits per entry")
    out = lookup(item, values, ds).astype(np.float32)
    out *= np.float32(255.0 / ((1 << depth) - 1))
    out += np.float32(0.5)
    np.clip(out, 0.0, 255.0, out=out)
    return out.astype(np.uint8)


def lookup(item: Dataset, values: np.ndarray, ds: Dataset) -> np.ndarray:
    """The LUT Data of a Modality or VOI LUT item applied to `values`.

    LUT Descriptor: (number of entries, 0 meaning 65536; first input value
    mapped, signed when the pixel data are; bits per entry). Inputs are
    rounded to integers; those outside the table take its first or last entry.
    """
    first, entries = lut_span(item, ds)
    data = item.LUTData
    if isinstance(data, bytes):
        little = ds.original_encoding[1]
        table = np.frombuffer(data, dtype="<u2" if little in (True, None) else ">u2")
    else:
        table = np.asarray(data if isinstance(data, (list, tuple, MultiValue)) else [data],
                           dtype=np.int64)
    table = table[:entries]
    if table.size == 0:
        raise ValueError("empty LUT Data")
    index = np.rint(np.asarray(values, dtype=np.float64)) - first
    np.clip(index, 0, table.size - 1, out=index)
    return table[index.astype(np.intp)]


def lut_span(item: Dataset, ds: Dataset) -> tuple[int, int]:
    """(first input value mapped, number of entries) of a LUT item's descriptor."""
    entries, first = int(item.LUTDescriptor[0]) or 65536, int(item.LUTDescriptor[1])
    if int(ds.get("PixelRepresentation", 0) or 0) == 1 and first >= 32768:
        first -= 65536  # read as US, meant as SS
    return first, entries


def data_range_window(values: np.ndarray) -> tuple[float, float]:
    """The (centre, width) of the LINEAR window that maps the frame's
    smallest value to black and its largest to white (a flat frame: black).
    NaN and infinite values are ignored."""
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    if finite.size == 0:
        return 0.5, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        return lo + 1.0, 1.0  # a threshold above the one value
    return (lo + hi + 1.0) / 2.0, hi - lo + 1.0
