"""Media capacities and spreading a selection over as many discs as it needs.

A disc holds whole studies when it can; a study larger than a disc is split
at series boundaries, and only a series larger than a disc is split between
its instances. Each disc is complete on its own (its own DICOMDIR, README,
index), so every part is sized with the overhead that comes with it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from app.errors import BadInput, RuleRefused
from app.media.selection import Series, Study

SECTOR = 2048


@dataclass(frozen=True)
class Medium:
    key: str
    title: str
    capacity: int  # bytes a blank disc holds

    def __str__(self) -> str:
        return self.title


# Recordable capacities in 2048-byte sectors (80-minute CD-R, single-layer
# DVD±R, dual-layer DVD+R, single-layer BD-R).
MEDIA: dict[str, Medium] = {m.key: m for m in (
    Medium("cd", "CD (700 MB)", 360_000 * SECTOR),
    Medium("dvd", "DVD (4.7 GB)", 2_295_104 * SECTOR),
    Medium("dvd-dl", "DVD DL (8.5 GB)", 4_173_824 * SECTOR),
    Medium("bd", "BD (25 GB)", 12_219_392 * SECTOR),
)}


def medium(key: str) -> Medium:
    try:
        return MEDIA[key.lower()]
    except KeyError:
        raise BadInput(f"medium {key!r}: one of {', '.join(MEDIA)}") from None


def custom_medium(capacity: int) -> Medium:
    return Medium("custom", f"{capacity / 1e6:.1f} MB", capacity)


# What a disc holds besides the instances, per item, estimated on the high
# side: directory entries in three trees (ISO 9660, Joliet, Rock Ridge), the
# DICOMDIR record, the manifest line, the preview and web page of a series.
FIXED_OVERHEAD = 1 << 20          # volume descriptors, path tables, README, INDEX, CSS
PER_INSTANCE = 700                # directory entries, DICOMDIR record, manifest line
PER_SERIES = 96 * 1024            # folder, records, a JPEG preview (at most 512 px)
PER_STUDY = 24 * 1024             # folder, records, its web page


def sectors(size: int) -> int:
    return -(-size // SECTOR)


def series_cost(series: Series, web: bool = True) -> int:
    data = sum(sectors(i.size) * SECTOR for i in series.instances)
    return data + PER_INSTANCE * len(series.instances) + (PER_SERIES if web else 8192)


def study_cost(study: Study, web: bool = True) -> int:
    return PER_STUDY + sum(series_cost(s, web) for s in study.series)


def staged_size(folder) -> int:
    """Bytes the image of a staged folder takes, on the high side: every
    file rounded up to whole sectors, a directory entry per name in each of
    the three trees, and the fixed volume structures."""
    total = FIXED_OVERHEAD
    for current, dirs, files in os.walk(folder):
        total += SECTOR * (1 + len(dirs))
        for name in files:
            total += sectors(os.path.getsize(os.path.join(current, name))) * SECTOR + 3 * 128
    return total


def estimate(studies: list[Study], web: bool = True) -> int:
    """Bytes a disc of *studies* needs (on the high side)."""
    return FIXED_OVERHEAD + sum(study_cost(s, web) for s in studies)


class _Packer:
    """Fills discs in the order of the selection (next fit), so that a set
    of discs reads in the order the user chose."""

    def __init__(self, capacity: int, web: bool):
        self.room = capacity - FIXED_OVERHEAD
        self.web = web
        self.discs: list[list[Study]] = [[]]
        self.used = 0

    def _place(self, study: Study, cost: int) -> None:
        disc = self.discs[-1]
        if disc and self.used + cost > self.room:
            self.discs.append([])
            self.used = 0
            disc = self.discs[-1]
        # a part of the same study next to the previous part joins it
        if disc and disc[-1].study_instance_uid == study.study_instance_uid:
            disc[-1] = disc[-1].with_series(disc[-1].series + study.series)
        else:
            disc.append(study)
        self.used += cost

    def add(self, study: Study) -> None:
        cost = study_cost(study, self.web)
        if cost <= self.room:
            self._place(study, cost)
            return
        for series in study.series:
            cost = PER_STUDY + series_cost(series, self.web)
            if cost <= self.room:
                self._place(study.with_series([series]), cost)
                continue
            for part in self._split_series(series):
                self._place(study.with_series([part]), PER_STUDY + series_cost(part, self.web))

    def _split_series(self, series: Series) -> list[Series]:
        overhead = PER_STUDY + (PER_SERIES if self.web else 8192)
        parts: list[Series] = []
        current: list = []
        used = overhead
        for instance in series.instances:
            cost = sectors(instance.size) * SECTOR + PER_INSTANCE
            if cost + overhead > self.room:
                raise RuleRefused(f"instance {instance.sop_instance_uid}: {instance.size / 1e6:.0f} MB "
                                  "does not fit on one disc of the chosen medium")
            if current and used + cost > self.room:
                parts.append(_part(series, current))
                current, used = [], overhead
            current.append(instance)
            used += cost
        if current:
            parts.append(_part(series, current))
        return parts


def _part(series: Series, instances: list) -> Series:
    return Series(series.series_instance_uid, series.modality, series.series_number,
                  series.series_description, list(instances))


def plan(studies: list[Study], capacity: Optional[int], web: bool = True) -> list[list[Study]]:
    """The studies of each disc: one disc when *capacity* is None or enough."""
    if capacity is None or estimate(studies, web) <= capacity:
        return [list(studies)]
    if capacity <= FIXED_OVERHEAD + PER_STUDY + PER_SERIES:
        raise BadInput(f"capacity {capacity} bytes: too small for a disc")
    packer = _Packer(capacity, web)
    for study in studies:
        packer.add(study)
    return [disc for disc in packer.discs if disc]
