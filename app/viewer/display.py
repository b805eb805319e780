"""One image (or frame) to display pixels at its own size: what the viewer
paints and what `studydesk render` writes.

Two steps, so that a window/level drag redoes only the cheap one:

* :func:`load_frame` reads and decodes a frame (:mod:`app.dicom.pixels`) and
  :func:`prepare` keeps what does not depend on the window: greyscale frames
  as modality values (float32, PS3.3 C.11.1: rescale or the Modality LUT
  Sequence, per frame for enhanced CT/MR), colour frames as 8-bit RGB (RGB,
  YBR_FULL, YBR_FULL_422 and the JPEG/JPEG 2000 colour transforms come out of
  pydicom's decoders as RGB; palette colour goes through its tables).
* :meth:`Frame.draw` applies the VOI stage (a given window, else the
  header's VOI LUT Sequence, else its first window with its VOI LUT
  Function, else the frame's data range) and MONOCHROME1's inversion.

Nothing here raises on a frame that cannot be shown but :class:`Undisplayable`,
a refusal that names the file and the reason, which the window shows as a
placeholder and the command line as one line on stderr.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut

from app.dicom import lut
from app.dicom.native import read_native
from app.dicom.pixels import read_frame_header
from app.dicom.quick_header import QuickHeader, dataset_of
from app.dicom.resample import _pixel_aspect
from app.errors import BadInput, RuleRefused

_VOI_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")


class Undisplayable(RuleRefused):
    """A frame that cannot be shown: no pixel data, no decoder for its
    transfer syntax, a broken encoding. The message names the file."""


@dataclass
class Display:
    """Drawn pixels: uint8, (rows, columns) grey or (rows, columns, 3) RGB."""

    pixels: np.ndarray
    # (centre, width); for a VOI LUT the input range its table spans; None for colour
    window: tuple[float, float] | None
    function: str  # LINEAR, LINEAR_EXACT, SIGMOID, "VOI LUT", or "" for colour
    aspect: float  # physical height / width of a pixel: the viewer stretches rows by it
    inverted: bool

    @property
    def is_colour(self) -> bool:
        return self.pixels.ndim == 3


@dataclass
class Frame:
    """A decoded frame, ready for :meth:`draw`."""

    name: str
    index: int  # 0-based frame
    frames: int
    values: np.ndarray | None  # greyscale: modality values, float32
    rgb: np.ndarray | None  # colour: uint8 (rows, columns, 3)
    monochrome1: bool
    aspect: float
    header_window: tuple[float, float] | None
    function: str
    voi_item: Dataset | None = field(default=None, repr=False)
    # the file's header: a Dataset, or the native reader's quick view of one
    # (app.dicom.quick_header), which makes the Dataset only if `ds` is read
    header: Dataset | QuickHeader | None = field(default=None, repr=False)
    _range: tuple[float, float] | None = field(default=None, repr=False)

    @property
    def ds(self) -> Dataset | None:
        return None if self.header is None else dataset_of(self.header)

    @property
    def rows(self) -> int:
        return (self.values if self.values is not None else self.rgb).shape[0]

    @property
    def columns(self) -> int:
        return (self.values if self.values is not None else self.rgb).shape[1]

    @property
    def is_colour(self) -> bool:
        return self.rgb is not None

    def default_window(self) -> tuple[float, float] | None:
        """The window shown first: the header's (first) one, else the data
        range (the full 8-bit range for plain 8-bit data). None for colour."""
        if self.values is None:
            return None
        if self.header_window is not None:
            return self.header_window
        return self.data_range()

    def data_range(self) -> tuple[float, float]:
        if self._range is None:
            self._range = lut.data_range_window(self.values)
        return self._range

    def draw(self, window: tuple[float, float] | None = None, invert: bool = False) -> Display:
        """The frame's display pixels.

        `window` (centre, width) overrides the header's VOI stage; it keeps
        the header's VOI LUT Function (a sigmoid stays a sigmoid as the user
        moves it). `invert` inverts once more, on top of MONOCHROME1's.
        """
        if self.rgb is not None:
            out = 255 - self.rgb if invert else self.rgb
            return Display(np.ascontiguousarray(out), None, "", self.aspect, invert)
        function = self.function
        if window is None and self.voi_item is not None:
            try:
                out = lut.apply_voi_lut(self.values, self.voi_item, self.ds)
                first, entries = lut.lut_span(self.voi_item, self.ds)
                # the input range the table spans, as a (centre, width)
                window, function = (first + entries / 2.0, float(entries)), "VOI LUT"
            except Exception:  # noqa: BLE001 - a malformed table: fall back to the window
                out = None
        else:
            out = None
        if out is None:
            if window is None:
                window = self.default_window()
                if self.header_window is None:
                    function = "LINEAR"
            centre, width = float(window[0]), float(window[1])
            if width <= 0:
                raise BadInput(f"window width must be positive, got {width:g}")
            out = lut.apply_window(self.values, centre, width, function)
            window = (centre, width)
        flip = self.monochrome1 != bool(invert)
        if flip:
            np.subtract(np.uint8(255), out, out=out)
        return Display(np.ascontiguousarray(out), window, function, self.aspect, flip)


def load_frame(path: str | os.PathLike, frame: int = 0) -> Frame:
    """Read, decode and prepare frame `frame` (0-based) of the file at `path`.

    Raises Undisplayable (naming the file and why) for an object without
    pixel data, a frame out of range or pixel data that cannot be decoded.
    """
    name = os.fspath(path)
    try:
        header, arr, index = read_frame_header(name, frame)
    except BadInput as exc:
        raise _refusal(name, exc) from exc
    return _prepared(name, header, arr, index)


def load_native_frame(path: str | os.PathLike, frame: int = 0) -> Frame | None:
    """:func:`load_frame` for a file :mod:`app.dicom.native` reads (native
    little endian, well formed); None for any other, read nothing further."""
    name = os.fspath(path)
    fast = read_native(name, frame)
    return None if fast is None else _prepared(name, *fast)


def _prepared(name: str, header, arr: np.ndarray | None, index: int) -> Frame:
    if arr is None:
        what = str(header.get("Modality", "") or "this object")
        raise Undisplayable(f"{name}: no pixel data to display ({what} holds no image)")
    try:
        return prepare(header, arr, index, name)
    except Undisplayable:
        raise
    except Exception as exc:  # noqa: BLE001 - malformed LUTs, odd headers
        raise Undisplayable(f"{name}: cannot display pixel data ({type(exc).__name__}: {exc})",
                            str(exc)) from exc


def _refusal(name: str, exc: BadInput) -> Undisplayable:
    """The reader's refusal, with the transfer syntax and each decoder's
    reason (pydicom lists one line per plugin it tried) on the one line."""
    message = str(exc)
    lines = [line.strip() for line in (exc.detail or "").splitlines()[1:] if line.strip()]
    syntax = _syntax_name(name)
    if "cannot render pixel data (" in message and (lines or syntax):
        head = message.split(" (", 1)[0].replace("cannot render", "cannot display")
        reason = "; ".join(lines) or message.split(" (", 1)[1].rstrip(")")
        where = f" in {syntax}" if syntax else ""
        message = f"{head}{where}: {reason}"
    return Undisplayable(message)  # the one line says it all: no second copy on stderr


def _syntax_name(name: str) -> str:
    """'JPEG Extended (Process 2 and 4) 1.2.840.10008.1.2.4.51', or ''."""
    import pydicom

    try:
        uid = pydicom.dcmread(name, stop_before_pixels=True, force=True).file_meta.get(
            "TransferSyntaxUID")
    except Exception:  # noqa: BLE001 - the reader's own refusal says enough
        return ""
    if not uid:
        return ""
    label = getattr(uid, "name", "") or ""
    return f"{label} {uid}" if label and label != str(uid) else str(uid)


def prepare(h: Dataset | QuickHeader, arr: np.ndarray, index: int = 0, name: str = "") -> Frame:
    """A decoded frame (pydicom's array for frame `index`) made ready to
    draw; `h` its header, a Dataset or a quick view of one
    (:mod:`app.dicom.quick_header`)."""
    photometric = str(h.get("PhotometricInterpretation", "")).strip().upper()
    frames = max(int(h.get("NumberOfFrames") or 1), 1)
    aspect = _pixel_aspect(h, index)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise Undisplayable(f"{name}: cannot display pixel data (array of shape {arr.shape})")
    common = dict(name=name, index=index, frames=frames, monochrome1=False, aspect=aspect,
                  header_window=None, function="", header=h)
    if photometric == "PALETTE COLOR" and arr.ndim == 2:
        return Frame(values=None, rgb=_palette_rgb(arr, dataset_of(h)), **common)
    if arr.ndim == 3:
        bits = int(h.get("BitsStored") or h.get("BitsAllocated") or 8)
        return Frame(values=None, rgb=_to_uint8(arr[..., :3], bits), **common)
    values = lut.modality_values(arr, h, index)
    if values.dtype.kind == "f" and not _surely_finite(arr, h, index) \
            and not np.isfinite(values).all():
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    common.update(monochrome1=photometric == "MONOCHROME1",
                  header_window=lut.window_from_header(h, index),
                  function=lut.voi_function(h, index))
    voi_item = lut.voi_lut_item(h, index)
    frame = Frame(values=values, rgb=None, voi_item=voi_item, **common)
    if frame.header_window is None and voi_item is None:
        frame._range = _plain_range(arr, h, values)
    return frame


def _surely_finite(arr: np.ndarray, header, index: int) -> bool:
    """Stored integers of up to 16 bits through a rescale whose numbers are
    finite (what lut._rescale gives) or a Modality LUT table cannot leave
    float32's range: no pass over the frame to check."""
    if arr.dtype.kind not in "iu" or arr.dtype.itemsize > 2:
        return False
    slope, intercept = lut._rescale(header, index)
    return abs(slope) * 65536 + abs(intercept) < 1e38


def _plain_range(arr: np.ndarray, ds, values: np.ndarray) -> tuple[float, float] | None:
    """Unsigned 8-bit data without a rescale or window (US, secondary
    capture) is shown over its whole range, as its bytes say; anything else
    over its data range (computed when first needed)."""
    identity = lut._rescale(ds, 0) == (1.0, 0.0) and not ds.get("ModalityLUTSequence")
    if identity and arr.dtype == np.uint8 and int(ds.get("BitsStored") or 8) == 8:
        return 128.0, 256.0
    return None


def _palette_rgb(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    rgb = apply_color_lut(arr, ds)
    descriptor = ds.get("RedPaletteColorLookupTableDescriptor")
    depth = int(descriptor[2]) if descriptor is not None else 8
    if depth not in (8, 16):
        depth = 16 if rgb.dtype.itemsize > 1 else 8
    return _to_uint8(rgb, depth)


def _to_uint8(rgb: np.ndarray, bits: int) -> np.ndarray:
    """Colour samples of `bits` bits -> 0..255, rounded."""
    if rgb.dtype == np.uint8 and bits == 8:
        return np.ascontiguousarray(rgb)
    bits = min(max(bits, 1), 32)
    out = rgb.astype(np.float32) * np.float32(255.0 / ((1 << bits) - 1)) + np.float32(0.5)
    np.clip(out, 0.0, 255.0, out=out)
    return np.ascontiguousarray(out.astype(np.uint8))
