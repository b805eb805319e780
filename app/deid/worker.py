"""The worker half of the de-identification pipeline (:mod:`app.deid.pipeline`):
one chunk of source files de-identified (on their bytes, :mod:`app.deid.raw`,
or with pydicom), and each output's needles collected and scanned, in a worker
process or in this one.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Iterable, Optional

import pydicom

from app.deid.engine import Deidentifier
from app.deid.findings import findings_of_dataset, findings_of_elements, meta_findings
from app.deid.identifiers import Needle, Needles, _name_parts
from app.deid.raw import RawDeidentifier
from app.deid.raw_parse import Unsupported, refuse_unsound
from app.dicom.files import pixel_data_end

# what a summary (want "header") holds: the output's values an exit describes it by
SUMMARY_KEYWORDS = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex",
                    "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID", "AccessionNumber",
                    "StudyDescription", "ReferringPhysicianName", "SeriesInstanceUID", "Modality",
                    "SeriesNumber", "SeriesDescription", "SOPInstanceUID", "SOPClassUID",
                    "InstanceNumber")


def extra_needles(identifying: Iterable) -> list[Needle]:
    """Needles for (keyword, kind, value) triples the cache knows."""
    out: list[Needle] = []
    for keyword, kind, value in identifying:
        if kind == "name":
            out.extend(Needle(part, kind, keyword) for part in _name_parts(value) if part)
        else:
            out.append(Needle(value, kind, keyword))
    return out


# A run's worker state (its Deidentifier, byte-level path and wishes) is kept
# per run id: in a worker process there is one; in this process (few files,
# or workers that could not start) several runs may go on at once, from the
# window's job threads, and none may use another's key.

_contexts: dict = {}
_DEFAULT = ""


class _Context:
    def __init__(self, state: dict, want: tuple):
        self.deid = Deidentifier.from_state(state)
        try:
            self.raw: Optional[RawDeidentifier] = RawDeidentifier(self.deid)
        except Unsupported:  # an option the byte-level path leaves to pydicom
            self.raw = None
        self.want = tuple(want)


def init(state: dict, want: tuple = (), run_id: str = _DEFAULT) -> None:
    """Worker initializer: the run's key, options, pseudonyms and offsets."""
    _contexts[run_id] = _Context(state, want)


def process_chunk(chunk) -> dict:
    """De-identify a chunk, ``(run id, sources)`` or the sources of the
    default run: for each, the written file (``data``) or an error."""
    run_id, sources = chunk if isinstance(chunk, tuple) else (_DEFAULT, chunk)
    ctx = _contexts[run_id]
    results = []
    uids: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for source in sources:
            outcome, data = _one(ctx, source, uids)
            if data is not None:
                outcome["data"] = data
            results.append(outcome)
    state = ctx.deid.report.to_state()
    ctx.deid.report.reset()
    return {"files": results, "report": state, "uids": uids}


def _one(ctx: _Context, source, all_uids: dict) -> tuple[dict, Optional[bytes]]:
    label = str(source.index)
    try:
        data = Path(source.path).read_bytes()
        done = _bytes_path(ctx, data, source, label)
        if done is None:
            ds, needles, output, pixel_start = _pydicom_path(ctx, data, source, label)
        else:
            ds, needles, output, pixel_start = done
        ctx.deid.report.scanned(label, needles, needles.scan(output, pixel_start))
        all_uids.update(needles.uids)
    except Exception as e:  # noqa: BLE001 - one unreadable file fails the count check, not the run
        return {"index": source.index, "error": f"{type(e).__name__}: {e}"}, None
    outcome = {"index": source.index, "patient": str(ds.get("PatientID", "") or ""),
               "study_date": str(ds.get("StudyDate", "") or ""),
               "series": f"{ds.get('SeriesNumber', '') or ''}_{ds.get('Modality', '') or ''}"}
    if ctx.want:
        if done is not None:  # the byte-level path kept only a few attributes
            ds = pydicom.dcmread(io.BytesIO(output), force=True, stop_before_pixels=True)
        if "fields" in ctx.want:
            from app.dicom.records import record_fields

            outcome["fields"] = record_fields(ds)
        if "header" in ctx.want:
            outcome["header"] = {k: _text(ds, k) for k in SUMMARY_KEYWORDS}
            outcome["header"]["TransferSyntaxUID"] = str(
                getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "")
    return outcome, output


def _text(ds, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _scan_needles(ctx: _Context, needles: Needles, uids: dict, hidden: list) -> Needles:
    if ctx.deid.retain_uids:
        uids = {}
    return needles.for_file(uids, hidden)


def _bytes_path(ctx: _Context, data: bytes, source, label: str):
    """The byte-level path (app/deid/raw.py), or None where it does not apply."""
    if ctx.raw is None:
        return None
    try:
        out = ctx.raw.run(data, extra_needles(source.identifying), label)
    except Unsupported:
        return None
    uids: dict[str, str] = {}
    hidden: list[Needle] = []
    meta_findings(data, uids, hidden)
    findings_of_elements(data, out.elements or [], uids, hidden,
                         skip_private=ctx.deid.safe_private)
    return out.dataset, _scan_needles(ctx, out.needles, uids, hidden), out.data, out.pixel_start


def _pydicom_path(ctx: _Context, data: bytes, source, label: str):
    refuse_unsound(data)  # a file the strict reader refuses is de-identified by no path
    fp = io.BytesIO(data)
    ds = pydicom.dcmread(fp, force=True, stop_before_pixels=True)
    if "SOPClassUID" not in ds:
        raise ValueError("not a DICOM instance (no SOP Class UID)")
    pixel_start = _pixel_tail(ds, data, fp.tell())
    if pixel_start is None:
        return _rewrite_all(ctx, data, source, label)
    uids: dict[str, str] = {}
    hidden: list[Needle] = []
    findings_of_dataset(ds, uids, hidden, skip_private=ctx.deid.safe_private)
    needles = ctx.deid.needles(ds, extra_needles(source.identifying))
    ctx.deid.apply(ds, needles, label=label, pixels=True)
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    header = buffer.getvalue()
    return (ds, _scan_needles(ctx, needles, uids, hidden),
            b"".join((header, memoryview(data)[pixel_start:])), len(header))


def _rewrite_all(ctx: _Context, data: bytes, source, label: str):
    """The general path: read the whole file, de-identify, write it all with
    pydicom. Returns (dataset, needles, output, where its pixel data starts)."""
    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    pixels = _pixel_bytes(ds)
    uids: dict[str, str] = {}
    hidden: list[Needle] = []
    findings_of_dataset(ds, uids, hidden, skip_private=ctx.deid.safe_private)
    needles = ctx.deid.needles(ds, extra_needles(source.identifying))
    ctx.deid.apply(ds, needles, label=label)
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    output = buffer.getvalue()
    pixel_start = None
    if pixels is not None:
        if output.endswith(pixels):
            pixel_start = len(output) - len(pixels)
            for size in (12, 8):  # back to the element's header
                if output[pixel_start - size:pixel_start - size + 4] in (b"\xe0\x7f\x10\x00",
                                                                        b"\x7f\xe0\x00\x10"):
                    pixel_start -= size
                    break
        elif _pixel_bytes(pydicom.dcmread(io.BytesIO(output), force=True)) != pixels:
            raise ValueError("pixel data changed in writing")  # never expected: a guard
    return ds, _scan_needles(ctx, needles, uids, hidden), output, pixel_start


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
    return start if pixel_data_end(data, start, implicit, little) == len(data) else None


def _pixel_bytes(ds) -> Optional[bytes]:
    for tag in (0x7FE00010, 0x7FE00008, 0x7FE00009):
        if tag in ds:
            raw = ds.get_item(tag)
            return bytes(raw.value) if raw.value is not None else b""
    return None
