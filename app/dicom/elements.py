"""One strict reader of DICOM element streams (PS3.5 7, PS3.10 7).

Every byte-level reader of DICOM files in the project walks them here: the
header reading of the importer and of the network intake
(:mod:`app.dicom.reading`) and the byte-level de-identification
(:mod:`app.deid.raw`). So a file is read, or refused, alike on every path.

Strict means that the whole file is walked, pixel data included, and that a
file breaking any of these rules is refused with :class:`Malformed`, whose
message names the byte offset and the element:

* every element's declared length fits inside its container (the file, a
  sequence or an item of defined length); a header is never cut;
* sequences and items of undefined length close with their delimiters;
  sequences and items of defined length end exactly where declared;
* only sequences (SQ, and UN read as one, PS3.5 6.2.2) and encapsulated pixel
  data have an undefined length; encapsulated pixel data is a list of
  fragment items ending with a sequence delimiter;
* native pixel data holds at least Rows x Columns x Number of Frames x
  Samples per Pixel x Bits Allocated / 8 bytes; Pixel Data comes after the
  Rows, Columns, Bits Allocated and Pixel Representation of its data set;
  and a top-level data set with Rows, Columns and Bits Allocated (an image)
  has its pixel data;
* an explicit VR is one of PS3.5's; numbers (US, SS, UL, SL, FL, FD, AT, SV,
  UV, by the dictionary in implicit VR) fill whole values; the Specific
  Character Set is CS; delimiters appear only where they close something;
  sequences nest at most :data:`MAX_DEPTH` deep (the walk keeps its own
  stack, no recursion);
* a file with File Meta Information has a data set after it
  (:mod:`app.dicom.files`, which reads whole files).

pydicom reads many of these files without a word (it stops at the end of
the file, guesses an implicit VR, scans for a delimiter) or fails later on a
value; tests/dicom/test_fuzz.py holds the list, each with its reason.

Encodings covered: implicit and explicit VR little endian, explicit VR big
endian, deflated explicit VR little endian (walked once inflated), and a data
set whose first element contradicts its transfer syntax (read as pydicom
reads it: the encoding the first element shows). What is not covered (a
command group in a file, File Meta Information not in explicit VR) raises
:class:`NotCovered`.

Elements come back as tuples ``(tag, vr, start, value, length, items)``:
where the element's header starts, where its value starts, the value's
length, and for a sequence its items (a list of element lists, else None).
``value + length`` is always where the element ends: for an undefined-length
sequence or encapsulated pixel data that includes the closing delimiter. The
VR of an implicit VR element is None unless the caller passes *implicit_vr*
(a sequence's is "SQ"); a UN holding a sequence (undefined length, or a tag
the dictionary knows as SQ) keeps "UN" and has its items.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Optional

from pydicom.datadict import dictionary_VR

from app.dicom.element_rules import (CHARACTER_SET, ITEM, ITEM_END, LONG_VRS, MAX_DEPTH, PIXEL_DATA,
                                     PIXEL_TAGS, SEQUENCE_END, UNDEFINED, VRS, Malformed, _text,
                                     describe)
from app.dicom.image_rules import (_WATCHED, _check_attributes, _check_image, _check_native,
                                   _fragments)

# The walk's two tables are built here, not imported: CPython compiles
# ``name.get(...)`` on a name bound by an import as an attribute load and a
# call (a bound method made for every element), which cost the walk 7%.

# the size of one value of the VRs that are numbers (PS3.5 6.2); read in
# implicit VR (or as UN) by the dictionary's VR
_UNITS = {"AT": 4, "FL": 4, "FD": 8, "SL": 4, "SS": 2, "SV": 8, "UL": 4, "US": 2, "UV": 8,
          "US or SS": 2}
# an explicit VR's bytes -> (VR, whether its length takes 4 bytes, its number size)
_EXPLICIT = {vr.encode("ascii"): (vr, vr in LONG_VRS, _UNITS.get(vr, 0)) for vr in VRS}
_NO_VR = (None, False, 0)


@lru_cache(maxsize=4096)
def _dictionary_vr(tag: int) -> Optional[str]:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return None


@dataclass
class Parsed:
    elements: list               # the top-level elements
    implicit: bool               # the encoding the top-level data set was read in
    little: bool
    switched: bool               # some data set's encoding is not the transfer syntax's
    depth: int                   # the deepest sequence nesting
    pixel_start: Optional[int]   # where the top-level pixel data element begins


class _Set:
    """A data set being read: the top level or an item."""
    __slots__ = ("out", "end", "limit", "what", "implicit", "image", "seq", "start", "pixels")

    def __init__(self, end, limit, what, implicit, seq, start):
        self.out: list = []
        self.end, self.limit, self.what = end, limit, what
        self.implicit, self.seq, self.start = implicit, seq, start
        self.image: Optional[dict] = None
        self.pixels = False


class _Seq:
    """A sequence being read."""
    __slots__ = ("tag", "vr", "start", "value", "end", "limit", "what", "implicit", "parent",
                 "items")

    def __init__(self, tag, vr, start, value, end, limit, what, implicit, parent):
        self.tag, self.vr, self.start, self.value = tag, vr, start, value
        self.end, self.limit, self.what = end, limit, what
        self.implicit, self.parent = implicit, parent
        self.items: list = []


def _looks_implicit(data, at: int, limit: int) -> Optional[bool]:
    """What the first element at *at* shows (pydicom's test: a VR is two
    capitals); None when there is no element to look at."""
    if at + 6 > limit:
        return None
    return not (0x40 < data[at + 4] < 0x5B and 0x40 < data[at + 5] < 0x5B)


def parse(data, pos: int, end: int, *, implicit: bool, little: bool = True,
          implicit_vr: Optional[Callable[[int], str]] = None, detect: bool = True,
          what: str = "the file", image_rule: bool = True) -> Parsed:
    """Walk the data set in ``data[pos:end]`` strictly (see the module's rules).

    *detect*: read the top-level data set in the encoding its first element
    shows, as pydicom does. *what*: how messages name the container.
    *image_rule*: refuse an image data set without its pixel data, and top-level
    pixel data without the attributes describing it."""
    order = "<" if little else ">"
    head = struct.Struct(order + "HHL").unpack_from
    explicit = struct.Struct(order + "HH2sH").unpack_from
    long_length = struct.Struct(order + "L").unpack_from
    size = end
    declared = implicit
    if detect:
        found = _looks_implicit(data, pos, end) if pos + 8 <= end else None
        if found is not None and found != implicit and head(data, pos)[0] != 0xFFFE:
            implicit = found
    switched = implicit != declared
    root = _Set(end, end, what, implicit, None, pos)
    frame: object = root
    depth = deepest = 0
    pixel_start = None

    def fail(message: str, at: int, limit: int = -1) -> Malformed:
        return Malformed(message, at, truncated=limit == size)

    while True:
        if type(frame) is _Set:
            ds = frame
            out, limit, imp = ds.out, ds.limit, ds.implicit
            ds_end = -1 if ds.end is None else ds.end
            append = out.append
            fill = imp and implicit_vr is not None
            pushed = None
            while True:
                if pos == ds_end:
                    break
                if pos + 8 > limit:
                    if pos == limit and ds_end < 0:
                        raise fail(f"{_item_name(ds)} has no item delimiter: "
                                   f"{_text(ds.what)} ends at byte {limit}", pos, limit)
                    raise fail(f"an element header at byte {pos} is cut: "
                               f"{_text(ds.what)} ends at byte {limit}", pos, limit)
                if imp:
                    group, number, length = head(data, pos)
                    vr, value = None, pos + 8
                else:
                    group, number, raw_vr, length = explicit(data, pos)
                    vr, long, unit = _EXPLICIT.get(raw_vr, _NO_VR)
                    value = pos + 8
                    if long:
                        value = pos + 12
                        if value > limit:
                            raise fail(f"the header of {describe(group << 16 | number)} at byte "
                                       f"{pos} is cut: {_text(ds.what)} ends at byte {limit}", pos, limit)
                        length = long_length(data, pos + 8)[0]
                tag = group << 16 | number
                if group == 0xFFFE:
                    length = head(data, pos)[2]
                    if tag == ITEM_END and ds_end < 0 and ds.seq is not None:
                        if length:
                            raise fail(f"the item delimiter at byte {pos} has length {length}, "
                                       "not 0", pos)
                        pos += 8
                        break
                    raise fail(f"{describe(tag)} at byte {pos} is out of place", pos)
                if vr is None and not imp:
                    raise fail(f"{describe(tag)} at byte {pos} has no valid VR "
                               f"({bytes(data[pos + 4:pos + 6])!r})", pos)
                if length == UNDEFINED:
                    if tag == PIXEL_DATA:
                        if vr not in (None, "OB", "OW"):
                            raise fail(f"encapsulated {describe(tag)} at byte {pos} has VR {vr}, "
                                       "not OB", pos)
                        if image_rule or ds is not root:
                            _check_attributes(ds, pos)
                        after = _fragments(data, head, pos, value, limit, ds.what, fail)
                        if imp and implicit_vr is not None:
                            vr = implicit_vr(tag)
                        append((tag, vr, pos, value, after - value, None))
                        ds.pixels = True
                        if ds is root:
                            pixel_start = pos
                        pos = after
                        continue
                    if vr == "SQ" or vr == "UN" or (vr is None and _implicit_sequence(
                            data, head, tag, value, limit)):
                        pushed = _Seq(tag, "SQ" if vr is None else vr,
                                      pos, value, None, limit, ds.what, imp, ds)
                        pos = value
                        break
                    raise fail(f"{describe(tag)} at byte {pos} has an undefined length, which "
                               "only sequences and encapsulated pixel data may have", pos)
                if value + length > limit:
                    raise fail(f"{describe(tag)} at byte {pos} declares {length} bytes, "
                               f"{_text(ds.what)} ends at byte {limit}", pos, limit)
                if vr is None or vr == "UN":
                    known = _dictionary_vr(tag)
                    if known == "SQ":  # UN: a sequence in implicit VR (PS3.5 6.2.2)
                        pushed = _Seq(tag, vr or "SQ", pos, value, value + length, value + length,
                                      ("sequence", tag), True if vr else imp, ds)
                        pos = value
                        break
                    unit = _UNITS.get(known)
                elif vr == "SQ":
                    pushed = _Seq(tag, "SQ", pos, value, value + length, value + length,
                                  ("sequence", tag), imp, ds)
                    pos = value
                    break
                if unit and length % unit:
                    raise fail(f"{describe(tag)} at byte {pos} declares {length} bytes, not a "
                               f"multiple of {unit} as its VR needs", pos)
                if tag in _WATCHED:
                    if tag in PIXEL_TAGS:
                        if tag == PIXEL_DATA and (image_rule or ds is not root):
                            _check_attributes(ds, pos)
                        _check_native(data, ds, tag, pos, length, little)
                        ds.pixels = True
                        if ds is root:
                            pixel_start = pos
                    elif tag == CHARACTER_SET:
                        if vr not in (None, "CS", "UN"):
                            raise fail(f"{describe(tag)} at byte {pos} has VR {vr}, not CS", pos)
                    else:
                        if ds.image is None:
                            ds.image = {}
                        ds.image[tag] = (vr, value, length)
                if fill:
                    vr = implicit_vr(tag)
                append((tag, vr, pos, value, length, None))
                pos = value + length
            if pushed is not None:
                depth += 1
                if depth > MAX_DEPTH:
                    raise fail(f"{describe(pushed.tag)} at byte {pushed.start} nests sequences "
                               f"deeper than {MAX_DEPTH} levels", pushed.start)
                deepest = max(deepest, depth)
                frame = pushed
                continue
            if ds is root:
                if image_rule:
                    _check_image(ds, pos)
                return Parsed(root.out, implicit, little, switched, deepest, pixel_start)
            seq = ds.seq
            seq.items.append(ds.out)
            frame = seq
        else:
            seq = frame
            seq_end, limit = seq.end, seq.limit
            if seq_end is not None and pos == seq_end:
                frame = _close(seq, pos, implicit_vr)
                depth -= 1
                continue
            if pos + 8 > limit:
                if pos == limit and seq_end is None:
                    raise fail(f"{describe(seq.tag)} starting at byte {seq.start} has no sequence "
                               f"delimiter: {_text(seq.what)} ends at byte {limit}", pos, limit)
                raise fail(f"an item header at byte {pos} in {describe(seq.tag)} is cut: "
                           f"{_text(seq.what)} ends at byte {limit}", pos, limit)
            group, number, length = head(data, pos)
            tag = group << 16 | number
            if tag == SEQUENCE_END and seq_end is None:
                if length:
                    raise fail(f"the sequence delimiter at byte {pos} has length {length}, "
                               "not 0", pos)
                pos += 8
                frame = _close(seq, pos, implicit_vr)
                depth -= 1
                continue
            if tag != ITEM:
                raise fail(f"{describe(seq.tag)}: expected an item at byte {pos}, found "
                           f"{describe(tag)}", pos)
            item_implicit = seq.implicit
            if not item_implicit and length and pos + 16 <= limit:
                # an item may be in implicit VR (pydicom reads it so)
                if (head(data, pos + 8)[:2] != (0xFFFE, 0xE00D)
                        and _looks_implicit(data, pos + 8, limit)):
                    item_implicit = True
                    switched = True
            if length == UNDEFINED:
                frame = _Set(None, limit, seq.what, item_implicit, seq, pos)
            else:
                if pos + 8 + length > limit:
                    raise fail(f"item {len(seq.items) + 1} of {describe(seq.tag)} at byte {pos} "
                               f"declares {length} bytes, {_text(seq.what)} ends at byte {limit}",
                               pos, limit)
                frame = _Set(pos + 8 + length, pos + 8 + length, ("item", seq.tag, len(seq.items) + 1),
                             item_implicit, seq, pos)
            pos += 8


def _close(seq: _Seq, pos: int, implicit_vr) -> _Set:
    """Hand a finished sequence to its data set; that data set goes on."""
    seq.parent.out.append((seq.tag, seq.vr, seq.start, seq.value, pos - seq.value, seq.items))
    return seq.parent


def _item_name(ds: _Set) -> str:
    seq = ds.seq
    return f"item {len(seq.items) + 1} of {describe(seq.tag)} starting at byte {ds.start}"


def _implicit_sequence(data, head, tag: int, value: int, limit: int) -> bool:
    """An implicit VR element of undefined length is a sequence when the
    dictionary says so, or, unknown to it, when an item follows (as pydicom)."""
    vr = _dictionary_vr(tag)
    if vr is not None:
        return vr == "SQ"
    return value + 8 <= limit and head(data, value)[:2] == (0xFFFE, 0xE000)
