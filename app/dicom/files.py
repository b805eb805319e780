"""Whole DICOM files for the strict reader: File Meta Information, encoding, inflation, pixel data."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Callable, Optional

from app.dicom.element_rules import LONG_VRS, PIXEL_DATA, UNDEFINED, VRS, Malformed, NotCovered, describe
from app.dicom.elements import _UNITS, Parsed, _dictionary_vr, parse


TRANSFER_SYNTAX = 0x00020010
MAX_INFLATED = 256 << 20  # bytes a deflated data set may inflate to

IMPLICIT_LITTLE = "1.2.840.10008.1.2"
EXPLICIT_LITTLE = "1.2.840.10008.1.2.1"
DEFLATED = "1.2.840.10008.1.2.1.99"
EXPLICIT_BIG = "1.2.840.10008.1.2.2"

_VR_OF_BYTES = {vr.encode("ascii"): vr for vr in VRS}


@dataclass
class ParsedFile:
    data: object                 # the bytes the offsets refer to (inflated when deflated)
    meta: list                   # File Meta Information elements (explicit VR little endian)
    syntax: Optional[str]        # the Transfer Syntax UID it names, if any
    deflated: bool
    start: int                   # where the data set starts in *data*
    parsed: Parsed
    source: object               # the file's bytes (the meta elements' offsets refer to them)

    @property
    def elements(self) -> list:
        return self.parsed.elements


def read_meta(data, pos: int) -> tuple[list, int, Optional[str]]:
    """The File Meta Information elements at *pos* (group 0002, explicit VR
    little endian), where they end, and the Transfer Syntax UID named."""
    size = len(data)
    head = struct.Struct("<HH2sH").unpack_from
    out: list = []
    syntax = None
    while pos + 8 <= size:
        group, number, raw_vr, length = head(data, pos)
        if group != 0x0002:
            break
        tag = group << 16 | number
        vr = _VR_OF_BYTES.get(raw_vr)
        if vr is None or vr == "SQ":
            raise NotCovered(f"File Meta Information not in explicit VR: {describe(tag)} at byte {pos}")
        value = pos + 8
        if vr in LONG_VRS:
            value = pos + 12
            if value > size:
                raise Malformed(f"the header of {describe(tag)} at byte {pos} is cut: the file "
                                f"ends at byte {size}", pos, True)
            length = struct.unpack_from("<L", data, pos + 8)[0]
        if length == UNDEFINED or value + length > size:
            raise Malformed(f"{describe(tag)} at byte {pos} declares {length} bytes, the file "
                            f"ends at byte {size}", pos, True)
        unit = _UNITS.get(_dictionary_vr(tag) if vr == "UN" else vr)
        if unit and length % unit:
            raise Malformed(f"{describe(tag)} at byte {pos} declares {length} bytes, not a "
                            f"multiple of {unit} as its VR needs", pos)
        out.append((tag, vr, pos, value, length, None))
        if tag == TRANSFER_SYNTAX:
            syntax = bytes(data[value:value + length]).decode("latin-1").strip("\x00 ") or None
        pos = value + length
    if pos < size and pos + 8 > size and size - pos >= 2 and data[pos:pos + 2] == b"\x02\x00":
        raise Malformed(f"an element header at byte {pos} is cut: the file ends at byte {size}",
                        pos, True)
    return out, pos, syntax


def encoding(syntax: Optional[str], data, pos: int) -> tuple[bool, bool, bool]:
    """(implicit, little, deflated) for a data set at *pos* in *syntax*; with
    no syntax, guessed from the first element as pydicom guesses."""
    if syntax is None:
        if pos + 6 > len(data):
            return True, True, False
        group = struct.unpack_from("<H", data, pos)[0]
        if bytes(data[pos + 4:pos + 6]) in _VR_OF_BYTES:
            return False, group < 1024, False
        return True, True, False
    if syntax == IMPLICIT_LITTLE:
        return True, True, False
    if syntax == EXPLICIT_BIG:
        return False, False, False
    return False, True, syntax == DEFLATED  # every other syntax is explicit VR little endian


def parse_file(data, implicit_vr: Optional[Callable[[int], str]] = None) -> ParsedFile:
    """A whole file: preamble and 'DICM' (if present), File Meta Information
    (if present), then the data set, walked strictly."""
    source = data
    size = len(data)
    pos = 132 if size >= 132 and data[128:132] == b"DICM" else 0
    meta, pos, syntax = read_meta(data, pos)
    if pos >= size:
        raise Malformed(f"no data set after the File Meta Information: the file ends at byte {size}",
                        size, truncated=True)
    if pos + 4 <= size and struct.unpack_from("<H", data, pos)[0] == 0x0000:
        raise NotCovered(f"a command group (0000) at byte {pos} in a file")
    implicit, little, deflated = encoding(syntax, data, pos)
    what = "the file"
    if deflated:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            inflated = inflater.decompress(bytes(data[pos:]), MAX_INFLATED)
        except zlib.error as e:
            raise Malformed(f"the deflated data set at byte {pos} does not inflate ({e})", pos) from e
        if inflater.unconsumed_tail:
            raise Malformed(f"the deflated data set at byte {pos} inflates to more than "
                            f"{MAX_INFLATED >> 20} MiB", pos)
        if not inflater.eof:
            raise Malformed(f"truncated: the deflated data set at byte {pos} ends early: the "
                            f"file ends at byte {size}", size, True)
        data, pos, size, what = inflated, 0, len(inflated), "the inflated data set"
    parsed = parse(data, pos, size, implicit=implicit, little=little, implicit_vr=implicit_vr,
                   what=what)
    return ParsedFile(data, meta, syntax, deflated, pos, parsed, source)


def pixel_data_end(data, at: int, implicit: bool, little: bool = True) -> Optional[int]:
    """Where the (7FE0,0010) Pixel Data element starting at byte *at* ends,
    checked strictly (a complete value, a complete fragment list ending with
    its delimiter), and only if what follows it up to the end of *data* is
    well formed too; None when there is no such element there (not pixel
    data, an OB/OW VR with a short length, cut short, anything malformed)."""
    try:
        parsed = parse(data, at, len(data), implicit=implicit, little=little, detect=False,
                       image_rule=False)
    except Malformed:
        return None
    if not parsed.elements:
        return None
    tag, vr, start, value, length, _ = parsed.elements[0]
    if tag != PIXEL_DATA or start != at or (vr is not None and vr not in LONG_VRS):
        return None
    return value + length
