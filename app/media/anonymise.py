"""Anonymised discs: every instance passes through the one de-identification
pipeline (``app.deid.pipeline``: the PS3.15 Basic Profile and its options,
the residual-identifier scan of every output, the verification report)
before it is staged, and the disc's DICOMDIR, README and index are made
from the de-identified objects, never from the cache. A disc gets the proof
a ZIP gets: the report in its root (DEIDENT.JSN, DEIDENT.HTM), and no disc
at all when the scan finds an identifying value (exit 5).

One :class:`Deidentifier` serves a whole burn, so the UIDs it replaces map
the same way in every object and references between objects still hold.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Iterable, Optional

from app.errors import BadInput
from app.jobs import CancelToken, Progress
from app.media.selection import Instance, Patient, Series, Study

NEEDS_ENGINE = "anonymised discs need the de-identification engine"


def engine(options: Iterable[str] = ()):
    """A Deidentifier for the Basic Profile with *options*; BadInput when
    the engine is not part of this installation."""
    try:
        from app.deid import Deidentifier, Profile
    except ImportError:
        raise BadInput(NEEDS_ENGINE) from None
    return Deidentifier(Profile(list(options)))


def available() -> bool:
    """Whether the de-identification engine is installed."""
    try:
        from app.deid import Deidentifier, Profile  # noqa: F401
    except ImportError:
        return False
    return True


REPORT_JSON = "DEIDENT.JSN"  # the verification report on the disc (ISO 9660 level 1 names)
REPORT_HTML = "DEIDENT.HTM"


def _number(text: str):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def identifying(study: Study) -> tuple:
    """What the cache knows of a study's patient, searched for on the disc."""
    from app.deid.pipeline import known_identifiers

    patient = study.patient
    return known_identifiers(patient.patient_name, patient.patient_id, patient.patient_birth_date,
                             accession=study.accession_number,
                             referring=study.referring_physician_name)


def anonymise(studies: list[Study], folder: Path, deidentifier, progress: Progress,
              cancel: CancelToken, workers: Optional[int] = None):
    """De-identified copies of *studies* written in *folder* by the one
    de-identification pipeline (app/deid/pipeline.py: byte-level path,
    residual scan of every output, report), described as the same shape of
    studies (with the new names and UIDs). Returns (studies, run): the run
    gives the verdict (:meth:`~app.deid.pipeline.Run.verdict`) and scans
    what the disc adds (DICOMDIR, README, web pages)."""
    from app.deid import pipeline

    folder.mkdir(parents=True, exist_ok=True)
    deidentifier.report.reset()  # one report per disc
    sources = []
    for study in studies:
        known = identifying(study)
        for series in study.series:
            for instance in series.instances:
                sources.append(pipeline.Source(len(sources), str(instance.source),
                                               instance.sop_instance_uid, known))
    out: dict[str, Study] = {}
    series_of: dict[tuple[str, str], Series] = {}

    def write(source, data: bytes, outcome: dict) -> str:
        target = folder / uuid.uuid4().hex
        target.write_bytes(data)
        _add(out, series_of, outcome["header"], target, len(data),
             hashlib.sha256(data).hexdigest())
        return target.name

    run = pipeline.run(sources, deidentifier, write, want=("header",), progress=progress,
                       cancel=cancel, workers=workers, what="burn")
    return list(out.values()), run


def _add(out: dict[str, Study], series_of: dict, header: dict, target: Path, size: int,
         digest: str) -> None:
    study_uid = header["StudyInstanceUID"]
    study = out.get(study_uid)
    if study is None:
        patient = Patient(header["PatientID"], header["PatientName"], header["PatientBirthDate"],
                          header["PatientSex"])
        study = out[study_uid] = Study(
            study_uid, patient, header["StudyDate"], header["StudyTime"], header["StudyID"],
            header["AccessionNumber"], header["StudyDescription"], header["ReferringPhysicianName"])
    key = (study_uid, header["SeriesInstanceUID"])
    series = series_of.get(key)
    if series is None:
        series = series_of[key] = Series(key[1], header["Modality"], _number(header["SeriesNumber"]),
                                         header["SeriesDescription"])
        study.series.append(series)
    series.instances.append(Instance(
        header["SOPInstanceUID"], header["SOPClassUID"], header["TransferSyntaxUID"],
        _number(header["InstanceNumber"]), size, target, digest))


def scan_disc(run, folder: Path) -> None:
    """Scan every file staged for the disc that is not one of its objects
    (DICOMDIR, README, index, web pages) for the inputs' values."""
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not rel.startswith("DICOM/"):
            run.scan_extra(rel, path.read_bytes(),
                           image=path.suffix.upper() in (".JPG", ".JPEG", ".PNG", ".GIF"))


def write_report(document: dict, folder: Path) -> None:
    """The verification report into the disc's root (JSON and HTML)."""
    from app.deid import pipeline

    folder.mkdir(parents=True, exist_ok=True)
    files = pipeline.report_files(document)
    (folder / REPORT_JSON).write_bytes(files[pipeline.REPORT_JSON])
    (folder / REPORT_HTML).write_bytes(files[pipeline.REPORT_HTML])
