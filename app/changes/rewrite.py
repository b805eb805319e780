"""Rewriting an instance's headers; pixel data and everything else as it was."""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

import pydicom
from pydicom.datadict import dictionary_VR


def rewrite_file(source: Path, target: Path, attrs: dict[str, str]) -> tuple[int, str]:
    """Write *source* to *target* with the attributes in *attrs* set (by
    keyword; '' empties a present element and leaves an absent one absent).
    The transfer syntax, the file meta and every other byte of value stay.
    Returns the size and SHA-256 of what was written."""
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
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=False)  # written like the original
    data = buffer.getvalue()
    with open(target, "wb") as f:  # made durable by the caller (store.make_durable)
        f.write(data)
    return len(data), hashlib.sha256(data).hexdigest()


def _has_prefix(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(132)[128:132] == b"DICM"


def rewrite_chunk(tasks: list[tuple[str, str, dict[str, str]]]) -> list[tuple[int, str]]:
    """:func:`rewrite_file` over (source, target, attrs) tasks: the unit of
    work sent to worker processes (app.parallel)."""
    return [rewrite_file(Path(source), Path(target), attrs) for source, target, attrs in tasks]
