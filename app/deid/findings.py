"""The residual-scan findings of an input: its original UIDs and hidden values.

Besides its identifying values (:mod:`app.deid.identifiers`), every original
UID of the input is searched in its output: the value of every UI element at
any depth and in the File Meta Information (not the UIDs the standard
defines, not class, transfer syntax or other structural UIDs the profile
keeps), and any UID-shaped text found inside another element's value.
:func:`findings_of_dataset` (a pydicom dataset), :func:`findings_of_elements`
(a byte-level parse) and :func:`meta_findings` (the File Meta Information)
gather them, one element at a time through :func:`value_findings`.

A value the strict parse gives an element but that is not a value of its VR
(control bytes inside a text or UID value) is what a stretched length looks
like: the element swallowed its neighbours. The text runs after the first
control byte are gathered as hidden values, searched like identifying values
(:meth:`app.deid.identifiers.Needles.for_file`), so what the swallowed
elements held cannot leave unseen.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Optional

from pydicom.multival import MultiValue

from app.deid.identifiers import (PIXEL_TAGS, UID_RE, UID_TEXT_RE, Needle, _name_parts,
                                  _policy, _searchable)

STANDARD_UID_ROOT = "1.2.840.10008."
UID_MIN = 8        # a UID-shaped run shorter than this is a number, not a UID
STRING_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST",
                        "TM", "UC", "UI", "UR", "UT"})
# bytes no text value holds (ESC starts ISO 2022 escapes; TAB, LF, FF, CR are text in LT/ST/UT)
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")
_RUNS = re.compile(rb"[^\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]+")
STRUCTURAL_UID_WORDS = ("ClassUID", "Classes", "TransferSyntax")
STRUCTURAL_UID_KEYWORDS = frozenset({
    "CodingSchemeUID", "ContextGroupExtensionCreatorUID", "ContextUID", "MappingResourceUID",
    "CreatorVersionUID", "PrivateInformationCreatorUID", "RepositoryUniqueID", "HomeCommunityID",
    "RetrieveLocationUID", "SegmentationTemplateUID", "SelectorUIValue", "ImplementationClassUID",
    "TransferSyntaxUID", "MediaStorageSOPClassUID", "SourceApplicationEntityTitle",
})


def structural_uid(keyword: str) -> bool:
    """A UID the profile keeps (a class, transfer syntax, coding scheme...):
    it names no one, and the output holds it too."""
    return keyword in STRUCTURAL_UID_KEYWORDS or any(w in keyword for w in STRUCTURAL_UID_WORDS)


def _uid_like(text: str) -> bool:
    return len(text) >= UID_MIN and text.count(".") >= 2 and not text.startswith(STANDARD_UID_ROOT)


def value_findings(tag: int, vr: Optional[str], raw: bytes, keyword: str, uids: dict,
                   hidden: list) -> None:
    """What one element's undecoded value *raw* adds to a file's search: the
    original UIDs of a UI value (into *uids*, {UID: attribute}), and, for a
    value that is not one of its VR (control bytes inside text: a length
    stretched over the elements after it), the text runs past the first
    control byte (into *hidden*) and any UID-shaped run in it. UID-shaped
    runs inside binary values count as original UIDs too."""
    if vr == "SQ" or not raw:
        return
    if vr in STRING_VRS:
        body = raw.rstrip(b"\x00 ")
        control = _CONTROL.search(body)
        if control is None:
            if (vr == "UI" or _dictionary_vr(tag) == "UI") and not structural_uid(keyword):
                for m in UID_RE.finditer(body):
                    text = m.group(0).decode("ascii")
                    if _uid_like(text):
                        uids.setdefault(text, keyword)
            return
        _, minimum = _policy()
        for run in _RUNS.findall(body, control.start()):
            text = " ".join(run.decode("latin-1").split())
            if _searchable(text, minimum):
                hidden.append(Needle(text, "hidden value", keyword))
        body = body[control.start():]
    elif vr in ("UN", "OB", "OW", "OD", "OF", "OL", "OV", None):
        body = raw
        _embedded(body, keyword, uids, hidden)
    else:
        return  # numbers (US, SS, FL, FD, UL, SL, AT...): fixed-size binary
    for m in UID_RE.finditer(body):
        text = m.group(0).decode("ascii")
        if _uid_like(text):
            uids.setdefault(text, keyword)


@lru_cache(maxsize=8192)
def _dictionary_vr(tag: int) -> str:
    from pydicom.datadict import dictionary_VR

    try:
        return dictionary_VR(tag)
    except KeyError:
        return ""


_EXPLICIT = re.compile(rb"(?s)(?=(.{4})(AE|AS|CS|DA|DS|DT|IS|LO|LT|PN|SH|ST|TM|UC|UI|UR|UT)(.{2}))")
_IMPLICIT_PN = (0x00100010, 0x00080090, 0x00081050, 0x00081070, 0x00081060, 0x00101001)


@lru_cache(maxsize=1)
def _implicit_tags() -> dict[bytes, tuple[int, str]]:
    """The identifying tags as they start an implicit VR element (LE)."""
    import struct

    tags = {t: "PN" for t in _IMPLICIT_PN}
    tags.update({t: "" for t in _policy()[0]})
    return {struct.pack("<HH", t >> 16, t & 0xFFFF): (t, vr) for t, vr in tags.items()}


def _embedded(body: bytes, keyword: str, uids: dict, hidden: list) -> None:
    """Identifying elements written inside a binary value (a length stretched
    over them, or a value made to carry them): explicit VR element headers of
    names, UIDs and the attributes of identifiers.json, and implicit VR
    headers of those attributes and the common names, whose length fits."""
    import struct

    def take(tag: int, vr: str, start: int, length: int) -> None:
        if length <= 0 or start + length > len(body):
            return
        text = body[start:start + length].decode("latin-1").strip("\x00 ")
        if vr == "UI" or (not vr and _dictionary_vr(tag) == "UI"):
            for part in UID_TEXT_RE.findall(text):
                if _uid_like(part):
                    uids.setdefault(part, keyword)
        elif vr == "PN" or _dictionary_vr(tag) == "PN":
            hidden.extend(Needle(part, "hidden value", keyword)
                          for value in text.split("\\") for part in _name_parts(value) if part)
        elif tag in _policy()[0]:
            hidden.extend(Needle(v.strip(), "hidden value", keyword) for v in text.split("\\")
                          if v.strip())

    policy = _policy()[0]
    for m in _EXPLICIT.finditer(body):
        group, element = struct.unpack("<HH", m.group(1))
        tag, vr = group << 16 | element, m.group(2).decode("ascii")
        if vr in ("PN", "UI") or tag in policy:
            take(tag, vr, m.start() + 8, struct.unpack("<H", m.group(3))[0])
    for raw_tag, (tag, vr) in _implicit_tags().items():
        at = body.find(raw_tag)
        while at >= 0:
            if at + 8 <= len(body):
                take(tag, vr, at + 8, struct.unpack_from("<L", body, at + 4)[0])
            at = body.find(raw_tag, at + 1)


def findings_of_dataset(ds, uids: dict, hidden: list, skip_private: bool = False) -> None:
    """:func:`value_findings` over every element of a pydicom dataset, at any
    depth, and its File Meta Information; values are read undecoded where
    pydicom has not decoded them yet."""
    from pydicom.datadict import dictionary_keyword

    def keyword_of(tag: int) -> str:
        try:
            return dictionary_keyword(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
        except KeyError:
            return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"

    def walk(dataset) -> None:
        for tag in [int(t) for t in dataset.keys()]:
            if tag in PIXEL_TAGS:
                continue
            if skip_private and (tag >> 16) & 1:
                continue
            elem = dataset.get_item(tag)
            vr = getattr(elem, "VR", None)
            if vr in (None, "UN"):
                vr = dataset[tag].VR  # implicit VR: as pydicom resolves it
            if vr == "SQ":
                for item in dataset[tag].value or ():
                    walk(item)
                continue
            value = dataset.get_item(tag).value
            raw = bytes(value) if isinstance(value, (bytes, bytearray)) else _raw_bytes(value)
            value_findings(tag, vr, raw, keyword_of(tag), uids, hidden)

    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        walk(meta)
    walk(ds)


def _raw_bytes(value) -> bytes:
    """A decoded value back as bytes, near enough for the search (UIDs are ASCII)."""
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, (list, tuple, MultiValue)):
        return "\\".join(str(v) for v in value).encode("latin-1", "replace")
    return str(value).encode("latin-1", "replace")


@lru_cache(maxsize=8192)
def _keyword(tag: int) -> str:
    from pydicom.datadict import dictionary_keyword

    try:
        return dictionary_keyword(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    except KeyError:
        return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


_BINARY_VRS = frozenset({"UN", "OB", "OW", "OD", "OF", "OL", "OV"})


def findings_of_elements(data: bytes, elements: list, uids: dict, hidden: list,
                         skip_private: bool = False) -> None:
    """:func:`value_findings` over a byte-level parse: (tag, VR, start, value
    start, length, items) tuples as app/deid/raw.py gives them. Most values
    are passed over on a quick test (text without control bytes, numbers)."""
    control = _CONTROL.search
    for tag, vr, _, value, length, items in elements:
        if items is not None:
            for item in items:
                findings_of_elements(data, item, uids, hidden, skip_private)
            continue
        if not length or tag in PIXEL_TAGS or (skip_private and (tag >> 16) & 1):
            continue
        end = value + length
        if vr == "UI" or _dictionary_vr(tag) == "UI":
            pass
        elif vr in STRING_VRS:
            while end > value and data[end - 1] in (0, 32):
                end -= 1
            if control(data, value, end) is None:
                continue  # a well-formed text value: nothing hidden in it
        elif vr not in _BINARY_VRS:
            continue
        value_findings(tag, vr, data[value:value + length], _keyword(tag), uids, hidden)


def meta_findings(data: bytes, uids: dict, hidden: list) -> None:
    """:func:`value_findings` over the UIDs of a file's File Meta Information
    (read by the shared strict reader), as far as it reads."""
    from pydicom.datadict import keyword_for_tag

    from app.dicom import element_rules, files

    if data[128:132] != b"DICM":
        return
    try:
        meta, _, _ = files.read_meta(data, 132)
    except (element_rules.Malformed, element_rules.NotCovered):
        return  # the strict reader refuses the file elsewhere
    for tag, vr, _, value, length, _ in meta:
        if vr == "UI":  # not the version (OB), AE titles, the implementation's name
            keyword = keyword_for_tag(tag) or element_rules.describe(tag)
            value_findings(tag, vr, data[value:value + length], keyword, uids, hidden)
