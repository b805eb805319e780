"""The strict reader's image rules (PS3.3 C.7.6.3): native pixel data as long
as Rows x Columns x Number of Frames x Samples per Pixel x Bits Allocated / 8,
described by its own data set, and present when the data set is an image;
encapsulated pixel data a list of fragment items closed by a delimiter
(PS3.5 A.4).

:func:`app.dicom.elements.parse` calls these when it meets pixel data and at
the end of the top-level data set; *ds* is the data set it is reading (its
``image`` attributes, {tag: (vr, value, length)}, and whether it has
``pixels``).
"""

from __future__ import annotations

import struct
from typing import Optional

from app.dicom.element_rules import (CHARACTER_SET, ITEM, PIXEL_TAGS, SEQUENCE_END, UNDEFINED,
                                     Malformed, _text, describe)


_ROWS, _COLUMNS, _FRAMES = 0x00280010, 0x00280011, 0x00280008
_SAMPLES, _PHOTOMETRIC, _BITS = 0x00280002, 0x00280004, 0x00280100
_REPRESENTATION, _PROVIDER_URL = 0x00280103, 0x00287FE0
_IMAGE_TAGS = frozenset({_ROWS, _COLUMNS, _FRAMES, _SAMPLES, _PHOTOMETRIC, _BITS, _REPRESENTATION,
                         _PROVIDER_URL})
_WATCHED = _IMAGE_TAGS | PIXEL_TAGS | {CHARACTER_SET}
# what Pixel Data needs beside it (Image Pixel module, type 1; pydicom needs
# Bits Allocated and Pixel Representation to read some values in implicit VR)
_PIXEL_NEEDS = ((_ROWS, "Rows"), (_COLUMNS, "Columns"), (_BITS, "BitsAllocated"),
                (_REPRESENTATION, "PixelRepresentation"))


def _number(data, entry, little: bool) -> Optional[int]:
    """A US value (or an IS one) of the image attributes, None if unusable."""
    if entry is None:
        return None
    vr, value, length = entry
    if vr == "IS":
        try:
            return int(float(bytes(data[value:value + length]).split(b"\\")[0].strip(b" \x00")))
        except ValueError:
            return None
    if length < 2 or vr not in (None, "US", "SS", "UN", "OW", "OB"):
        return None
    return struct.unpack_from("<H" if little else ">H", data, value)[0]


def pixels_needed(data, image: dict, little: bool = True) -> Optional[int]:
    """The bytes native pixel data needs by the image attributes in *image*
    ({tag: (vr, value, length)}), or None when they do not say."""
    rows = _number(data, image.get(_ROWS), little)
    columns = _number(data, image.get(_COLUMNS), little)
    bits = _number(data, image.get(_BITS), little)
    if not rows or not columns or not bits:
        return None
    frames_entry = image.get(_FRAMES)
    frames = None
    if frames_entry is not None:
        vr = frames_entry[0] or "IS"
        frames = _number(data, (vr, *frames_entry[1:]), little)
    samples = _number(data, image.get(_SAMPLES), little) or 1
    count = rows * columns * max(frames or 1, 1) * samples
    photometric = image.get(_PHOTOMETRIC)
    if photometric is not None and samples == 3:
        _, value, length = photometric
        if bytes(data[value:value + length]).strip(b" \x00") in (b"YBR_FULL_422", b"YBR_PARTIAL_422"):
            count = count * 2 // 3  # two samples a pixel are stored (PS3.3 C.7.6.3.1.2)
    return (count * bits + 7) // 8


def _check_attributes(ds: _Set, pos: int) -> None:
    """Pixel Data needs the image's description in its own data set."""
    image = ds.image or {}
    missing = [name for tag, name in _PIXEL_NEEDS if tag not in image]
    if missing:
        raise Malformed(f"(7FE0,0010) PixelData at byte {pos} without {', '.join(missing)} "
                        "before it in its data set", pos)


def _check_native(data, ds: _Set, tag: int, pos: int, length: int, little: bool) -> None:
    if ds.image is None:
        return
    needed = pixels_needed(data, ds.image, little)
    if needed is not None and length < needed:
        raise Malformed(f"{describe(tag)} at byte {pos} holds {length} bytes, the image "
                        f"(Rows x Columns x frames x samples x Bits Allocated) needs {needed}",
                        pos, truncated=True)


def _check_image(ds: _Set, end: int) -> None:
    image = ds.image
    if (image is None or ds.pixels or _PROVIDER_URL in image
            or not {_ROWS, _COLUMNS, _BITS} <= image.keys()):
        return
    raise Malformed(f"an image (Rows, Columns, Bits Allocated) without its (7FE0,0010) PixelData: "
                    f"the data set ends at byte {end}", end, truncated=True)


def _fragments(data, head, pos: int, value: int, limit: int, what: str, fail) -> int:
    """Where encapsulated pixel data starting at *pos* ends (past its delimiter)."""
    at = value
    name = "(7FE0,0010) PixelData"
    while True:
        if at + 8 > limit:
            if at == limit:
                raise fail(f"encapsulated {name} starting at byte {pos} has no sequence "
                           f"delimiter: {_text(what)} ends at byte {limit}", at, limit)
            raise fail(f"a fragment header at byte {at} of {name} is cut: {_text(what)} ends at "
                       f"byte {limit}", at, limit)
        group, number, length = head(data, at)
        tag = group << 16 | number
        if tag == SEQUENCE_END:
            if length:
                raise fail(f"the sequence delimiter at byte {at} has length {length}, not 0", at)
            return at + 8
        if tag != ITEM:
            raise fail(f"encapsulated {name}: expected a fragment item at byte {at}, found "
                       f"{describe(tag)}", at)
        if length == UNDEFINED or at + 8 + length > limit:
            raise fail(f"a fragment of {name} at byte {at} declares "
                       f"{'an undefined length' if length == UNDEFINED else f'{length} bytes'}, "
                       f"{_text(what)} ends at byte {limit}", at, limit)
        at += 8 + length
