"""Which files the byte-level path (:mod:`app.deid.raw`) takes: each is walked
by the shared strict reader; what that reader refuses raises :class:`Refused`
(de-identified by no path), what this path leaves to pydicom raises
:class:`Unsupported` before anything is counted.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from typing import Optional

from pydicom.datadict import dictionary_VR
from pydicom.uid import UID

from app.dicom import element_rules
from app.dicom import files as dicom_files
from app.dicom.element_rules import LONG_VRS, UNDEFINED

PIXEL_DATA = 0x7FE00010
OTHER_PIXELS = frozenset({0x7FE00008, 0x7FE00009})
CHARACTER_SET = 0x00080005

_long = struct.Struct("<L")
MAX_DEPTH = 300  # sequences nested deeper take the pydicom path (the emission recurses)


class Unsupported(Exception):
    """This file takes the pydicom path."""


class Refused(ValueError):
    """The strict reader refuses this file (cut short, a length that does not
    fit): it is de-identified by no path."""


@lru_cache(maxsize=64)
def _syntax(uid: str) -> bool:
    """Whether data sets in *uid* are implicit VR (Unsupported: not little endian
    or deflated or not a transfer syntax)."""
    syntax = UID(uid)
    try:
        if syntax.is_deflated or not syntax.is_little_endian:
            raise Unsupported(f"transfer syntax {uid}")
        return syntax.is_implicit_VR
    except ValueError:
        raise Unsupported(f"unknown transfer syntax {uid}") from None


@lru_cache(maxsize=4096)
def _implicit_vr(tag: int) -> str:
    """The VR of an element written without one: the dictionary's, the first of
    an ambiguous pair (US or SS: both kept; OB or OW: both binary)."""
    if (tag >> 16) & 1:
        return "UN"
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return "UN"
    if " or " in vr:
        return "OW" if "OW" in vr else vr.split(" or ")[0]
    return vr


def refuse_unsound(data: bytes) -> Optional[dicom_files.ParsedFile]:
    """The file walked by the shared strict reader: Refused when it refuses
    the file. For any path that de-identifies a file (the pydicom path too,
    before it reads the file tolerantly): a file is never copied through
    unread. None when the reader does not cover the encoding."""
    try:
        return dicom_files.parse_file(data, implicit_vr=_implicit_vr)
    except element_rules.Malformed as e:
        raise Refused(f"{'truncated' if e.truncated else 'malformed'}: {e}") from e
    except element_rules.NotCovered:
        return None


def _parse(data: bytes) -> tuple[dicom_files.ParsedFile, bool]:
    """The file walked by the shared strict reader, and whether it is implicit
    VR; Refused when the reader refuses it, Unsupported for what this path
    leaves to pydicom."""
    parsed = refuse_unsound(data)
    if parsed is None:
        raise Unsupported("an encoding the strict reader does not cover")
    if len(data) < 144 or data[128:132] != b"DICM":
        raise Unsupported("no File Meta Information")
    if not parsed.syntax:
        raise Unsupported("no transfer syntax")
    implicit = _syntax(parsed.syntax)
    if parsed.parsed.switched or parsed.parsed.implicit != implicit:
        raise Unsupported("a data set not encoded as its transfer syntax says")
    if parsed.parsed.depth > MAX_DEPTH:
        raise Unsupported(f"sequences nested {parsed.parsed.depth} deep")
    _check(data, parsed.elements, implicit)
    return parsed, implicit


def _check(data: bytes, top: list, implicit: bool) -> None:
    """What this path leaves to pydicom (Unsupported), over every element
    of the file (no recursion)."""
    pending = [(top, True)]
    while pending:
        level, at_top = pending.pop()
        for tag, vr, start, value, length, items in level:
            group = tag >> 16
            if items is not None:
                if vr == "UN" and not group & 1:
                    raise Unsupported("UN element in a public group")
                pending.extend((item, False) for item in items)
                continue
            if tag in OTHER_PIXELS or (tag == CHARACTER_SET and not at_top):
                raise Unsupported(f"element ({group:04X},{tag & 0xFFFF:04X})")
            if group & 1:
                continue
            if vr == "UN":
                raise Unsupported("UN element in a public group")
            if tag == PIXEL_DATA and not at_top and _declared(data, start, vr, implicit) == UNDEFINED:
                raise Unsupported("encapsulated pixel data inside a sequence")


def _declared(data: bytes, start: int, vr: str, implicit: bool) -> int:
    """The length an element's header declares (little endian)."""
    if implicit:
        return _long.unpack_from(data, start + 4)[0]
    if vr in LONG_VRS:
        return _long.unpack_from(data, start + 8)[0]
    return struct.unpack_from("<H", data, start + 6)[0]
