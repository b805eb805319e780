"""Choosing between the parts of a combined action (X/Z, X/D, Z/D, X/Z/D,
X/Z/U*) by the attribute's Type in the IOD, as PS3.15 E.1.1 defines them:
Type 1 needs a value (D, or U for the UIDs inside a sequence), Type 2 needs
the attribute present (Z; D where the action offers no Z, as X/D does: removing
it would break the IOD), Type 3 may go (X).

The Types come from ``resources/deid/iod_types.json`` (derived from PS3.3 by
``resources/deid/make_tables.py``). Where the SOP Class is not known there,
the strictest Type the attribute has in any IOD is used, so the result stays
conformant; an attribute that the known IOD does not define is Type 3.
"""

from __future__ import annotations

import json
from functools import lru_cache

from app.resources import resource


@lru_cache(maxsize=None)
def _types() -> dict:
    return json.loads(resource("deid", "iod_types.json").read_text(encoding="utf-8"))


def _key(tag: int) -> str:
    return f"{tag:08x}"


def type_of(tag: int, sop_class: str, parent: int | None = None) -> str:
    """'1', '2' or '3' for *tag* in the IOD of *sop_class* (nested under *parent*)."""
    types = _types()
    key = _key(tag)
    if parent is not None:
        nested = types["nested"].get(f"{_key(parent)}/{key}")
        if nested:
            return nested
        return types["anywhere"].get(key, "3")
    by_sop = types["sop_classes"].get(str(sop_class))
    if by_sop is None:
        return types["anywhere"].get(key, "3")
    return by_sop.get(key, "3")


def resolve(action: str, tag: int, sop_class: str, parent: int | None = None) -> str:
    """One of D, Z, X, U for a combined *action*; other actions pass through."""
    if "/" not in action:
        return action
    kind = type_of(tag, sop_class, parent)
    parts = action.rstrip("*").split("/")
    if kind == "1":
        for strict in ("D", "U"):
            if strict in parts:
                return strict
        return "Z" if "Z" in parts else parts[-1]
    if kind == "2":  # present, empty if the action allows it, else with a dummy value
        for conformant in ("Z", "D", "U"):
            if conformant in parts:
                return conformant
    if "X" in parts:
        return "X"
    return parts[0]
