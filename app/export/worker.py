"""The CPU-bound half of an anonymised export, run in worker processes
(app.parallel.map_chunks): read, de-identify, write, scan, one file at a time.

A chunk's outputs come back to the job, which writes them into the ZIP; the
job hands out a bounded window of chunks at a time, so an export holds at
most that window in memory, never a whole study. Results carry no
identifying value besides the de-identified files themselves.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path
from typing import Optional

import pydicom

from app.deid import Deidentifier, Needle
from app.deid.identifiers import _name_parts
from app.deid.raw import RawDeidentifier, Unsupported
from app.export.dicomdir import record_fields
from app.export.plan import Item

_deid: Optional[Deidentifier] = None
_raw: Optional[RawDeidentifier] = None
_dicomdir = False


def init(state: dict, dicomdir: bool) -> None:
    """Worker initializer: the export's key, options, pseudonyms and offsets."""
    global _deid, _raw, _dicomdir
    _deid = Deidentifier.from_state(state)
    try:
        _raw = RawDeidentifier(_deid)
    except Unsupported:  # an option the byte-level path leaves to pydicom
        _raw = None
    _dicomdir = dicomdir


def extra_needles(item: Item) -> list[Needle]:
    """Identifying values the cache knows for this file's patient and study."""
    out: list[Needle] = []
    for keyword, kind, value in item.identifying:
        if kind == "name":
            out.extend(Needle(part, kind, keyword) for part in _name_parts(value) if part)
        else:
            out.append(Needle(value, kind, keyword))
    return out


def process_chunk(items: list[Item]) -> dict:
    """De-identify *items*: for each, the written file (``data``) or an error."""
    assert _deid is not None
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for item in items:
            outcome, data = _one(item)
            if data is not None:
                outcome["data"] = data
            results.append(outcome)
    state = _deid.report.to_state()
    _deid.report.reset()
    return {"files": results, "report": state}


def _one(item: Item) -> tuple[dict, Optional[bytes]]:
    label = str(item.index)
    try:
        data = Path(item.path).read_bytes()
        done = _bytes_path(data, item, label)
        if done is None:
            ds, needles, output, pixel_start = _pydicom_path(data, item, label)
        else:
            ds, needles, output, pixel_start = done
        _deid.report.scanned(label, needles, needles.scan(output, pixel_start))
    except Exception as e:  # noqa: BLE001 - one unreadable file fails the count check, not the job
        return {"index": item.index, "error": f"{type(e).__name__}: {e}"}, None
    outcome = {"index": item.index, "patient": str(ds.get("PatientID", "") or ""),
               "study_date": str(ds.get("StudyDate", "") or ""),
               "series": f"{ds.get('SeriesNumber', '') or ''}_{ds.get('Modality', '') or ''}"}
    if _dicomdir:
        if done is not None:  # the byte-level path kept only a few attributes
            ds = pydicom.dcmread(io.BytesIO(output), force=True, stop_before_pixels=True)
        outcome["fields"] = record_fields(ds)
    return outcome, output


def _bytes_path(data: bytes, item: Item, label: str):
    """The byte-level path (app/deid/raw.py), or None where it does not apply."""
    if _raw is None:
        return None
    try:
        out = _raw.run(data, extra_needles(item), label)
    except Unsupported:
        return None
    return out.dataset, out.needles, out.data, out.pixel_start


def _pydicom_path(data: bytes, item: Item, label: str):
    fp = io.BytesIO(data)
    ds = pydicom.dcmread(fp, force=True, stop_before_pixels=True)
    if "SOPClassUID" not in ds:
        raise ValueError("not a DICOM instance (no SOP Class UID)")
    pixel_start = _pixel_tail(ds, data, fp.tell())
    if pixel_start is None:
        return _rewrite_all(ds, data, item, label)
    needles = _deid.needles(ds, extra_needles(item))
    _deid.apply(ds, needles, label=label, pixels=True)
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    header = buffer.getvalue()
    return ds, needles, b"".join((header, memoryview(data)[pixel_start:])), len(header)


def _rewrite_all(header, data: bytes, item: Item, label: str):
    """The general path: read the whole file, de-identify, write it all with
    pydicom. Returns (dataset, needles, output, where its pixel data starts)."""
    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    pixels = _pixel_bytes(ds)
    needles = _deid.needles(ds, extra_needles(item))
    _deid.apply(ds, needles, label=label)
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    output = buffer.getvalue()
    pixel_start = None
    if pixels is not None:
        if output.endswith(pixels):
            pixel_start = len(output) - len(pixels)
        elif _pixel_bytes(pydicom.dcmread(io.BytesIO(output), force=True)) != pixels:
            raise ValueError("pixel data changed in writing")  # never expected: a guard
    return ds, needles, output, pixel_start


def _pixel_tail(ds, data: bytes, start: int) -> Optional[int]:
    """*start* when the input's bytes from *start* (where a header-only read
    stopped) can follow the de-identified header unchanged: one Pixel Data
    element running to the end of the file, encoded as the header will be
    written (the input's transfer syntax, not deflated). None: take the
    general path (no pixel data, elements after it, an inconsistent file)."""
    implicit, little = getattr(ds, "original_encoding", (None, None))
    meta = getattr(ds, "file_meta", None)
    syntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if implicit is None or syntax is None or start >= len(data):
        return None
    try:
        if (syntax.is_deflated or syntax.is_implicit_VR != implicit
                or syntax.is_little_endian != little):
            return None
    except ValueError:  # not a transfer syntax pydicom knows
        return None
    return start if _element_end(data, start, implicit, little) == len(data) else None


LONG_LENGTH_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN",
                             b"UR", b"UT"})


def _element_end(data: bytes, at: int, implicit: bool, little: bool) -> Optional[int]:
    """Where the pixel data element starting at *at* ends (None: not one)."""
    order = "<" if little else ">"
    try:
        group, element = struct.unpack_from(order + "HH", data, at)
        if (group << 16 | element) != 0x7FE00010:
            return None
        if implicit:
            (length,), value = struct.unpack_from(order + "L", data, at + 4), at + 8
        elif data[at + 4:at + 6] in LONG_LENGTH_VRS:
            (length,), value = struct.unpack_from(order + "L", data, at + 8), at + 12
        else:
            return None  # pixel data is OB or OW
        if length != 0xFFFFFFFF:
            return value + length
        while True:  # encapsulated: items up to the sequence delimiter
            group, element, length = struct.unpack_from(order + "HHL", data, value)
            value += 8
            if (group, element) == (0xFFFE, 0xE0DD):
                return value
            if (group, element) != (0xFFFE, 0xE000):
                return None
            value += length
    except struct.error:  # truncated
        return None


def _pixel_bytes(ds) -> Optional[bytes]:
    for tag in (0x7FE00010, 0x7FE00008, 0x7FE00009):
        if tag in ds:
            raw = ds.get_item(tag)
            return bytes(raw.value) if raw.value is not None else b""
    return None

