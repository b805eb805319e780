"""The CPU-bound half of an anonymised export, run in worker processes
(app.parallel.map_chunks): read, de-identify, write, scan, one file at a time.

A chunk's outputs come back to the job, which writes them into the ZIP; the
job hands out a bounded window of chunks at a time, so an export holds at
most that window in memory, never a whole study. Results carry no
identifying value besides the de-identified files themselves.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Optional

import pydicom

from app.deid import Deidentifier, Needle
from app.deid.identifiers import _name_parts
from app.export.dicomdir import record_fields
from app.export.plan import Item

_deid: Optional[Deidentifier] = None
_dicomdir = False


def init(state: dict, dicomdir: bool) -> None:
    """Worker initializer: the export's key, options, pseudonyms and offsets."""
    global _deid, _dicomdir
    _deid = Deidentifier.from_state(state)
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
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        if "SOPClassUID" not in ds:
            raise ValueError("not a DICOM instance (no SOP Class UID)")
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
        _deid.report.scanned(label, needles, needles.scan(output, pixel_start))
    except Exception as e:  # noqa: BLE001 - one unreadable file fails the count check, not the job
        return {"index": item.index, "error": f"{type(e).__name__}: {e}"}, None
    outcome = {"index": item.index, "patient": str(ds.get("PatientID", "") or ""),
               "study_date": str(ds.get("StudyDate", "") or ""),
               "series": f"{ds.get('SeriesNumber', '') or ''}_{ds.get('Modality', '') or ''}"}
    if _dicomdir:
        outcome["fields"] = record_fields(ds)
    return outcome, output


def _pixel_bytes(ds) -> Optional[bytes]:
    for tag in (0x7FE00010, 0x7FE00008, 0x7FE00009):
        if tag in ds:
            raw = ds.get_item(tag)
            return bytes(raw.value) if raw.value is not None else b""
    return None

