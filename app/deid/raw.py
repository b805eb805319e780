"""The Basic Profile applied to a file's bytes, for exports.

Most of a de-identified header is the input's bytes: of a CT header's
elements, nearly all are kept as they are, a few are removed, and a handful
(UIDs, dates, the patient) change. Building pydicom objects for every element
to read and write them again is where an export's time went
(docs/performance/anonymize.md), so an export's worker does this instead:

* walk the element stream of the file with the project's one strict reader
  (app/dicom/elements.py: explicit or implicit VR little endian, sequences and
  items of defined or undefined length) into offsets;
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
endian or deflated syntaxes, a data set not in its syntax's encoding, UN
elements in public groups, a character set inside a sequence item, Float Pixel
Data, very deep nesting, and Retain Safe Private (whose creators are read per
item). What the strict reader refuses (cut short, a length that does not fit,
an unclosed sequence, pixel data short of the image) raises :class:`Refused`:
such a file is de-identified by no path, never copied through. (A length
stretched exactly over the next element still reads strictly; the residual
scan finds the control bytes of the swallowed header, app/deid/pipeline.py.)
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

from app.deid import engine
from app.deid.engine import (BINARY, CLEAN, EMPTY, ITEMS, KEEP, PATIENT, PATIENT_NAME, REMOVE,
                             UIDS, Deidentifier, Rule)
from app.dicom import element_rules
from app.dicom import files as dicom_files
from app.dicom.element_rules import LONG_VRS, UNDEFINED
from app.dicom.meta import file_meta
from app.deid.identifiers import Needle, element_needles, identifying

PIXEL_DATA = 0x7FE00010
OTHER_PIXELS = frozenset({0x7FE00008, 0x7FE00009})
CHARACTER_SET = 0x00080005
# the tags of the output the caller reads (report, folder names, burned-in risk)
OUTPUT_TAGS = frozenset({0x00080016, 0x00080018, 0x00080060, 0x00100020, 0x00080020,
                         0x00200011, 0x00280301})
SOP_CLASS, SOP_INSTANCE = 0x00080016, 0x00080018

_tag_length = struct.Struct("<HHL")
_long = struct.Struct("<L")
MAX_DEPTH = 300  # sequences nested deeper take the pydicom path (the emission recurses)


class Unsupported(Exception):
    """This file takes the pydicom path."""


class Refused(ValueError):
    """The strict reader refuses this file (cut short, a length that does not
    fit): it is de-identified by no path."""


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
        parsed, implicit = _parse(data)
        syntax, elements = parsed.syntax, parsed.elements
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
        header = file_meta(output.get(SOP_CLASS, (None, None))[1],
                           output.get(SOP_INSTANCE, (None, None))[1], syntax)
        pixel_start = None if file.pixel_at is None else len(header) + file.pixel_at
        dataset = Dataset()
        for tag, (vr, value) in output.items():
            dataset[tag] = RawDataElement(Tag(tag), vr, len(value), value, 0, implicit, True)
        if CHARACTER_SET in top:
            dataset[CHARACTER_SET] = self._raw(data, top[CHARACTER_SET], implicit)
        self.report.instances += 1
        self.report.burned_in_risk(label, dataset, parsed.parsed.pixel_start is not None)
        return Output(b"".join([header, *pieces]), pixel_start, needles, dataset, elements)

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
