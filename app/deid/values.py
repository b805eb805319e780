"""Replacement values: dummies by VR, shifted dates, cleaned text."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Optional

DUMMY_TEXT = "ANONYMIZED"
DUMMY_PERSON = "ANONYMIZED"
DUMMY_DATE = "19000101"
DUMMY_TIME = "000000"
DUMMY_DATETIME = "19000101000000"

# maximum value lengths (PS3.5 Table 6.2-1) for the text VRs a dummy may go into
_MAX = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "PN": 64, "ST": 1024, "LT": 10240,
        "UT": None, "UC": None, "UR": None}
TEXT_VRS = frozenset({"AE", "CS", "SH", "LO", "ST", "LT", "UT", "UC", "UR", "PN", "AS"})
DATE_VRS = frozenset({"DA", "DT", "TM"})


def dummy(vr: str):
    """A non-zero-length value of *vr* that carries nothing (action D)."""
    if vr == "PN":
        return DUMMY_PERSON
    if vr in _MAX:
        limit = _MAX[vr]
        return DUMMY_TEXT if limit is None else DUMMY_TEXT[:limit]
    if vr == "DA":
        return DUMMY_DATE
    if vr == "TM":
        return DUMMY_TIME
    if vr == "DT":
        return DUMMY_DATETIME
    if vr == "AS":
        return "000D"
    if vr in ("IS", "DS"):
        return "0"
    if vr in ("US", "SS", "UL", "SL", "UV", "SV", "FL", "FD", "AT"):
        return 0
    if vr in ("OB", "OW", "OD", "OF", "OL", "OV", "UN"):
        return b"\x00\x00"
    return DUMMY_TEXT


def empty(vr: str):
    """The zero-length value of *vr* (action Z)."""
    if vr == "SQ":
        return []
    if vr in ("OB", "OW", "OD", "OF", "OL", "OV", "UN"):
        return b""
    if vr in TEXT_VRS or vr in DATE_VRS or vr in ("IS", "DS", "UI"):
        return ""
    return None


_DATE = re.compile(r"^(\d{4})(\d{2})?(\d{2})?$")


def shift_date(text: str, days: int) -> Optional[str]:
    """Shift a DA value (YYYYMMDD, or the shorter YYYYMM / YYYY) by *days*,
    keeping its precision; None when it is not a date."""
    text = text.strip()
    m = _DATE.match(text)
    if not m:
        return None
    year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    try:
        shifted = date(year, month, day) + timedelta(days=days)
    except (ValueError, OverflowError):
        return None
    if shifted.year < 1:
        return None
    full = f"{shifted.year:04d}{shifted.month:02d}{shifted.day:02d}"
    return full[:len(text)]


def shift_datetime(text: str, days: int) -> Optional[str]:
    """Shift the date part of a DT value; the time and offset stay."""
    text = text.strip()
    digits = len(text) - len(text.lstrip("0123456789"))
    head = text[:min(8, digits)]
    if len(head) not in (4, 6, 8):
        return None
    shifted = shift_date(head, days)
    return None if shifted is None else shifted + text[len(head):]


def shift_value(vr: str, value, days: int):
    """Shift every value of a DA or DT element; TM (time of day) stays.
    Returns (new value, number of values that could not be read)."""
    if vr == "TM" or value in (None, ""):
        return value, 0
    many = not isinstance(value, str)
    values = list(value) if many else [value]
    out, bad = [], 0
    for v in values:
        shifted = (shift_date if vr == "DA" else shift_datetime)(str(v), days)
        if shifted is None:
            bad += 1
            continue
        out.append(shifted)
    if many:
        return out, bad
    return (out[0] if out else ""), bad
