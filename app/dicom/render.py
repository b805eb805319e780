"""8-bit preview images of DICOM objects, for thumbnails and disc previews.

Pure Python, numpy and pydicom: no Qt, no Pillow. The window turns the array
into a QImage; the media writer turns it into a JPEG.

The pipeline follows the DICOM greyscale pipeline (PS3.3 C.11) in the order
that keeps it cheap: decode one frame, shrink it (area averaging), then apply
the Modality LUT (Rescale Slope/Intercept), the VOI window and, for
MONOCHROME1, the inversion. Colour images (RGB, YBR_* and palette colour)
come out as RGB. Rescale is linear, so shrinking first gives the same result
as rescaling first, on a sixteenth of the pixels for a 512x512 CT.
"""

from __future__ import annotations

import math
import os
import struct

import numpy as np
import pydicom
from pydicom.datadict import dictionary_has_tag
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi, pixel_array
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from app.errors import BadInput, NotFound

__all__ = ["render_preview", "window_from_header", "apply_window"]

_PIXEL_TAGS = {(0x7FE0, 0x0010), (0x7FE0, 0x0008), (0x7FE0, 0x0009)}
_RT_DOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"
# Robust range for images without a window in the header.
_AUTO_PERCENTILES = (0.5, 99.5)


# --------------------------------------------------------------------------
# public helpers


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
    C-contiguous uint8 array of the same shape; computes in float32.
    """
    function = (function or "LINEAR").strip().upper()
    center = float(center)
    width = float(width)
    x = np.array(arr, dtype=np.float32, copy=True, order="C")
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
    try:
        f = open(name, "rb")
    except FileNotFoundError:
        raise NotFound(f"{name}: no such file") from None
    except OSError as exc:
        raise BadInput(f"{name}: cannot read file ({exc.strerror or exc})") from None
    with f:
        ds = _read_header(f, name)
        tsyntax = ds.file_meta.get("TransferSyntaxUID")
        deflated = tsyntax == DeflatedExplicitVRLittleEndian
        full = None
        if not deflated and not _pixel_data_follows(f, ds):
            return None
        if deflated:
            # The header read inflated the stream: decode from a full read.
            f.seek(0)
            try:
                full = pydicom.dcmread(f, force=True)
            except Exception as exc:  # noqa: BLE001 - any parse failure is bad input
                raise _cannot(name, exc) from exc
            if not any(t in full for t in (0x7FE00010, 0x7FE00008, 0x7FE00009)):
                return None
        if "Rows" not in ds or "Columns" not in ds:
            raise BadInput(f"{name}: cannot render pixel data (no Rows/Columns)")

        frames = _number_of_frames(ds)
        if frame is None:
            index = frames // 2
        else:
            index = int(frame)
            if not 0 <= index < frames:
                raise BadInput(
                    f"{name}: cannot render pixel data "
                    f"(frame {frame} out of range, {frames} frame(s))"
                )

        arr = _decode(f, ds, name, index, frames, full)

    try:
        return _to_preview(arr, ds, index, max_size)
    except BadInput:
        raise
    except Exception as exc:  # noqa: BLE001 - malformed LUTs, odd headers
        raise _cannot(name, exc) from exc


# --------------------------------------------------------------------------
# reading


def _cannot(name: str, exc: BaseException) -> BadInput:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    reason = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
    if len(reason) > 200:
        reason = reason[:197] + "..."
    return BadInput(f"{name}: cannot render pixel data ({reason})", detail=str(exc))


def _read_header(f, name: str) -> Dataset:
    """The dataset up to the pixel data, the file left positioned there."""
    try:
        return pydicom.dcmread(f, stop_before_pixels=True)
    except InvalidDicomError:
        pass  # no preamble/DICM: maybe a bare dataset (old files, rtstruct.dcm)
    except Exception as exc:  # noqa: BLE001
        raise BadInput(f"{name}: not a readable DICOM file ({exc})") from exc
    f.seek(0)
    try:
        ds = pydicom.dcmread(f, stop_before_pixels=True, force=True)
    except Exception as exc:  # noqa: BLE001
        raise BadInput(f"{name}: not a DICOM file ({type(exc).__name__})") from exc
    # A forced read of a non-DICOM file yields nonsense tags; a real bare
    # dataset has at least one element from the data dictionary.
    if not any(dictionary_has_tag(tag) for tag in ds.keys() if tag.group > 0x0002):
        raise BadInput(f"{name}: not a DICOM file")
    return ds


def _decode(
    f, ds: Dataset, name: str, index: int, frames: int, full: Dataset | None
) -> np.ndarray:
    """Decode frame `index`, reading only what it needs from the file.

    `f` is positioned at the pixel data element that follows the header `ds`.
    A single frame: read just that element and decode it (no second parse of
    the header). Several frames: pydicom's file-based reader, which reads
    only the wanted frame. If either fails for any reason but a missing
    decoder, the whole dataset is read and decoded, which copes with a few
    more malformed encapsulations.
    """
    if full is None:
        try:
            if frames == 1:
                implicit, little = ds.original_encoding
                rest = read_dataset(
                    f,
                    is_implicit_VR=True if implicit is None else implicit,
                    is_little_endian=True if little is None else little,
                )
                ds.update(rest)
                if not ds.file_meta.get("TransferSyntaxUID"):
                    ds.file_meta.TransferSyntaxUID = _implied_syntax(ds)
                return pixel_array(ds, index=index)
            f.seek(0)
            kwargs = {}
            if not ds.file_meta.get("TransferSyntaxUID"):
                kwargs["transfer_syntax_uid"] = _implied_syntax(ds)
            return pixel_array(f, index=index, **kwargs)
        except NotImplementedError as exc:  # no decoder for this syntax
            raise _cannot(name, exc) from exc
        except Exception:  # noqa: BLE001 - retry below on the whole dataset
            pass
        f.seek(0)
        try:
            full = pydicom.dcmread(f, force=True)
            if not full.file_meta.get("TransferSyntaxUID"):
                full.file_meta.TransferSyntaxUID = _implied_syntax(full)
        except Exception as exc:  # noqa: BLE001
            raise _cannot(name, exc) from exc
    try:
        return pixel_array(full, index=index)
    except Exception as exc:  # noqa: BLE001 - decoders raise many kinds
        raise _cannot(name, exc) from exc


def _pixel_data_follows(f, ds: Dataset) -> bool:
    """Whether the next element (where the header read stopped) is pixel data."""
    head = f.read(4)
    f.seek(-len(head), os.SEEK_CUR)
    if len(head) < 4:
        return False
    little = _is_little_endian(ds)
    group, element = struct.unpack("<HH" if little else ">HH", head)
    return (group, element) in _PIXEL_TAGS


def _is_little_endian(ds: Dataset) -> bool:
    tsyntax = ds.file_meta.get("TransferSyntaxUID")
    if tsyntax:
        try:
            return bool(UID(tsyntax).is_little_endian)
        except ValueError:
            pass  # private or unknown syntax: fall through to what was read
    little = ds.original_encoding[1]
    return True if little is None else bool(little)


def _implied_syntax(ds: Dataset) -> UID:
    implicit, little = ds.original_encoding
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little in (True, None) else ExplicitVRBigEndian


def _number_of_frames(ds: Dataset) -> int:
    try:
        n = int(ds.get("NumberOfFrames") or 1)
    except (TypeError, ValueError):
        n = 1
    return max(n, 1)


# --------------------------------------------------------------------------
# header values


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


# --------------------------------------------------------------------------
# pixels


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


def _colour_to_uint8(rgb: np.ndarray, bits: int) -> np.ndarray:
    if bits != 8:
        bits = min(max(bits, 1), 32)
        rgb *= np.float32(255.0 / ((1 << bits) - 1))
    rgb += np.float32(0.5)
    np.clip(rgb, 0.0, 255.0, out=rgb)
    return np.ascontiguousarray(rgb.astype(np.uint8))


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
