"""The few header values the display reads for every image, taken from the
file's bytes instead of through pydicom's element conversion.

Scrolling decodes a file per image, and converting a raw element (values,
validation, hooks) costs pydicom tens of microseconds under the interpreter
lock, which the viewer's decode threads share with the GUI thread: read one
at a time, the dozen elements behind the display and the corner text cost
more than the pixels. :class:`QuickHeader` answers ``get``, ``in`` and
attribute reads the way the :class:`~pydicom.dataset.Dataset` it stands
beside does: a keyword of :data:`FIELDS` whose bytes are plain (the VR
expected, ASCII text, finite numbers, one binary value of its size) from
the bytes, decoded once; an element absent from the file as absent,
without asking the data set; anything else (sequences, odd values, other
keywords) from the data set itself, so no answer is ever one pydicom would
not give (tests/dicom/test_quick_header.py compares them, mutated values
included).
"""

from __future__ import annotations

import math
import threading
from typing import Any, Callable, Optional

from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset

# keyword: VR, for the elements read for every displayed image
FIELDS = {
    "PhotometricInterpretation": "CS", "Modality": "CS", "VOILUTFunction": "CS",
    "SOPClassUID": "UI", "SOPInstanceUID": "UI", "FrameOfReferenceUID": "UI",
    "NumberOfFrames": "IS", "PixelAspectRatio": "IS",
    "Rows": "US", "Columns": "US", "SamplesPerPixel": "US", "BitsAllocated": "US",
    "BitsStored": "US", "PixelRepresentation": "US",
    "RescaleSlope": "DS", "RescaleIntercept": "DS", "WindowCenter": "DS", "WindowWidth": "DS",
    "PixelSpacing": "DS", "ImagerPixelSpacing": "DS", "ImageOrientationPatient": "DS",
    "ImagePositionPatient": "DS", "SliceThickness": "DS", "SliceLocation": "DS",
    "SpacingBetweenSlices": "DS",
}  # the display, the corner text and the RT overlay's image plane (app.viewer.image_plane)
_TAGS = {tag_for_keyword(keyword): (keyword, vr) for keyword, vr in FIELDS.items()}
_MISSING = object()
_tag_of: dict[str, Optional[int]] = {}


class QuickHeader:
    """A read-only view of a data set (see the module): ``get``, ``in``,
    attributes. The data set itself (``ds``) is made when first asked for:
    a plain image is displayed without it."""

    __slots__ = ("_make", "_ds", "_values", "_present", "_lock")

    def __init__(self, make: Callable[[], Dataset], values: dict[str, Any], present: frozenset):
        self._make = make
        self._ds: Optional[Dataset] = None
        self._values = values  # keyword -> value, as pydicom would give it
        self._present = present  # the data set's top-level tags
        self._lock = threading.Lock()

    @property
    def ds(self) -> Dataset:
        """The data set (one object, however many threads ask)."""
        if self._ds is None:
            with self._lock:
                if self._ds is None:
                    self._ds = self._make()
                    self._make = None
        return self._ds

    def get(self, keyword: str, default: Any = None) -> Any:
        value = self._values.get(keyword, _MISSING)
        if value is not _MISSING:
            return value
        tag = _tag(keyword)
        if tag is not None and tag not in self._present:
            return default
        return self.ds.get(keyword, default)

    def __contains__(self, keyword) -> bool:
        if isinstance(keyword, str):
            if keyword in self._values:
                return True
            tag = _tag(keyword)
            if tag is not None:
                return tag in self._present
        return keyword in self.ds

    def __getattr__(self, name: str) -> Any:
        value = self._values.get(name, _MISSING)
        return value if value is not _MISSING else getattr(self.ds, name)


def _tag(keyword: str) -> Optional[int]:
    try:
        return _tag_of[keyword]
    except KeyError:
        tag = _tag_of[keyword] = tag_for_keyword(keyword)
        return tag


def dataset_of(header) -> Dataset:
    """The data set of a header: a Dataset is its own, a quick view makes its."""
    return header.ds if isinstance(header, QuickHeader) else header


def quick_header(make: Callable[[], Dataset], data, elements: list) -> QuickHeader:
    """The view of the data set `make()` makes from `elements`, the strict
    reader's top-level (tag, vr, start, value, length, items) over `data`."""
    values: dict[str, Any] = {}
    present = []
    for tag, vr, _start, at, length, items in elements:
        present.append(tag)
        field = _TAGS.get(tag)
        if field is None or items is not None or length == 0:
            continue
        keyword, expected = field
        if vr is not None and vr != expected:
            continue  # another VR: pydicom's conversion decides
        value = _decode(bytes(data[at:at + length]), expected)
        if value is not None:
            values[keyword] = value
    return QuickHeader(make, values, frozenset(present))


def _decode(raw: bytes, vr: str) -> Any:
    """The value pydicom gives for these bytes, or None for any value that
    is not plain (then the data set answers): one pad character at the end
    (PS3.5 6.2) is dropped, as pydicom drops it; any other NUL, a character
    outside ASCII, an empty or malformed number, more than one value of a
    CS or UI, answers None."""
    if vr == "US":
        return int.from_bytes(raw, "little") if len(raw) == 2 else None
    if not raw.isascii():
        return None
    text = raw.decode("ascii")
    if text[-1:] in (" ", "\x00"):
        text = text[:-1]
    if not text or "\x00" in text or not text.isprintable():
        return None
    if vr in ("CS", "UI"):
        plain = "\\" not in text and text == text.strip()
        return text if plain else None
    parts = text.split("\\")
    try:
        if vr == "IS":
            numbers = [int(p) for p in parts if len(p) <= 12 and p.strip().lstrip("+-").isdigit()]
        else:
            numbers = [float(p) for p in parts if _ds_text(p)]
    except ValueError:
        return None
    if len(numbers) != len(parts) or not all(math.isfinite(n) for n in numbers):
        return None
    return numbers[0] if len(numbers) == 1 else tuple(numbers)


_DS_CHARS = frozenset("0123456789+-.eE ")


def _ds_text(part: str) -> bool:
    """A Decimal String value as PS3.5 6.2 allows: digits, sign, point,
    exponent, leading or trailing spaces, at most 16 characters."""
    return 0 < len(part) <= 16 and part.strip() != "" and set(part) <= _DS_CHARS \
        and " " not in part.strip()
