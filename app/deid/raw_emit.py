"""The byte-level path's emission of one file (:class:`_File`): the kept
elements' bytes copied, removed ones left out, UIDs mapped, sequences walked,
and the few other changed values handed to the pydicom walk's own code
(remembered per value with the report counts they changed).
"""

from __future__ import annotations

import struct
from typing import Optional

from pydicom.dataelem import RawDataElement

from app.deid.raw_parse import PIXEL_DATA, _implicit_vr
from app.deid.rules import BINARY, CLEAN, EMPTY, ITEMS, KEEP, PATIENT, REMOVE, SHIFT, UIDS, Rule
from app.dicom.element_rules import LONG_VRS, UNDEFINED

# the tags of the output the caller reads (report, folder names, burned-in risk)
OUTPUT_TAGS = frozenset({0x00080016, 0x00080018, 0x00080060, 0x00100020, 0x00080020,
                         0x00200011, 0x00280301})

_tag_length = struct.Struct("<HHL")


def _header(tag: int, vr: str, length: int, implicit: bool) -> bytes:
    if implicit:
        return _tag_length.pack(tag >> 16, tag & 0xFFFF, length)
    if vr in LONG_VRS:
        return struct.pack("<HH2s2xL", tag >> 16, tag & 0xFFFF, vr.encode("ascii"), length)
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode("ascii"), length)


ITEM_START = _tag_length.pack(0xFFFE, 0xE000, UNDEFINED)
ITEM_CLOSE = _tag_length.pack(0xFFFE, 0xE00D, 0)
SEQUENCE_CLOSE = _tag_length.pack(0xFFFE, 0xE0DD, 0)


# the report counts a value operation may change, replayed when it is remembered
_COUNTS = ("text_cleaned", "dates_shifted", "dates_unreadable", "uids_replaced")


class _File:
    """The emission of one file: elements in, byte pieces out."""

    def __init__(self, raw: "RawDeidentifier", data: bytes, implicit: bool, context,
                 walk: "_Walk"):
        self.raw, self.data, self.implicit, self.context, self.walk = raw, data, implicit, context, walk
        self.view = memoryview(data)
        self.rules, self.report, self.d = raw.rules, raw.report, raw.d
        self.sop_class = walk.sop_class
        self.pixel_at: Optional[int] = None

    def top(self, elements: list, additions: list, pieces: list, output: dict) -> None:
        """The top level, with the additions merged in tag order, and the
        pixel data element as it is (where it starts: :attr:`pixel_at`)."""
        pending = list(additions)
        for element in elements:
            tag = element[0]
            if tag == PIXEL_DATA:
                self.pixel_at = sum(len(p) for p in pieces)
                pieces.append(self.view[element[2]:element[3] + element[4]])
                continue
            while pending and pending[0][0] < tag:
                self._add(pending.pop(0), pieces, output)
            if pending and pending[0][0] == tag:
                self.element(element, None, False, [])  # counted, then replaced
                self._add(pending.pop(0), pieces, output)
                continue
            before = len(pieces)
            self.element(element, None, False, pieces)
            if tag in OUTPUT_TAGS and len(pieces) == before + 1:
                output[tag] = (element[1], self._value_of(pieces[-1], element[1]))
        for addition in pending:
            self._add(addition, pieces, output)

    def _add(self, addition: tuple[int, bytes], pieces: list, output: dict) -> None:
        tag, encoded = addition
        pieces.append(encoded)
        if tag in OUTPUT_TAGS:
            vr = _implicit_vr(tag)
            output[tag] = (vr, self._value_of(encoded, vr))

    def _value_of(self, piece, vr: str) -> bytes:
        skip = 8 if self.implicit or vr not in LONG_VRS else 12
        return bytes(piece[skip:])

    def level(self, elements: list, parent: int, dummy: bool, pieces: list) -> None:
        for element in elements:
            self.element(element, parent, dummy, pieces)

    def element(self, element: tuple, parent: Optional[int], dummy: bool, pieces: list) -> None:
        tag, vr, start, value, length, items = element
        group, number = tag >> 16, tag & 0xFFFF
        if group & 1:
            self.report.private_removed += 1
            return
        if group in (0x0000, 0x0002) or number == 0x0000:
            return
        rule = self.rules.decide(tag, vr, parent, dummy, self.sop_class)
        if rule.action:
            self.report.actions[rule.action] += 1
        if rule.graphics:
            self.report.graphics_kept.append(f"({group:04X},{number:04X})")
        op = rule.op
        if op == REMOVE:
            return
        if items is not None:
            if op == ITEMS:
                pieces.append(_header(tag, "SQ", UNDEFINED, self.implicit))
                for item in items:
                    pieces.append(ITEM_START)
                    self.level(item, tag, rule.dummy, pieces)
                    pieces.append(ITEM_CLOSE)
                pieces.append(SEQUENCE_CLOSE)
            elif op == EMPTY:
                pieces.append(_header(tag, "SQ", 0, self.implicit))
            else:  # by the rules a sequence is walked, emptied or removed
                raise AssertionError(f"rule {op} for a sequence")
            return
        if op in (KEEP, PATIENT):
            pieces.append(self.view[start:value + length])
        elif op == EMPTY:
            pieces.append(_header(tag, vr, 0, self.implicit))
        elif op == UIDS:
            pieces.append(self._uids(tag, vr, start, value, length))
        elif op == BINARY:
            needles = self.walk.needles
            if needles and needles.in_binary(self.data[value:value + length]):
                self.report.text_cleaned += 1
            else:
                pieces.append(self.view[start:value + length])
        elif op == CLEAN and not (self.walk.needles and self.walk.needles.maybe_in(
                self.data[value:value + length])):
            pieces.append(self.view[start:value + length])
        else:  # DUMMY, SHIFT, CLEAN with a value found: the walk's own code
            changed = self._changed(tag, vr, self.data[value:value + length], rule)
            if changed is None:
                pieces.append(self.view[start:value + length])
            elif changed:
                pieces.append(changed)

    def _uids(self, tag: int, vr: str, start: int, value: int, length: int):
        """As walk._Walk._uids, on the bytes (a UI value is ASCII)."""
        text = self.data[value:value + length].decode("latin-1").rstrip("\x00 ")
        if not text:
            return self.view[start:value + length]
        old = [part.strip() for part in text.split("\\")]
        new = [self.d.uid(part) for part in old]
        if new == old:
            return self.view[start:value + length]
        self.report.uids_replaced += 1
        encoded = "\\".join(new).encode("ascii")
        if len(encoded) % 2:
            encoded += b"\x00"
        return _header(tag, vr, len(encoded), self.implicit) + encoded

    def _changed(self, tag: int, vr: str, raw: bytes, rule: Rule):
        """The element's new bytes, b"" when removed, None when unchanged."""
        op = rule.op
        key = (op, tag, vr, raw, self.context, self.walk.days if op == SHIFT else 0,
               self.walk.needles if op == CLEAN else None)
        memo = self.raw._values
        known = memo.get(key)
        if known is None:
            before = [getattr(self.report, name) for name in _COUNTS]
            ds = self.raw.one(tag, vr, raw, self.context)
            self.walk.carry_out(ds, tag, vr, rule)
            if tag not in ds:
                result = b""
            elif isinstance(ds.get_item(tag), RawDataElement):
                result = None
            else:
                result = self.raw.encoded(ds, tag, self.context)
            counts = tuple(getattr(self.report, name) - b for name, b in zip(_COUNTS, before))
            if len(memo) > self.raw.MEMO_MAX:
                memo.clear()
            memo[key] = known = (result, counts)
            return result
        result, counts = known
        for name, delta in zip(_COUNTS, counts):
            if delta:
                setattr(self.report, name, getattr(self.report, name) + delta)
        return result
