"""The Basic Profile applied to a file's bytes, for exports.

Most of a de-identified header is the input's bytes: of a CT header's
elements, nearly all are kept as they are, a few are removed, and a handful
(UIDs, dates, the patient) change. Building pydicom objects for every element
to read and write them again is where an export's time went
(docs/performance/anonymize.md), so an export's worker does this instead:

* walk the element stream of the file with the project's one strict reader
  (app/dicom/elements.py: explicit or implicit VR little endian, sequences and
  items of defined or undefined length) into offsets;
* ask the export's :class:`~app.deid.rules.Rules` what each element becomes:
  the very decisions the pydicom walk takes;
* copy the kept elements' bytes, leave out the removed ones, map UIDs here,
  and hand the few other changed values (dates, dummies, cleaned text) to the
  pydicom walk's own code on a one-element dataset, remembering the result
  per value (the files of a series share most of them);
* write new File Meta Information and the required attributes, and copy
  the pixel data element unchanged.

What this path does not cover raises :class:`~app.deid.raw_parse.Unsupported`
before anything is counted, and the caller takes the pydicom path: no File
Meta Information, big endian or deflated syntaxes, a data set not in its
syntax's encoding, UN elements in public groups, a character set inside a
sequence item, Float Pixel Data, very deep nesting, and Retain Safe Private
(whose creators are read per item). What the strict reader refuses (cut short,
a length that does not fit, an unclosed sequence, pixel data short of the
image) raises :class:`~app.deid.raw_parse.Refused`: such a file is
de-identified by no path, never copied through. (A length stretched exactly
over the next element still reads strictly; the residual scan finds the
control bytes of the swallowed header, app/deid/pipeline.py.)
A test compares both paths over pydicom's test files and the project's own
corpus (tests/deid/test_raw.py).

Which files this path takes is decided in :mod:`app.deid.raw_parse`; the
emission of one file's bytes is :mod:`app.deid.raw_emit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from pydicom.charset import convert_encodings
from pydicom.datadict import dictionary_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.tag import Tag

from app.deid.engine import Deidentifier
from app.deid.identifiers import Needle, element_needles, identifying
from app.deid.raw_emit import _File
from app.deid.raw_parse import CHARACTER_SET, Unsupported, _parse
from app.deid.rules import PATIENT_NAME, known_tag
from app.deid.walk import _Walk
from app.dicom.meta import file_meta

SOP_CLASS, SOP_INSTANCE = 0x00080016, 0x00080018


@dataclass
class Output:
    data: bytes                   # the whole de-identified file
    pixel_start: Optional[int]    # where its pixel data element begins
    needles: object               # the identifying values searched for
    dataset: Dataset              # the output's top-level elements in raw_emit.OUTPUT_TAGS
    elements: Optional[list] = None  # the input's parse (for the residual scan's needles)


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
        file = _File(self, data, implicit, context, _Walk(self.d, needles, sop_class, days))
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
            keyword = dictionary_keyword(tag) if known_tag(tag) else ""
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
