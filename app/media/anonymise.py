"""Anonymised discs: every instance passes through the de-identification
engine (``app.deid``: the PS3.15 Basic Profile and its options) before it
is staged, and the disc's DICOMDIR, README and index are made from the
de-identified objects, never from the cache.

One :class:`Deidentifier` serves a whole burn, so the UIDs it replaces map
the same way in every object and references between objects still hold.
"""

from __future__ import annotations

import uuid
import warnings
from pathlib import Path
from typing import Iterable

import pydicom

from app.errors import BadInput
from app.jobs import CancelToken, Progress
from app.media import manifest
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


def _text(ds, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _number(ds, keyword: str):
    try:
        return int(ds.get(keyword))
    except (TypeError, ValueError):
        return None


def anonymise(studies: list[Study], folder: Path, deidentifier, progress: Progress,
              cancel: CancelToken) -> list[Study]:
    """De-identified copies of *studies* written in *folder*, described as
    the same shape of studies (with the new names and UIDs)."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Study] = {}
    series_of: dict[tuple[str, str], Series] = {}
    total = sum(s.instance_count for s in studies) or 1
    done = 0
    for study in studies:
        for series in study.series:
            for instance in series.instances:
                cancel.check()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ds = deidentifier.apply(pydicom.dcmread(instance.source))
                target = folder / uuid.uuid4().hex
                ds.save_as(target, enforce_file_format=True)
                _add(out, series_of, ds, target)
                done += 1
                progress(done / total, f"Anonymising {done} of {total}")
    return list(out.values())


def _add(out: dict[str, Study], series_of: dict, ds, target: Path) -> None:
    study_uid = _text(ds, "StudyInstanceUID")
    study = out.get(study_uid)
    if study is None:
        patient = Patient(_text(ds, "PatientID"), _text(ds, "PatientName"),
                          _text(ds, "PatientBirthDate"), _text(ds, "PatientSex"))
        study = out[study_uid] = Study(
            study_uid, patient, _text(ds, "StudyDate"), _text(ds, "StudyTime"), _text(ds, "StudyID"),
            _text(ds, "AccessionNumber"), _text(ds, "StudyDescription"),
            _text(ds, "ReferringPhysicianName"))
    key = (study_uid, _text(ds, "SeriesInstanceUID"))
    series = series_of.get(key)
    if series is None:
        series = series_of[key] = Series(key[1], _text(ds, "Modality"), _number(ds, "SeriesNumber"),
                                         _text(ds, "SeriesDescription"))
        study.series.append(series)
    series.instances.append(Instance(
        _text(ds, "SOPInstanceUID"), _text(ds, "SOPClassUID"),
        str(ds.file_meta.get("TransferSyntaxUID", "")), _number(ds, "InstanceNumber"),
        target.stat().st_size, target, manifest.sha256_of(target)))
