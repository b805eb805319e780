"""Where a file's pixel data can follow its de-identified header unchanged
(used by the pydicom path of app/deid/pipeline.py, the one de-identification
pipeline; the rest of what this module held moved there).
"""

from __future__ import annotations

import struct
from typing import Optional


def _pixel_tail(ds, data: bytes, start: int) -> Optional[int]:
    """*start* when the input's bytes from *start* (where a header-only read
    stopped) can follow the de-identified header unchanged: one Pixel Data
    element running to the end of the file, encoded as the header will be
    written (the input's transfer syntax, not deflated). None: take the
    general path (no pixel data, elements after it, an inconsistent file)."""
    implicit, little = getattr(ds, "original_encoding", (None, None))
    meta = getattr(ds, "file_meta", None)
    syntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if implicit is None or syntax is None or start >= len(data):
        return None
    try:
        if (syntax.is_deflated or syntax.is_implicit_VR != implicit
                or syntax.is_little_endian != little):
            return None
    except ValueError:  # not a transfer syntax pydicom knows
        return None
    return start if _element_end(data, start, implicit, little) == len(data) else None


LONG_LENGTH_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN",
                             b"UR", b"UT"})


def _element_end(data: bytes, at: int, implicit: bool, little: bool) -> Optional[int]:
    """Where the pixel data element starting at *at* ends (None: not one)."""
    order = "<" if little else ">"
    try:
        group, element = struct.unpack_from(order + "HH", data, at)
        if (group << 16 | element) != 0x7FE00010:
            return None
        if implicit:
            (length,), value = struct.unpack_from(order + "L", data, at + 4), at + 8
        elif data[at + 4:at + 6] in LONG_LENGTH_VRS:
            (length,), value = struct.unpack_from(order + "L", data, at + 8), at + 12
        else:
            return None  # pixel data is OB or OW
        if length != 0xFFFFFFFF:
            return value + length
        while True:  # encapsulated: items up to the sequence delimiter
            group, element, length = struct.unpack_from(order + "HHL", data, value)
            value += 8
            if (group, element) == (0xFFFE, 0xE0DD):
                return value
            if (group, element) != (0xFFFE, 0xE000):
                return None
            value += length
    except struct.error:  # truncated
        return None


def _pixel_bytes(ds) -> Optional[bytes]:
    for tag in (0x7FE00010, 0x7FE00008, 0x7FE00009):
        if tag in ds:
            raw = ds.get_item(tag)
            return bytes(raw.value) if raw.value is not None else b""
    return None

