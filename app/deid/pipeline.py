"""One de-identification pipeline for every exit: ZIP export (app/export),
anonymised discs (app/media/anonymise.py), research staging
(app/research/staging.py), and anything later.

    run = pipeline.run(sources, deid, write, progress=..., cancel=...)
    run.scan_extra("DICOMDIR", data)      # what the exit adds besides the files
    document = run.verdict(override_reason="")   # the report, or ResidualIdentifiers

For each source file, in worker processes (app.parallel.map_chunks):

* read it; de-identify it on its bytes (app/deid/raw.py) or, where that
  path does not cover the file (big endian, no File Meta, an option it
  leaves out...), with pydicom (header only when the pixel data can follow
  unchanged, else the whole file). A file the shared strict reader
  (app/dicom/elements.py) refuses is de-identified by no path and fails the
  count check, never copied through;
* collect what the output is searched for: the identifying values of the
  input (app/deid/identifiers.py: names, IDs, addresses, institution...,
  plus what the cache knows of the patient and study), every original UID
  of the input (every UI value at any depth and in the File Meta
  Information), and the values hidden past a stretched length;
* scan every byte of the output for them (header, every element, the pixel
  data element's header; the pixel data itself, which is the input's bytes
  unchanged, for the values of 6 characters or more and, when a file has
  few, its original UIDs);

then, in this process and in order, ``write(source, data, summary)`` hands
each output to the exit, which returns the name the report uses for it.
The exit keeps its output provisional (a partial ZIP, a work folder,
temporary files) until :meth:`Run.verdict` has passed: a residual hit
raises :class:`ResidualIdentifiers` (exit 5) unless a reason to deliver
anyway is given, and the exit then removes what it wrote. The count check
(instances in = instances out) raises :class:`Incomplete`.

The report (app/deid/report.py) names files, attributes and kinds, never a
value; the refusal's message names the source instance too (the terminal,
not the report).
"""

from __future__ import annotations

import io
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

import pydicom

from app import parallel
from app.deid.engine import VOCABULARY, Deidentifier
from app.deid.findings import findings_of_dataset, findings_of_elements, meta_findings
from app.deid.identifiers import Needle, Needles, _name_parts
from app.deid.raw import RawDeidentifier
from app.deid.raw_parse import Unsupported, refuse_unsound
from app.dicom.files import pixel_data_end
from app.errors import RuleRefused, StudyDeskError
from app.jobs import CancelToken, Progress, no_progress

CHUNK = 16          # files per worker task
WINDOW_CHUNKS = 8   # chunks handed out per worker at a time (about 64 MB of CT per worker)
PARALLEL_MIN = 48   # fewer files than this are not worth starting processes
REPORT_JSON = "DEIDENTIFICATION_REPORT.json"
REPORT_HTML = "DEIDENTIFICATION_REPORT.html"

# what a summary (want "header") holds: the output's values an exit describes it by
SUMMARY_KEYWORDS = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex",
                    "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID", "AccessionNumber",
                    "StudyDescription", "ReferringPhysicianName", "SeriesInstanceUID", "Modality",
                    "SeriesNumber", "SeriesDescription", "SOPInstanceUID", "SOPClassUID",
                    "InstanceNumber")


@dataclass(frozen=True)
class Source:
    """One input file. ``identifying``: (keyword, kind, value) the cache
    knows of its patient and study, searched besides the file's own."""

    index: int
    path: str
    sop_instance_uid: str = ""
    identifying: tuple = ()


class Incomplete(StudyDeskError):
    """Instances in != instances out: nothing is delivered."""


class ResidualIdentifiers(RuleRefused):
    """The residual scan found identifying values and no override was given."""

    def __init__(self, message: str, report: dict, sources: Optional[dict] = None):
        hits = report["residual_scan"]["hits"]
        sources = sources or {}

        def line(h: dict) -> str:
            source = sources.get(h["file"])
            whose = f" (input {source})" if source else ""
            return f"  {h['file']}{whose}: a {h['kind']} (from {h['attribute']}) in the {h['where']}"

        super().__init__(message, "\n".join(line(h) for h in hits[:20]))
        self.report = report


def known_identifiers(name="", patient_id="", birth_date="", phone="", issuer="", accession="",
                      referring="") -> tuple:
    """The (keyword, kind, value) triples of what the cache knows of a
    patient and study, for :attr:`Source.identifying` (empty values left out)."""
    return tuple((keyword, kind, value) for keyword, kind, value in (
        ("PatientName", "name", name), ("PatientID", "patient id", patient_id),
        ("PatientBirthDate", "date of birth", birth_date),
        ("PatientTelephoneNumbers", "phone number", phone),
        ("IssuerOfPatientID", "patient id issuer", issuer),
        ("AccessionNumber", "accession number", accession),
        ("ReferringPhysicianName", "name", referring)) if value)


def extra_needles(identifying: Iterable) -> list[Needle]:
    """Needles for (keyword, kind, value) triples the cache knows."""
    out: list[Needle] = []
    for keyword, kind, value in identifying:
        if kind == "name":
            out.extend(Needle(part, kind, keyword) for part in _name_parts(value) if part)
        else:
            out.append(Needle(value, kind, keyword))
    return out


@dataclass
class Run:
    """A pipeline run's outcome, before its verdict."""

    deid: Deidentifier
    sources: list
    written: int = 0
    names: dict = field(default_factory=dict)      # output name -> source SOP Instance UID
    uids: dict = field(default_factory=dict)       # every original UID of the inputs
    needles: Optional[Needles] = None

    def scan_extra(self, name: str, data: bytes, image: bool = False) -> list[dict]:
        """Scan what the exit writes besides the files (DICOMDIR, README,
        web pages) for the inputs' values; hits go to the report. *image*:
        a picture (a preview), searched as pixel data is (values of 6
        characters or more, and the UIDs): short values would turn up in
        compressed bytes by chance."""
        needles = self._union()
        hits = needles.scan(data, 0 if image else len(data))
        self.deid.report.scanned(name, needles, hits)
        return hits

    def check_name(self, name: str) -> None:
        """A member or file name of the output: no input value in it."""
        needles = self._union()
        if needles.found_in(name.replace("/", " ")):
            self.deid.report.hits.append({"file": name, "attribute": "member name", "kind": "name",
                                          "offset": 0, "where": "member name"})

    def _union(self) -> Needles:
        if self.needles is None:
            found = []
            for source in {s.identifying: s for s in self.sources}.values():
                found.extend(extra_needles(source.identifying))
            self.needles = Needles(found, vocabulary=VOCABULARY).for_file(self.uids)
        return self.needles

    def verdict(self, override_reason: str = "", what: str = "export", overridable: bool = True,
                **counts) -> dict:
        """The report document; :class:`ResidualIdentifiers` when the scan
        found anything and no reason to deliver anyway is given
        (*overridable*: whether the exit takes one)."""
        studies = counts.pop("studies", None)
        document = self.deid.report.to_json(counts={"instances_in": len(self.sources),
                                                    **({"studies": studies} if studies is not None
                                                       else {}), **counts})
        hits = document["residual_scan"]["hits"]
        if hits:
            if not override_reason.strip():
                raise ResidualIdentifiers(
                    f"{what}: the residual-identifier scan found {len(hits)} identifying value(s)"
                    f" in the output, first in {hits[0]['file']} (a {hits[0]['kind']} from "
                    f"{hits[0]['attribute']} in the {hits[0]['where']}); nothing was kept"
                    + (" (give a reason to deliver anyway)" if overridable else ""),
                    document, self.names)
            document["residual_scan"]["override_reason"] = override_reason.strip()
        return document


Writer = Callable[[Source, bytes, dict], str]


def run(sources: list, deid: Deidentifier, write: Writer, *, want: Iterable[str] = (),
        progress: Progress = no_progress, cancel: Optional[CancelToken] = None,
        workers: Optional[int] = None, what: str = "export", message: str = "Anonymising") -> Run:
    """De-identify and scan *sources* (objects with index, path,
    sop_instance_uid, identifying: :class:`Source` or app.export.plan.Item),
    hand each output to *write* in order. *want*: "fields" (DICOMDIR record
    fields in the summary), "header" (the output's :data:`SUMMARY_KEYWORDS`).
    Raises :class:`Incomplete` when a file could not be read or written."""
    cancel = cancel or CancelToken()
    result = Run(deid, list(sources))
    errors: list[str] = []
    total = len(result.sources)
    for chunk in _chunks_done(result.sources, deid, tuple(want), cancel, workers):
        labels: dict[str, str] = {}
        result.uids.update(chunk.pop("uids", {}))
        for outcome in chunk["files"]:
            cancel.check()
            source = result.sources[outcome["index"]]
            if "error" in outcome:
                errors.append(f"{source.sop_instance_uid or source.path}: {outcome['error']}")
                continue
            data = outcome.pop("data")
            try:
                name = write(source, data, outcome)
            except OSError as e:
                raise Incomplete(f"{what}: could not write {source.sop_instance_uid or source.path}:"
                                 f" {e.strerror or e}") from e
            labels[str(source.index)] = name
            result.names[name] = source.sop_instance_uid or source.path
            result.written += 1
        deid.report.merge(_relabel(chunk["report"], labels))
        done = min(total, (chunk["files"][-1]["index"] + 1) if chunk["files"] else 0)
        progress(done / total if total else 1.0, f"{message} {done} of {total}")
    if result.written != total:
        first = f"; first: {errors[0]}" if errors else ""
        raise Incomplete(f"{what}: {result.written} of {total} instances written, "
                         f"{total - result.written} could not be read{first}", "\n".join(errors[:20]))
    return result


def _chunks_done(sources: list, deid: Deidentifier, want: tuple, cancel: CancelToken,
                 workers: Optional[int]) -> Iterator[dict]:
    """Chunk results in order, from worker processes, a bounded window at a time."""
    run_id = uuid.uuid4().hex
    chunks = [(run_id, sources[i:i + CHUNK]) for i in range(0, len(sources), CHUNK)]
    count = 1 if len(sources) < PARALLEL_MIN else (workers or parallel.worker_count())
    try:
        yield from parallel.map_chunks(process_chunk, chunks, cancel, count, init,
                                       (deid.state(), want, run_id), ahead=WINDOW_CHUNKS * count)
    finally:
        _contexts.pop(run_id, None)  # set here when the chunks ran in this process


def _relabel(state: dict, names: dict[str, str]) -> dict:
    for key in ("hits", "burned_in"):
        state[key] = [{**entry, "file": names.get(entry["file"], entry["file"])}
                      for entry in state.get(key, [])]
    return state


def report_files(document: dict) -> dict[str, bytes]:
    """The report as the exits deliver it: JSON and HTML."""
    import json

    from app.deid.report_html import render_html

    return {REPORT_JSON: json.dumps(document, indent=2).encode("utf-8"),
            REPORT_HTML: render_html(document).encode("utf-8")}


# -- the worker half ---------------------------------------------------------------------
#
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

