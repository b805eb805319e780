"""One pass of the pydicom path over a dataset and its sequences: each
element's :class:`~app.deid.rules.Rule` carried out in place. *d* is the
export's :class:`~app.deid.engine.Deidentifier` (its UID map, report, and
whether safe private attributes are kept).
"""

from __future__ import annotations

from typing import Optional

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from app.deid import private, values
from app.deid.identifiers import Needles
from app.deid.rules import (BINARY, CLEAN, CLEANED_TEXT_VRS, DUMMY, EMPTY, ITEMS, KEEP, PATIENT,
                            REMOVE, SHIFT, UIDS, Rule)

PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})


class _Walk:
    """One pass over one dataset (and its sequences)."""

    def __init__(self, d: Deidentifier, needles: Needles, sop_class: str, days: int):
        self.d, self.needles, self.sop_class, self.days = d, needles, sop_class, days
        self.rules, self.report = d.rules, d.report

    def dataset(self, ds: Dataset, parent: Optional[int], dummy: bool) -> None:
        keep_private = private.safe_tags(ds) if self.d.safe_private else set()
        for tag in [int(t) for t in ds.keys()]:  # plain ints: BaseTag compares in Python
            group, element = tag >> 16, tag & 0xFFFF
            if tag in PIXEL_TAGS and parent is None:
                continue
            if group & 1:
                if tag in keep_private:
                    self.report.private_kept += not private.is_creator(tag)
                    vr = _vr(ds, tag)
                    if vr == "SQ":
                        self._items(ds, tag, dummy)
                    elif vr in CLEANED_TEXT_VRS or vr == "PN":
                        self._clean_text(ds, tag)
                else:
                    del ds[tag]
                    self.report.private_removed += 1
                continue
            if group in (0x0000, 0x0002) or element == 0x0000:
                del ds[tag]
                continue
            vr = _vr(ds, tag)
            rule = self.rules.decide(tag, vr, parent, dummy, self.sop_class)
            if rule.action:
                self.report.actions[rule.action] += 1
            if rule.graphics:
                self.report.graphics_kept.append(f"({group:04X},{element:04X})")
            self.carry_out(ds, tag, vr, rule)

    def carry_out(self, ds: Dataset, tag: int, vr: str, rule: Rule) -> None:
        """Do what *rule* says to the element *tag* of *ds*."""
        op = rule.op
        if op in (KEEP, PATIENT):
            return
        if op == REMOVE:
            del ds[tag]
        elif op == CLEAN:
            self._clean_text(ds, tag)
        elif op == EMPTY:
            ds[tag].value = Sequence() if vr == "SQ" else values.empty(vr)
        elif op == DUMMY:
            ds[tag].value = values.dummy(vr)
        elif op == ITEMS:
            self._items(ds, tag, rule.dummy)
        elif op == UIDS:
            self._uids(ds, tag)
        elif op == SHIFT:
            self._shift(ds, tag, vr)
        elif op == BINARY and self._binary_identifies(ds, tag):
            del ds[tag]
            self.report.text_cleaned += 1

    # -- value helpers -----------------------------------------------------------

    def _items(self, ds: Dataset, tag: int, dummy: bool) -> None:
        for item in ds[tag].value or ():
            self.dataset(item, tag, dummy)

    def _uids(self, ds: Dataset, tag: int) -> None:
        elem = ds[tag]
        if elem.value in (None, ""):
            return
        if isinstance(elem.value, str):
            new = self.d.uid(elem.value)
            changed = new != elem.value
            elem.value = new
        else:
            old = list(elem.value)
            new_values = [self.d.uid(v) for v in old]
            changed = new_values != old
            elem.value = new_values
        if changed:
            self.report.uids_replaced += 1

    def _shift(self, ds: Dataset, tag: int, vr: str) -> None:
        elem = ds[tag]
        new, bad = values.shift_value(vr, elem.value, self.days)
        elem.value = new
        self.report.dates_shifted += 1
        self.report.dates_unreadable += bad

    def _binary_identifies(self, ds: Dataset, tag: int) -> bool:
        value = ds.get_item(tag).value
        return bool(self.needles) and isinstance(value, (bytes, bytearray)) \
            and self.needles.in_binary(bytes(value))

    def _clean_text(self, ds: Dataset, tag: int) -> None:
        if not self.needles:
            return
        raw = ds.get_item(tag)
        if isinstance(raw, RawDataElement) and (raw.value is None
                                                or not self.needles.maybe_in(raw.value)):
            return
        elem = ds[tag]
        value = elem.value
        if value is None or value == "":
            return
        if isinstance(value, bytes):
            return
        if not isinstance(value, (list, tuple, MultiValue)):
            text = str(value)
            if self.needles.found_in(text):
                elem.value = self.needles.clean(text)
                self.report.text_cleaned += 1
            return
        texts = [str(v) for v in value]
        if any(self.needles.found_in(t) for t in texts):
            elem.value = [self.needles.clean(t) for t in texts]
            self.report.text_cleaned += 1


def _vr(ds: Dataset, tag: int) -> str:
    """The element's VR without decoding its value when the file states it;
    otherwise (implicit VR, UN) as pydicom resolves it from its dictionaries."""
    vr = getattr(ds.get_item(tag), "VR", None)
    if vr and vr != "UN":
        return vr
    return ds[tag].VR
