"""The Basic Profile applied to a file's bytes, for exports.

Most of a de-identified header is the input's bytes: of a CT header's
elements, nearly all are kept as they are, a few are removed, and a handful
(UIDs, dates, the patient) change. Building pydicom objects for every element
to read and write them again is where an export's time went
(docs/performance/anonymize.md), so an export's worker does this instead:

* parse the element stream of the file (explicit or implicit VR little
  endian, sequences and items of defined or undefined length) into offsets;
* ask the export's :class:`~app.deid.engine.Rules` what each element becomes:
  the very decisions the pydicom walk takes;
* copy the kept elements' bytes, leave out the removed ones, map UIDs here,
  and hand the few other changed values (dates, dummies, cleaned text) to the
  pydicom walk's own code on a one-element dataset, remembering the result
  per value (the files of a series share most of them);
* write new File Meta Information and the required attributes, and copy
  the pixel data element unchanged.

What this path does not cover raises :class:`Unsupported` before anything is
counted, and the caller takes the pydicom path: no File Meta Information, big
endian or deflated syntaxes, UN elements in public groups, a character set
inside a sequence item, Float Pixel Data, truncated files, and Retain Safe Private (whose creators are read per item).
A test compares both paths over pydicom's test files and the project's own
corpus (tests/deid/test_raw.py).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from pydicom.charset import convert_encodings
from pydicom.datadict import dictionary_keyword, dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.tag import Tag
from pydicom.uid import UID

from app import __version__
from app.deid import engine
from app.deid.engine import (BINARY, CLEAN, EMPTY, IMPLEMENTATION_CLASS_UID, ITEMS, KEEP,
                             PATIENT, PATIENT_NAME, REMOVE, UIDS, Deidentifier, Rule)
from app.deid.identifiers import Needle, element_needles, identifying

UNDEFINED = 0xFFFFFFFF
ITEM, ITEM_END, SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
PIXEL_DATA = 0x7FE00010
OTHER_PIXELS = frozenset({0x7FE00008, 0x7FE00009})
CHARACTER_SET = 0x00080005
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT"})
# the tags of the output the caller reads (report, folder names, burned-in risk)
OUTPUT_TAGS = frozenset({0x00080016, 0x00080018, 0x00080060, 0x00100020, 0x00080020,
                         0x00200011, 0x00280301})
SOP_CLASS, SOP_INSTANCE = 0x00080016, 0x00080018

_tag_length = struct.Struct("<HHL")
_tag_vr = struct.Struct("<HH2s")
_short = struct.Struct("<H")
_long = struct.Struct("<L")


class Unsupported(Exception):
    """This file takes the pydicom path."""


@dataclass
class Output:
    data: bytes                   # the whole de-identified file
    pixel_start: Optional[int]    # where its pixel data element begins
    needles: object               # the identifying values searched for
    dataset: Dataset              # the output's top-level elements in OUTPUT_TAGS
    elements: Optional[list] = None  # the input's parse (for the residual scan's needles)


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


def _header(tag: int, vr: str, length: int, implicit: bool) -> bytes:
    if implicit:
        return _tag_length.pack(tag >> 16, tag & 0xFFFF, length)
    if vr in LONG_VRS:
        return struct.pack("<HH2s2xL", tag >> 16, tag & 0xFFFF, vr.encode("ascii"), length)
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode("ascii"), length)


ITEM_START = _tag_length.pack(0xFFFE, 0xE000, UNDEFINED)
ITEM_CLOSE = _tag_length.pack(0xFFFE, 0xE00D, 0)
SEQUENCE_CLOSE = _tag_length.pack(0xFFFE, 0xE0DD, 0)


class _Parser:
    """A data set's element stream as (tag, VR, start, value start, length,
    items) tuples; items: a list of such lists for a sequence, else None."""

    def __init__(self, data: bytes, implicit: bool):
        self.data, self.implicit = data, implicit
        self.pixel_start: Optional[int] = None

    def elements(self, pos: int, end: int, top: bool, delimited: bool = False) -> tuple[list, int]:
        data, implicit, out = self.data, self.implicit, []
        while pos < end:
            tag, length = self._tag_at(pos, end)
            group, element = tag >> 16, tag & 0xFFFF
            if tag == ITEM_END:
                if not delimited:
                    raise Unsupported("item delimiter out of place")
                return out, pos + 8
            if group == 0xFFFE:
                raise Unsupported("item out of place")
            if implicit:
                vr, value = _implicit_vr(tag), pos + 8
                if length == UNDEFINED and tag != PIXEL_DATA:
                    vr = "SQ"
            else:
                vr = data[pos + 4:pos + 6].decode("latin-1")
                if not vr.isalpha() or not vr.isupper():
                    raise Unsupported("not a VR")
                if vr in LONG_VRS:
                    (length,), value = _long.unpack_from(data, pos + 8), pos + 12
                else:
                    (length,), value = _short.unpack_from(data, pos + 6), pos + 8
                if vr == "UN" and not group & 1:
                    raise Unsupported("UN element in a public group")
            if tag == PIXEL_DATA and top:
                after = self._pixel_end(value, length)
                if after is None or after > end:
                    raise Unsupported("pixel data runs past the end")
                self.pixel_start = pos
                out.append((tag, vr, pos, value, after - value, None))
                pos = after
                continue
            if tag in OTHER_PIXELS or (tag == CHARACTER_SET and not top):
                raise Unsupported(f"element ({group:04X},{element:04X})")
            if vr == "SQ":
                items, after = self.items(value, length)
                out.append((tag, vr, pos, value, after - value, items))
                pos = after
                continue
            if length == UNDEFINED or value + length > end:
                raise Unsupported("undefined or overlong length")
            out.append((tag, vr, pos, value, length, None))
            pos = value + length
        if delimited:
            raise Unsupported("item without its delimiter")
        return out, pos

    def _tag_at(self, pos: int, end: int) -> tuple[int, int]:
        """The tag at *pos* and the four bytes after it read as a length."""
        if pos + 8 > end:
            raise Unsupported("truncated element")
        group, element, length = _tag_length.unpack_from(self.data, pos)
        return group << 16 | element, length

    def items(self, pos: int, length: int) -> tuple[list, int]:
        data, out = self.data, []
        end = len(data) if length == UNDEFINED else pos + length
        if end > len(data):
            raise Unsupported("sequence runs past the end")
        while pos < end:
            tag, item_length = self._tag_at(pos, end)
            if tag == SEQUENCE_END:
                return out, pos + 8
            if tag != ITEM:
                raise Unsupported("sequence without items")
            if item_length == UNDEFINED:
                elements, pos = self.elements(pos + 8, len(data), False, delimited=True)
            else:
                elements, _ = self.elements(pos + 8, pos + 8 + item_length, False)
                pos += 8 + item_length
            out.append(elements)
        if length == UNDEFINED:
            raise Unsupported("sequence without its delimiter")
        return out, pos

    def _pixel_end(self, value: int, length: int) -> Optional[int]:
        if length != UNDEFINED:
            return value + length
        data = self.data
        while value + 8 <= len(data):  # encapsulated: items up to the sequence delimiter
            group, element, item_length = _tag_length.unpack_from(data, value)
            value += 8
            if (group << 16 | element) == SEQUENCE_END:
                return value
            if (group << 16 | element) != ITEM:
                return None
            value += item_length
        return None


def _meta(sop_class: Optional[bytes], sop_instance: Optional[bytes], syntax: str) -> bytes:
    """Preamble, prefix and new File Meta Information (PS3.10 7.1)."""
    body = [_header(0x00020001, "OB", 2, False) + b"\x00\x01"]
    for tag, value in ((0x00020002, sop_class), (0x00020003, sop_instance),
                       (0x00020010, syntax.encode("ascii")),
                       (0x00020012, IMPLEMENTATION_CLASS_UID.encode("ascii"))):
        if value is not None:
            value = value + b"\x00" if len(value) % 2 else value
            body.append(_header(tag, "UI", len(value), False) + value)
    name = f"STUDYDESK_{__version__}"[:16].encode("ascii")
    name = name + b" " if len(name) % 2 else name
    body.append(_header(0x00020013, "SH", len(name), False) + name)
    joined = b"".join(body)
    return (b"\x00" * 128 + b"DICM" + _header(0x00020000, "UL", 4, False)
            + _long.pack(len(joined)) + joined)


class RawDeidentifier:
    """The byte-level path of one export's :class:`Deidentifier` (same rules,
    UID map, pseudonyms, date offsets and report)."""

    MEMO_MAX = 20000

    def __init__(self, deid: Deidentifier):
        if deid.safe_private:
            raise Unsupported("Retain Safe Private reads private creators per item")
        self.d, self.rules, self.report = deid, deid.rules, deid.report
        self._values: dict = {}
        self._decoded: dict = {}
        self._additions: dict = {}
        self._retained = deid._retained

    # -- one file ------------------------------------------------------------------

    def run(self, data: bytes, extra: list[Needle], label: str) -> Output:
        if len(data) < 144 or data[128:132] != b"DICM":
            raise Unsupported("no File Meta Information")
        syntax, start = self._read_meta(data)
        implicit = _syntax(syntax)
        parser = _Parser(data, implicit)
        elements, _ = parser.elements(start, len(data), True)
        top = {e[0]: e for e in elements}
        if SOP_CLASS not in top:
            raise Unsupported("no SOP Class UID")  # the pydicom path says what is wrong
        charset = self._value(data, top.get(CHARACTER_SET))
        encodings = self._encodings(charset)
        context = (implicit, charset, tuple(encodings))
        found = list(extra)
        self._collect(data, elements, context, found)
        needles = self.d.needles_of(found, encodings)
        patient_id = self._text(data, top.get(0x00100020), context)
        patient = patient_id or "NAME:" + self._text(data, top.get(PATIENT_NAME), context)
        sop_class = self._text(data, top.get(SOP_CLASS), context)
        days = self.d.date_offset(patient) if self.rules.dates == "shifted" else 0
        file = _File(self, data, implicit, context, engine._Walk(self.d, needles, sop_class, days))
        pieces: list = []
        output: dict = {}
        additions = self._additions_for(patient, context)
        file.top(elements, additions, pieces, output)
        header = _meta(output.get(SOP_CLASS, (None, None))[1],
                       output.get(SOP_INSTANCE, (None, None))[1], syntax)
        pixel_start = None if file.pixel_at is None else len(header) + file.pixel_at
        dataset = Dataset()
        for tag, (vr, value) in output.items():
            dataset[tag] = RawDataElement(Tag(tag), vr, len(value), value, 0, implicit, True)
        if CHARACTER_SET in top:
            dataset[CHARACTER_SET] = self._raw(data, top[CHARACTER_SET], implicit)
        self.report.instances += 1
        self.report.burned_in_risk(label, dataset, parser.pixel_start is not None)
        return Output(b"".join([header, *pieces]), pixel_start, needles, dataset, elements)

    @staticmethod
    def _read_meta(data: bytes) -> tuple[str, int]:
        pos, syntax = 132, None
        while pos + 8 <= len(data):
            group, element, vr = _tag_vr.unpack_from(data, pos)
            if group != 0x0002:
                break
            if vr.decode("latin-1") in LONG_VRS:
                (length,), value = _long.unpack_from(data, pos + 8), pos + 12
            else:
                (length,), value = _short.unpack_from(data, pos + 6), pos + 8
            if element == 0x0010:
                syntax = data[value:value + length].decode("latin-1").rstrip("\x00 ").strip()
            pos = value + length
        if not syntax:
            raise Unsupported("no transfer syntax")
        return syntax, pos

    # -- values ----------------------------------------------------------------------

    @staticmethod
    def _value(data: bytes, element) -> Optional[bytes]:
        if element is None:
            return None
        return data[element[3]:element[3] + element[4]]

    @staticmethod
    def _raw(data: bytes, element, implicit: bool) -> RawDataElement:
        tag, vr, _, value, length, _ = element
        return RawDataElement(Tag(tag), vr, length, data[value:value + length], 0, implicit, True)

    def _encodings(self, charset: Optional[bytes]) -> list[str]:
        key = ("charset", charset)
        if key not in self._decoded:
            text = (charset or b"").decode("latin-1").strip("\x00 ")
            names = [v.strip() for v in text.split("\\")] if text else ["ISO_IR 6"]
            try:
                self._decoded[key] = convert_encodings(names if len(names) > 1 else names[0])
            except Exception:  # noqa: BLE001 - an unknown character set: Latin-1, as the walk does
                self._decoded[key] = ["iso8859"]
        return self._decoded[key]

    def decoded(self, tag: int, vr: str, raw: bytes, context) -> object:
        """The value of one element as pydicom decodes it (remembered)."""
        key = (tag, vr, raw, context)
        if key not in self._decoded:
            if len(self._decoded) > self.MEMO_MAX:
                self._decoded.clear()
            self._decoded[key] = self.one(tag, vr, raw, context)[tag].value
        return self._decoded[key]

    def _text(self, data: bytes, element, context) -> str:
        if element is None:
            return ""
        value = self.decoded(element[0], element[1], self._value(data, element), context)
        return str(value or "")

    @staticmethod
    def one(tag: int, vr: str, raw: bytes, context) -> Dataset:
        """A dataset holding one undecoded element (and the file's character set)."""
        implicit, charset, _ = context
        ds = Dataset()
        if charset is not None:
            ds[CHARACTER_SET] = RawDataElement(Tag(CHARACTER_SET), "CS", len(charset), charset,
                                               0, implicit, True)
        ds[tag] = RawDataElement(Tag(tag), vr, len(raw), raw, 0, implicit, True)
        return ds

    def encoded(self, ds: Dataset, tag: int, context) -> bytes:
        implicit, _, encodings = context
        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, implicit
        write_data_element(fp, ds[tag], list(encodings))
        return fp.getvalue()

    def _collect(self, data: bytes, elements: list, context, found: list) -> None:
        """The identifying values of the file, as identifiers.collect finds them."""
        for tag, vr, _, value, length, items in elements:
            if (tag >> 16) & 1 or not identifying(tag, vr):
                continue
            if items is not None:
                for item in items:
                    self._collect(data, item, context, found)
                continue
            if tag in self._retained:
                continue
            decoded = self.decoded(tag, vr, data[value:value + length], context)
            keyword = dictionary_keyword(tag) if engine.known_tag(tag) else ""
            found.extend(element_needles(tag, vr, keyword or str(tag), decoded))

    def _additions_for(self, patient: str, context) -> list[tuple[int, bytes]]:
        """The encoded additions for *patient*, in tag order."""
        if self.d.profile.action(PATIENT_NAME) != "K":
            self.report.pseudonyms.add(self.d.pseudonym(patient))
        key = (patient, context)
        cached = self._additions.get(key)
        if cached is None:
            if len(self._additions) > 256:
                self._additions.clear()
            ds = self.d.additions(patient)
            cached = self._additions[key] = [(int(tag), self.encoded(ds, int(tag), context))
                                             for tag in sorted(ds.keys())]
        return cached


# the report counts a value operation may change, replayed when it is remembered
_COUNTS = ("text_cleaned", "dates_shifted", "dates_unreadable", "uids_replaced")


class _File:
    """The emission of one file: elements in, byte pieces out."""

    def __init__(self, raw: RawDeidentifier, data: bytes, implicit: bool, context,
                 walk: "engine._Walk"):
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
        """As engine._Walk._uids, on the bytes (a UI value is ASCII)."""
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
        key = (op, tag, vr, raw, self.context, self.walk.days if op == engine.SHIFT else 0,
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
            if len(memo) > RawDeidentifier.MEMO_MAX:
                memo.clear()
            memo[key] = known = (result, counts)
            return result
        result, counts = known
        for name, delta in zip(_COUNTS, counts):
            if delta:
                setattr(self.report, name, getattr(self.report, name) + delta)
        return result
