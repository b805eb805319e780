"""8-bit preview images of DICOM objects, for thumbnails and disc previews.

Pure Python, numpy and pydicom: no Qt, no Pillow. The window turns the array
into a QImage; the media writer turns it into a JPEG.

The pipeline follows the DICOM greyscale pipeline (PS3.3 C.11) in the order
that keeps it cheap: decode one frame, shrink it (area averaging), then apply
the Modality LUT (Rescale Slope/Intercept), the VOI window and, for
MONOCHROME1, the inversion. Colour images (RGB, YBR_* and palette colour)
come out as RGB. Rescale is linear, so shrinking first gives the same result
as rescaling first, on a sixteenth of the pixels for a 512x512 CT.

The steps live beside this module: :mod:`app.dicom.pixels` reads and decodes
one frame, :mod:`app.dicom.lut` holds the Modality and VOI LUT transforms
(the window, also for the viewer), :mod:`app.dicom.resample` the shrinking.
"""

from __future__ import annotations

import os

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut

from app.dicom.lut import (_auto_window, _is_dose, _rescale, _voi_source, _voi_table, apply_window,
                           window_from_header)
from app.dicom.pixels import _cannot, read_frame
from app.dicom.resample import _pixel_aspect, _shrink, _target_shape
from app.errors import BadInput

__all__ = ["render_preview", "window_from_header", "apply_window"]


def render_preview(
    path: str | os.PathLike, max_size: int = 128, frame: int | None = None
) -> np.ndarray | None:
    """An 8-bit preview of the image in the DICOM file at `path`.

    Returns a C-contiguous uint8 array, (H, W) for greyscale or (H, W, 3) RGB,
    with max(H, W) <= max_size (never enlarged; non-square pixels are
    corrected from Pixel Spacing or Pixel Aspect Ratio), or None when the
    object has no pixel data (RT structure sets and plans, SR, KOS...).
    Multi-frame objects give their middle frame unless `frame` (0-based) is
    given. Raises NotFound for a missing file and BadInput for a file that is
    not DICOM or whose pixel data cannot be decoded.
    """
    if max_size < 1:
        raise ValueError(f"max_size must be >= 1, got {max_size}")
    name = os.fspath(path)
    ds, arr, index = read_frame(name, frame)
    if arr is None:
        return None
    try:
        return _to_preview(arr, ds, index, max_size)
    except BadInput:
        raise
    except Exception as exc:  # noqa: BLE001 - malformed LUTs, odd headers
        raise _cannot(name, exc) from exc


# --------------------------------------------------------------------------
# from the decoded frame to the preview


def _to_preview(arr: np.ndarray, ds: Dataset, frame: int, max_size: int) -> np.ndarray:
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ValueError(f"unexpected pixel array shape {arr.shape}")

    h, w = arr.shape[:2]
    out_h, out_w = _target_shape(h, w, max_size, _pixel_aspect(ds, frame))

    if photometric == "PALETTE COLOR" and arr.ndim == 2:
        rgb = apply_color_lut(arr, ds)
        depth = 16 if rgb.dtype.itemsize > 1 and rgb.max(initial=0) > 255 else 8
        return _colour_to_uint8(_shrink(rgb, out_h, out_w), depth)

    if arr.ndim == 3 or samples > 1:
        if arr.ndim == 2:
            raise ValueError(f"{samples} samples per pixel but a 2-D array")
        bits = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 8)
        return _colour_to_uint8(_shrink(arr[..., :3], out_h, out_w), bits)

    # Greyscale. A Modality LUT table is not linear: apply it before shrinking.
    if "ModalityLUTSequence" in ds and "RescaleSlope" not in ds:
        arr = apply_modality_lut(arr, ds)
        slope, intercept = 1.0, 0.0
    else:
        slope, intercept = _rescale(ds, frame)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)

    values = _shrink(arr, out_h, out_w)
    if slope != 1.0:
        values *= np.float32(slope)
    if intercept != 0.0:
        values += np.float32(intercept)

    out = None
    window = window_from_header(ds, frame)
    if window is not None:
        source = _voi_source(ds, frame)
        function = str(source.get("VOILUTFunction", "LINEAR") or "LINEAR")
        try:
            out = apply_window(values, window[0], window[1], function)
        except ValueError:
            out = None
    elif ds.get("VOILUTSequence"):
        out = _voi_table(values, ds)
    if out is None:
        out = _auto_window(values, dose=_is_dose(ds))
    if photometric == "MONOCHROME1":
        np.subtract(np.uint8(255), out, out=out)
    return np.ascontiguousarray(out)


def _colour_to_uint8(rgb: np.ndarray, bits: int) -> np.ndarray:
    if bits != 8:
        bits = min(max(bits, 1), 32)
        rgb *= np.float32(255.0 / ((1 << bits) - 1))
    rgb += np.float32(0.5)
    np.clip(rgb, 0.0, 255.0, out=rgb)
    return np.ascontiguousarray(rgb.astype(np.uint8))
