"""One de-identification pipeline for every exit: ZIP export (app/export),
anonymised discs (app/media/anonymise.py), research staging
(app/research/staging.py), and anything later.

    run = pipeline.run(sources, deid, write, progress=..., cancel=...)
    run.scan_extra("DICOMDIR", data)      # what the exit adds besides the files
    document = run.verdict(override_reason="")   # the report, or ResidualIdentifiers

For each source file, in worker processes (app.parallel.map_chunks running
app/deid/worker.py):

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

import uuid
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Optional

from app import parallel
from app.deid.engine import VOCABULARY, Deidentifier
from app.deid.identifiers import Needles
from app.deid.worker import _contexts, extra_needles, init, process_chunk
from app.errors import RuleRefused, StudyDeskError
from app.jobs import CancelToken, Progress, no_progress

CHUNK = 16          # files per worker task
WINDOW_CHUNKS = 8   # chunks handed out per worker at a time (about 64 MB of CT per worker)
PARALLEL_MIN = 48   # fewer files than this are not worth starting processes
REPORT_JSON = "DEIDENTIFICATION_REPORT.json"
REPORT_HTML = "DEIDENTIFICATION_REPORT.html"


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
    fields in the summary), "header" (the output's :data:`~app.deid.worker.SUMMARY_KEYWORDS`).
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
