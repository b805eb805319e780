"""Rewriting an instance's headers, the one file rewriter of every change:
new attribute values (a merge, a reallocation) and, in IOCM mode, new UIDs
through one map applied at any depth; pixel data and everything else as it was."""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path
from typing import Optional

import pydicom
from pydicom.dataset import Dataset
from pydicom.datadict import dictionary_VR

from app.dicom.references import element_vr

PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}


def rewrite_file(source: Path, target: Path, attrs: dict[str, str],
                 uid_map: Optional[dict[str, str]] = None) -> tuple[int, str]:
    """Write *source* to *target* with the attributes in *attrs* set (by
    keyword; '' empties a present element and leaves an absent one absent)
    and, when given, *uid_map* applied (:func:`remap`). The transfer syntax,
    the file meta and every other byte of value stay. Returns the size and
    SHA-256 of what was written."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        has_prefix = _has_prefix(source)
        ds = pydicom.dcmread(source, force=not has_prefix)
        for keyword, value in attrs.items():
            if value in ("", None):
                if keyword in ds:
                    ds[keyword].value = ""  # keep type 2 elements present, empty
                continue
            if keyword in ds:
                ds[keyword].value = value
            else:
                ds.add_new(keyword, dictionary_VR(keyword), value)
        if uid_map:
            remap(ds, uid_map)
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=False)  # written like the original
    data = buffer.getvalue()
    with open(target, "wb") as f:  # made durable by the caller (store.make_durable)
        f.write(data)
    return len(data), hashlib.sha256(data).hexdigest()


def _has_prefix(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(132)[128:132] == b"DICM"


def rewrite_chunk(tasks: list[tuple]) -> list[tuple[int, str]]:
    """:func:`rewrite_file` over (source, target, attrs[, uid_map]) tasks: the
    unit of work sent to worker processes (app.parallel)."""
    return [rewrite_file(Path(task[0]), Path(task[1]), task[2], task[3] if len(task) > 3 else None)
            for task in tasks]


def remap(ds: Dataset, uid_map: dict[str, str]) -> None:
    """Replace every UI value found in *uid_map*, at any depth, the file meta's
    MediaStorageSOPInstanceUID too. Only UI and SQ elements are decoded; the
    others are written back as they were read (decoding every element cost
    1.7x the time: docs/performance/reallocate.md)."""
    for tag in list(ds.keys()):
        if tag in PIXEL_TAGS or element_vr(ds.get_item(tag), tag) not in ("UI", "SQ"):
            continue
        elem = ds[tag]
        if elem.VR == "SQ":
            for item in elem.value or []:
                remap(item, uid_map)
        elif elem.VR == "UI" and elem.value:
            value = elem.value
            if isinstance(value, str):
                if value in uid_map:
                    elem.value = uid_map[value]
            else:
                values = [str(v) for v in value]
                if any(v in uid_map for v in values):
                    elem.value = [uid_map.get(v, v) for v in values]
    meta = getattr(ds, "file_meta", None)
    if meta is not None and str(meta.get("MediaStorageSOPInstanceUID", "")) in uid_map:
        meta.MediaStorageSOPInstanceUID = uid_map[str(meta.MediaStorageSOPInstanceUID)]
