"""Private attributes: removed, or, with Retain Safe Private, kept when they
are on the shipped safe list (``resources/deid/safe_private.csv``) together
with the Private Creator elements that define them (PS3.15 E.3.10)."""

from __future__ import annotations

import csv
from functools import lru_cache

from app.resources import resource


@lru_cache(maxsize=None)
def safe_list() -> frozenset[tuple[int, str, int]]:
    """(group, private creator, element low byte) of every safe attribute."""
    out = set()
    with open(resource("deid", "safe_private.csv"), encoding="utf-8", newline="") as f:
        reader = csv.DictReader(line for line in f if not line.startswith("#"))
        for row in reader:
            out.add((int(row["group"], 16), _norm(row["creator"]), int(row["element"], 16)))
    return frozenset(out)


def _norm(creator) -> str:
    if isinstance(creator, bytes):
        creator = creator.decode("latin-1", "ignore")
    return str(creator or "").strip(" \x00").upper()


def is_creator(tag: int) -> bool:
    return bool((tag >> 16) & 1) and 0x0010 <= (tag & 0xFFFF) <= 0x00FF


def safe_tags(ds) -> set[int]:
    """Tags of *ds* (this level only) to keep: safe elements and their creators."""
    safe = safe_list()
    creators: dict[int, str] = {}
    for tag in ds.keys():
        if is_creator(tag):
            creators[tag] = _norm(ds[tag].value)
    keep: set[int] = set()
    for tag in ds.keys():
        if not (tag >> 16) & 1 or is_creator(tag) or (tag & 0xFFFF) < 0x1000:
            continue
        group, element = tag >> 16, tag & 0xFFFF
        creator_tag = (group << 16) | (element >> 8)
        creator = creators.get(creator_tag)
        if creator is not None and (group, creator, element & 0xFF) in safe:
            keep.add(tag)
            keep.add(creator_tag)
    return keep
