"""How cache values read in the window: names, dates, counts.

Plain functions over DICOM text values, no Qt, so they are trivial to test.
"""

from __future__ import annotations


def person_name(value: str | None) -> str:
    """A DICOM PN ``Family^Given^Middle^Prefix^Suffix`` as ``FAMILY, Given Middle``.

    Only the first (alphabetic) component group is shown. A given name that
    arrives all upper- or all lower-case is title-cased for reading; mixed case
    is kept as the sender wrote it. A name without ``^`` is shown as it is.
    """
    if not value:
        return ""
    alphabetic = str(value).split("=")[0]
    if "^" not in alphabetic:
        return alphabetic.strip()
    parts = [p.strip() for p in alphabetic.split("^")] + [""] * 5
    family, given, middle, prefix, suffix = parts[:5]
    first = " ".join(_readable(p) for p in (prefix, given, middle) if p)
    text = family.upper()
    if first:
        text = f"{text}, {first}" if text else first
    if suffix:
        text = f"{text}, {suffix}"
    return text


def _readable(part: str) -> str:
    if part.isupper() or part.islower():
        return part.title()
    return part


def dicom_date(value: str | None) -> str:
    """``YYYYMMDD`` as ``YYYY-MM-DD``; anything else unchanged."""
    text = (value or "").strip()
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text


def dicom_time(value: str | None) -> str:
    """``HHMMSS.ffffff`` (or shorter) as ``HH:MM``; anything else unchanged."""
    text = (value or "").strip()
    digits = text.split(".")[0]
    if len(digits) >= 4 and digits[:4].isdigit():
        return f"{digits[:2]}:{digits[2:4]}"
    return text


def modalities(values) -> str:
    if isinstance(values, str):
        values = [v for v in values.split("\\") if v]
    return ", ".join(values or [])


def count(value) -> str:
    return "" if value is None else f"{int(value):,}"
