"""A frame of native (uncompressed) pixel data read without pydicom's parser:
the viewer's fast path, taken for the common file and left for anything odd.

Scrolling a series decodes a file per image, and pydicom's header parse and
pixel options (Python work under the interpreter lock, shared with the
window's GUI thread) cost more than the pixels. Here the project's strict
reader (:mod:`app.dicom.files`, about a tenth of pydicom's time) walks the
file mapped in memory, its top-level elements become pydicom's raw elements
(converted only when read, as pydicom's own reader leaves them), and the
frame is one read at the offset the walk found (a multi-frame's header is
walked once and kept, a few files at a time, for the frames that follow).

Taken only where the result is what pydicom gives (:mod:`app.dicom.pixels`
compares them in tests): explicit or implicit VR little endian, one sample
(or RGB) per pixel of 8, 16 or 32 bits, the strict walk clean (the pixel
data's length fits Rows x Columns x Frames x Samples x Bits Allocated, see
:mod:`app.dicom.image_rules`). Anything else returns None and the caller
reads the file the general way, with its messages.
"""

from __future__ import annotations

import mmap
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

import numpy as np
from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.tag import BaseTag

from app.dicom.files import parse_file
from app.dicom.quick_header import QuickHeader, quick_header

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
PIXEL_DATA = 0x7FE00010
_PADDING = 0xFFFCFFFC  # Data Set Trailing Padding
_SEQUENCE_END = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
_US = {0x00280010: "rows", 0x00280011: "columns", 0x00280100: "allocated", 0x00280101: "stored",
       0x00280103: "signed", 0x00280002: "samples", 0x00280006: "planar"}
_NUMBER_OF_FRAMES = 0x00280008
_PHOTOMETRIC = 0x00280004


@dataclass(frozen=True)
class _Layout:
    """Where a file's frames are and how they read, with its header."""

    header: QuickHeader  # the header: its display values read, its data set made when asked
    dtype: np.dtype
    shape: tuple  # (rows, columns) or (rows, columns, 3)
    planar: bool
    shift: int  # Bits Allocated - Bits Stored
    frames: int
    offset: int  # of the first frame
    length: int  # of the pixel data value


# multi-frame headers by (path, size, mtime): scrolling a multi-frame reads
# one frame a step, and its header is the same for all of them (read-only)
_LAYOUTS: "OrderedDict[tuple, _Layout]" = OrderedDict()
_KEEP = 4
_LOCK = threading.Lock()


def read_native(name: str, frame: Optional[int]) -> Optional[tuple[QuickHeader, np.ndarray, int]]:
    """(header, frame array, 0-based index) as :func:`app.dicom.pixels.read_frame`
    gives them, the header as a quick view (:mod:`app.dicom.quick_header`)
    whose ``ds`` is the data set, or None when this file is not one this
    path covers."""
    try:
        f = open(name, "rb", buffering=0)
    except OSError:
        return None
    with f:
        try:
            stat = os.fstat(f.fileno())
            key = (name, stat.st_size, stat.st_mtime_ns)
            layout = _LAYOUTS.get(key)
            if layout is None:
                if stat.st_size < 256:
                    return None
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                    layout = _layout(name, data)
                if layout is None:
                    return None
                if layout.frames > 1:
                    with _LOCK:  # the viewer's decode threads share it
                        _LAYOUTS[key] = layout
                        while len(_LAYOUTS) > _KEEP:
                            _LAYOUTS.popitem(last=False)
            index = layout.frames // 2 if frame is None else int(frame)
            if not 0 <= index < layout.frames:
                return None  # the general path names the range
            return layout.header, _frame(f, layout, index), index
        except Exception:  # noqa: BLE001 - Malformed, NotCovered, odd values: the general path decides
            return None


def _frame(f, layout: _Layout, index: int) -> np.ndarray:
    """Frame `index`, one read straight into the array (unbuffered)."""
    arr = np.empty(layout.shape if not layout.planar else (3, *layout.shape[:2]), layout.dtype)
    f.seek(layout.offset + index * arr.nbytes)
    if f.readinto(arr) != arr.nbytes:
        raise ValueError("the file is shorter than its pixel data")
    if layout.shift:  # what pydicom's correct_unused_bits does: sign or mask
        np.left_shift(arr, layout.shift, out=arr)
        np.right_shift(arr, layout.shift, out=arr)
    if layout.planar:
        arr = np.ascontiguousarray(arr.transpose(1, 2, 0))
    return arr


def _layout(name: str, data: mmap.mmap) -> Optional[_Layout]:
    parsed_file = parse_file(data)
    syntax = parsed_file.syntax
    if syntax not in (EXPLICIT_LE, IMPLICIT_LE) or parsed_file.parsed.switched:
        return None
    implicit = syntax == IMPLICIT_LE
    elements = parsed_file.elements
    at = next((k for k, element in enumerate(elements) if element[0] == PIXEL_DATA), None)
    if at is None or any(element[0] != _PADDING for element in elements[at + 1:]):
        return None  # no pixel data, or elements after it other than trailing padding
    pixel = elements[at]
    if pixel[5] is not None:
        return None
    by_tag = {element[0]: element for element in elements}
    image = {key: _us(data, by_tag.get(tag)) for tag, key in _US.items()}
    rows, columns, allocated = image["rows"], image["columns"], image["allocated"]
    stored = image["stored"] or allocated
    samples = image["samples"] or 1
    if not rows or not columns or allocated not in (8, 16, 32) or not 1 <= stored <= allocated:
        return None
    photometric = _text(data, by_tag.get(_PHOTOMETRIC))
    if samples == 3 and photometric != "RGB" or samples not in (1, 3):
        return None
    frames = _frames(_text(data, by_tag.get(_NUMBER_OF_FRAMES)))
    if frames is None:
        return None
    itemsize = allocated // 8
    if frames * rows * columns * samples * itemsize > pixel[4]:
        return None
    dtype = np.dtype(f"<{'i' if image['signed'] == 1 else 'u'}{itemsize}")
    shape = (rows, columns) if samples == 1 else (rows, columns, 3)
    # as the general reader: a single frame's header has what follows the
    # pixel data too (the padding), a multi-frame's stops before it
    header = elements[:at] + (elements[at + 1:] if frames == 1 else [])
    pieces = _pieces(data, parsed_file.meta, header)
    quick = quick_header(lambda: _dataset(name, *pieces, implicit), data, header)
    return _Layout(quick, dtype, shape, samples == 3 and image["planar"] == 1, allocated - stored,
                   frames, pixel[3], pixel[4])


def _us(data, element) -> Optional[int]:
    if element is None or element[4] < 2:
        return None
    return int.from_bytes(data[element[3]:element[3] + 2], "little")


def _text(data, element) -> str:
    if element is None:
        return ""
    return bytes(data[element[3]:element[3] + element[4]]).decode("latin-1").strip("\x00 ")


def _frames(text: str) -> Optional[int]:
    if not text:
        return 1
    try:
        return max(int(text), 1)
    except ValueError:
        return None


def _pieces(data, meta_elements: list, elements: list) -> tuple:
    """What :func:`_dataset` makes the data set of, copied out of the mapped
    file (which closes): each element's (tag, vr, length, value bytes, offset),
    a sequence's items as bytes of defined length (its delimiter dropped,
    which pydicom reads the same way when asked), and the preamble."""
    body = []
    for tag, vr, start, value, length, items in elements:
        if items is not None:
            if vr == "UN":
                raise ValueError("a UN sequence: pydicom's reader decides")
            if data[value + length - 8:value + length] == _SEQUENCE_END:
                length -= 8
            vr = "SQ"
        body.append((tag, vr, length, bytes(data[value:value + length]) if length else
                     None if vr == "SQ" else b"", value))
    meta = [(tag, vr, length, bytes(data[value:value + length]), value)
            for tag, vr, start, value, length, _items in meta_elements]
    preamble = bytes(data[:128]) if data[128:132] == b"DICM" else None
    return body, meta, preamble


def _dataset(name: str, body: list, meta_elements: list, preamble: Optional[bytes],
             implicit: bool) -> FileDataset:
    """The header as pydicom's reader leaves it: raw elements, converted when
    first read."""
    raw = {BaseTag(tag): RawDataElement(BaseTag(tag), vr, length, value, offset, implicit, True)
           for tag, vr, length, value, offset in body}
    meta = {BaseTag(tag): RawDataElement(BaseTag(tag), vr, length, value, offset, False, True)
            for tag, vr, length, value, offset in meta_elements}
    dataset = Dataset(raw)
    encoding = (convert_encodings(dataset.SpecificCharacterSet) if 0x00080005 in raw
                else default_encoding)
    dataset.set_original_encoding(implicit, True, encoding)
    ds = FileDataset(name, dataset, preamble, FileMetaDataset(meta), implicit, True)
    ds.set_original_encoding(implicit, True, dataset._character_set)
    return ds
