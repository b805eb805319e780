"""The identifying values of an input, and the search for them in an output.

:func:`collect` gathers, from a dataset before de-identification, the values
that identify someone: every Person Name anywhere, and the attributes listed
in ``resources/deid/identifiers.json`` (IDs, date of birth, phone numbers,
addresses, institution, accession...), wherever they are nested, unless the
profile retains that attribute. :class:`Needles` then

* cleans text (action C, and every text value the profile keeps), and
* scans the bytes of the written output (:meth:`Needles.scan`): values of
  6 characters or more over the whole file, case-insensitive; shorter ones
  as whole words in the part of the file before the pixel data.

Besides these, every original UID of the input is searched (:meth:`Needles.for_file`;
:mod:`app.deid.findings` gathers them, with the hidden values). They are
looked up as a set in every UID-shaped run of the output's bytes before the
pixel data, and, when a file has few of them, searched in its pixel data too.
Hidden values (text runs after a control byte inside a text or UID value:
a stretched length) are searched like identifying values (and cleaned out
where the profile cleans text).

Values never leave this module in a report: a hit names the attribute the
value came from and its kind, not the value.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Optional

import numpy as np
from pydicom.charset import encode_string
from pydicom.datadict import tag_for_keyword
from pydicom.multival import MultiValue

from app.resources import resource

LONG = 6           # values this long are searched in every byte of a file
DIGITS_MIN = 6     # an all-digit value shorter than this is too common to search
PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})
PIXEL_TAG_LE = b"\xe0\x7f\x10\x00"
PIXEL_TAG_BE = b"\x7f\xe0\x00\x10"
UID_RE = re.compile(rb"[0-9]+(?:\.[0-9]+){2,}")
UID_TEXT_RE = re.compile(r"[0-9]+(?:\.[0-9]+){2,}")
PIXEL_UIDS_MAX = 32  # more original UIDs than this (structure sets): searched before the pixel data only


@lru_cache(maxsize=None)
def _policy() -> tuple[dict[int, tuple[str, str]], int]:
    doc = json.loads(resource("deid", "identifiers.json").read_text(encoding="utf-8"))
    table = {tag_for_keyword(k): (k, kind) for k, kind in doc["attributes"].items()}
    return table, int(doc.get("min_length", 3))


@dataclass(frozen=True)
class Needle:
    text: str       # as found in the input
    kind: str       # "name", "patient id", ...
    attribute: str  # keyword it came from
    pixels: bool = True  # also searched in pixel data (not for the typed forms of a date)


def _name_parts(value: str) -> list[str]:
    """The whole name and its family, given and middle names (no prefix/suffix)."""
    out = [value.strip("^= ")]
    for group in value.split("="):
        components = group.split("^")
        out.append("^".join(c for c in components[:3] if c).strip())
        out.extend(c.strip() for c in components[:3])
    return out


def _date_variants(value: str) -> list[str]:
    """A date of birth as it may be typed into free text: 1970-01-31, 31.01.1970,
    31/01/1970, 01/31/1970."""
    if not (len(value) == 8 and value.isdigit()):
        return [value]
    y, m, d = value[:4], value[4:6], value[6:]
    return [value, f"{y}-{m}-{d}", f"{d}.{m}.{y}", f"{d}/{m}/{y}", f"{m}/{d}/{y}"]


def _searchable(text: str, minimum: int) -> bool:
    text = text.strip()
    if text.isdigit():
        return len(text) >= DIGITS_MIN
    return len(text) >= minimum and any(c.isalnum() for c in text)


class Needles:
    """A set of identifying values, ready to clean text and scan bytes."""

    def __init__(self, needles: Iterable[Needle] = (), encodings: Optional[list[str]] = None,
                 vocabulary: str = ""):
        _, minimum = _policy()
        vocabulary = vocabulary.lower()
        seen: dict[str, Needle] = {}
        self.unsearchable: list[Needle] = []
        expanded = []
        for n in needles:
            if n.kind == "date of birth":
                expanded.extend(Needle(v, n.kind, n.attribute, v == n.text)
                                for v in _date_variants(n.text))
            else:
                expanded.append(n)
        for n in expanded:
            text = " ".join(str(n.text).split())
            if not _searchable(text, minimum):
                continue
            if text.lower() in vocabulary:
                self.unsearchable.append(n)
                continue
            seen.setdefault(text.lower(), Needle(text, n.kind, n.attribute, n.pixels))
        self.items = sorted(seen.values(), key=lambda n: -len(n.text))
        self.encodings = encodings or ["iso8859"]
        self._text_re = _word_pattern([n.text for n in self.items]) if self.items else None
        self._owner: dict[bytes, Needle] = {}
        short: list[bytes] = []
        long: list[bytes] = []
        self._pixel: list[tuple[bytes, Needle]] = []
        longs = [n.text.lower() for n in self.items if len(n.text) >= LONG and n.pixels]
        for n in self.items:
            raw = self._encode(n.text).lower()
            self._owner.setdefault(raw, n)
            (long if len(n.text) >= LONG else short).append(raw)
            if len(n.text) < LONG or not n.pixels or any(
                    o != n.text.lower() and o in n.text.lower() for o in longs):
                continue  # a shorter value inside it is searched: a hit shows there too
            exact = self._encode(n.text)
            for variant in {exact, exact.upper()}:
                self._pixel.append((variant, n))
        parts = []
        if long:
            parts.append(b"|".join(re.escape(r) for r in long))
        if short:
            parts.append(rb"(?<![0-9a-z])(?:" + b"|".join(re.escape(r) for r in short)
                         + rb")(?![0-9a-z])")
        self._header_re = re.compile(b"|".join(parts)) if parts else None
        self._raw_re = (re.compile(b"|".join(re.escape(r) for r in long + short))
                        if long or short else None)
        self.uids: dict[str, str] = {}
        self._pixel_uids: list[tuple[bytes, Needle]] = []
        self._uid_prefix = b""

    def for_file(self, uids: dict[str, str], hidden: Iterable[Needle] = ()) -> "Needles":
        """These needles plus one file's original UIDs ({UID: attribute}) and
        hidden values (:mod:`app.deid.findings`). Shares the compiled patterns:
        cheap, one per file."""
        if hidden:
            base = Needles(list(self.items) + list(hidden), self.encodings)
            base.unsearchable = self.unsearchable + base.unsearchable
        else:
            base = self
        out = object.__new__(Needles)
        out.__dict__.update(base.__dict__)
        out.uids = dict(uids)
        out._pixel_uids = ([(u.encode("ascii"), Needle(u, "UID", a)) for u, a in uids.items()]
                           if len(uids) <= PIXEL_UIDS_MAX else [])
        out._uid_prefix = os.path.commonprefix([raw for raw, _ in out._pixel_uids]) \
            if out._pixel_uids else b""
        return out

    def _uids_in(self, data) -> list[tuple[int, str]]:
        """(offset, UID) of the original UIDs in *data* (bytes)."""
        if not self.uids:
            return []
        return [(m.start(), text) for m in UID_RE.finditer(data)
                if (text := m.group(0).decode("ascii")) in self.uids]

    def _encode(self, text: str) -> bytes:
        try:
            return encode_string(text, self.encodings)
        except Exception:  # noqa: BLE001 - a value the character set cannot hold
            return text.encode("utf-8", "ignore")

    def __len__(self) -> int:
        return len(self.items) + len(self.uids)

    def __bool__(self) -> bool:
        return bool(self.items) or bool(self.uids)

    def maybe_in(self, raw: bytes) -> bool:
        """False when no value can be in these undecoded bytes (a quick test
        that spares decoding most elements)."""
        return bool(self._raw_re and self._raw_re.search(raw.lower())) or bool(self._uids_in(raw))

    def in_binary(self, data: bytes) -> bool:
        """Whether a value of 6 characters or more, or an original UID, is in
        *data* (short ones would turn up in random bytes)."""
        return any(raw in data for raw, _ in self._pixel) or bool(self._uids_in(data))

    def found_in(self, text: str) -> bool:
        return bool(self._text_re and self._text_re.search(text)) or bool(
            self.uids and any(m.group(0) in self.uids for m in UID_TEXT_RE.finditer(text)))

    def clean(self, text: str) -> str:
        """*text* without any of the values (whole words, any case) and
        without the original UIDs."""
        if not text or not (self._text_re or self.uids):
            return text
        cleaned = self._text_re.sub("", text) if self._text_re else text
        if self.uids:
            cleaned = UID_TEXT_RE.sub(lambda m: "" if m.group(0) in self.uids else m.group(0),
                                      cleaned)
        return " ".join(cleaned.split()) if cleaned != text else text

    def scan(self, data: bytes, pixel_start: Optional[int] = None) -> list[dict]:
        """Hits of the values in *data* (a written file): where and what kind.

        Before the pixel data every value is searched in any case (short ones
        as whole words); the pixel data, which is the input's byte for byte,
        is searched for the values of 6 characters or more as the input wrote
        them and in capitals. *pixel_start*: where the pixel data element
        begins, when known."""
        hits: list[dict] = []
        if not self:
            return hits
        end = _header_end(data) if pixel_start is None else pixel_start
        if end < len(data):
            end = min(len(data), end + _pixel_header_size(data, end))
        if self._header_re is not None:
            for m in self._header_re.finditer(data[:end].lower()):
                needle = self._owner.get(m.group(0))
                if needle is not None:
                    hits.append(_hit(needle, m.start(), end))
        for m in UID_RE.finditer(data, 0, end):
            attribute = self.uids.get(m.group(0).decode("ascii"))
            if attribute is not None:
                hits.append(_hit(Needle("", "UID", attribute), m.start(), end))
        if end < len(data) and self._pixel:
            found = _first_occurrences(data, end, [raw for raw, _ in self._pixel])
            for (_, needle), at in zip(self._pixel, found):
                if at >= 0:
                    hits.append(_hit(needle, at, end))
        if end < len(data) and self._pixel_uids and data.find(self._uid_prefix, end) >= 0:
            for raw, needle in self._pixel_uids:  # only when their common start is there
                at = data.find(raw, end)
                if at >= 0:
                    hits.append(_hit(needle, at, end))
        return hits


CANDIDATES_MAX = 64  # more places starting like a value than this: bytes.find instead


def _first_occurrences(data: bytes, start: int, patterns: list[bytes]) -> list[int]:
    """``[data.find(p, start) for p in patterns]`` in fewer passes over a
    large *data* (pixel data): the places where each pattern's first two
    bytes occur are found with numpy, two bytes at a time at both alignments,
    and only those are compared in full. A pattern whose first two bytes are
    common in *data* falls back to ``bytes.find``."""
    region = memoryview(data)[start:]
    n = len(region)
    pairs = (np.frombuffer(region[:n - n % 2], "<u2"), np.frombuffer(region[1:n - (n - 1) % 2], "<u2"))
    candidates: dict[int, Optional[list[int]]] = {}
    out = []
    for pattern in patterns:
        if len(pattern) < 2:
            out.append(data.find(pattern, start))
            continue
        anchor = pattern[0] | pattern[1] << 8
        if anchor not in candidates:
            places: Optional[list[int]] = []
            for shift, values in enumerate(pairs):
                found = np.flatnonzero(values == anchor)
                if len(found) > CANDIDATES_MAX:
                    places = None
                    break
                places.extend(start + int(i) * 2 + shift for i in found)
            candidates[anchor] = sorted(places) if places is not None else None
        places = candidates[anchor]
        if places is None:
            out.append(data.find(pattern, start))
        else:
            out.append(next((at for at in places if data.startswith(pattern, at)), -1))
    return out


def _hit(needle: Needle, at: int, header_end: int) -> dict:
    where = "pixel data" if at >= header_end else "header"
    return {"attribute": needle.attribute, "kind": needle.kind, "offset": at, "where": where}


def _word_pattern(texts: list[str]) -> re.Pattern:
    alternatives = "|".join(re.escape(t) for t in texts)
    return re.compile(rf"(?<![0-9A-Za-z])(?:{alternatives})(?![0-9A-Za-z])", re.IGNORECASE)


def _pixel_header_size(data: bytes, at: int) -> int:
    """The pixel data element's own header at *at* (12 bytes explicit, 8
    implicit), with the first item header of encapsulated data: searched
    with the header, as bytes the file's writer chose."""
    if data[at:at + 4] not in (PIXEL_TAG_LE, PIXEL_TAG_BE):
        return 0
    if data[at + 4:at + 6] in (b"OB", b"OW"):
        size = 12
    else:
        size = 8
    if data[at + size - 4:at + size] == b"\xff\xff\xff\xff":
        size += 8
    return size


def _header_end(data: bytes) -> int:
    at = max(data.rfind(PIXEL_TAG_LE), data.rfind(PIXEL_TAG_BE))
    return at if at > 0 else len(data)


def collect(ds, retained: Iterable[int] = (), extra: Iterable[Needle] = ()) -> list[Needle]:
    """Identifying values of *ds* (any depth), except attributes in *retained*."""
    retained = set(retained)
    found: list[Needle] = list(extra)

    def walk(dataset) -> None:
        for tag in [int(t) for t in dataset.keys()]:  # plain ints: BaseTag compares in Python
            if tag in PIXEL_TAGS or (tag >> 16) & 1:
                continue
            if not identifying(tag, getattr(dataset.get_item(tag), "VR", None)):
                continue  # not identifying: leave it undecoded
            elem = dataset[tag]
            if elem.VR == "SQ":
                for item in elem.value or ():
                    walk(item)
                continue
            if tag in retained:
                continue
            found.extend(element_needles(tag, elem.VR, elem.keyword or str(tag), elem.value))

    walk(ds)
    return found


def identifying(tag: int, vr: Optional[str]) -> bool:
    """Whether an element may hold an identifying value (or, SQ, contain one)."""
    return vr in (None, "UN", "SQ", "PN") or tag in _policy()[0]


def element_needles(tag: int, vr: str, keyword: str, value) -> list[Needle]:
    """The identifying values of one element's (decoded) *value*."""
    if vr == "PN":
        return [Needle(part, "name", keyword)
                for text in _values(value) for part in _name_parts(text) if part]
    entry = _policy()[0].get(tag)
    if entry is None:
        return []
    keyword, kind = entry
    return [Needle(v, kind, keyword) for v in _values(value)]


def _values(value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple, MultiValue)):
        value = [value]
    out = []
    for v in value:
        text = v.decode("latin-1", "ignore") if isinstance(v, bytes) else str(v)
        if text.strip():
            out.append(text.strip())
    return out
