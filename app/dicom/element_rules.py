"""The strict element reader's vocabulary: its errors, its VR tables, its limits.

:mod:`app.dicom.elements` (the walk), :mod:`app.dicom.image_rules` (what an
image data set must hold) and :mod:`app.dicom.files` (whole files) raise and
read these; they live apart from the walk so that the rules checked inside its
hot loop can raise the reader's own errors without an import cycle.
"""

from __future__ import annotations

from pydicom.datadict import keyword_for_tag

UNDEFINED = 0xFFFFFFFF
ITEM, ITEM_END, SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
PIXEL_DATA = 0x7FE00010
PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
CHARACTER_SET = 0x00080005
MAX_DEPTH = 500           # sequences inside sequences; a valid 200-deep file is read

VRS = frozenset({"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB",
                 "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM",
                 "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV"})
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})


class Malformed(ValueError):
    """The file breaks one of the rules; ``str(e)`` names the byte offset and
    the element. *truncated*: the file (or inflated data set) ends too early."""

    def __init__(self, message: str, offset: int, truncated: bool = False):
        super().__init__(message)
        self.offset = offset
        self.truncated = truncated


class NotCovered(Exception):
    """An encoding this reader does not walk; the caller decides (pydicom, or a refusal)."""


def describe(tag: int) -> str:
    """``(3006,0039) ROIContourSequence``; the keyword left out when unknown."""
    keyword = keyword_for_tag(tag) if tag >> 16 != 0xFFFE else {
        ITEM: "Item", ITEM_END: "ItemDelimitationItem", SEQUENCE_END: "SequenceDelimitationItem",
    }.get(tag, "")
    text = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    return f"{text} {keyword}" if keyword else text


def _text(what) -> str:
    """How a message names a container: a text, or (kind, tag[, number])."""
    if isinstance(what, str):
        return what
    if what[0] == "sequence":
        return f"its sequence {describe(what[1])}"
    return f"its item (item {what[2]} of {describe(what[1])})"
