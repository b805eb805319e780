"""The series that follow a moved series: found once, each file read once.

Series of the source studies whose objects refer, directly or through each
other, to a moved series (an RTSTRUCT on a CT, a plan on the structure set, a
dose on the plan, SEG/SR/KOS on images) are its *dependents*; those among
them that an AI service made (app/changes/ai.py) are set apart: a
reallocation clears them instead of moving them.

The cache does not index references, so the candidates' files are read: only
series whose modality can refer to something (not the image modalities),
each file once, headers only; the same read tells whether a series is an AI
result (judged by its first instance, as :func:`ai.series_reason` does). The
references are then followed in memory, in dependency order.

Measurement reports (TID 1500) are no dependents: their measurements follow
the moved images by the Synapse rule instead (app/changes/reports.py).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pydicom

from app import store
from app.changes import ai
from app.dicom.references import references_of
from app.home import Home
from app.measurements.sr_read import is_measurement_report

IMAGE_LIKE_MODALITIES = {"CT", "MR", "PT", "NM", "US", "CR", "DX", "MG", "XA", "RF", "OT", "SC"}


@dataclass
class Followers:
    dependents: list[str] = field(default_factory=list)              # move along, or stay
    ai_results: list[tuple[str, str]] = field(default_factory=list)  # (series, why): cleared
    files_read: int = 0                                               # what it cost


@dataclass
class _Candidate:
    uid: str
    instances: set[str] = field(default_factory=set)   # what it refers to
    series: set[str] = field(default_factory=set)
    sops: set[str] = field(default_factory=set)         # its own instances
    ai_reason: str | None = None


def find(home: Home, db, series_uids: list[str], sources: list[str], cfg: ai.AiConfig) -> Followers:
    """The followers of *series_uids* (moving out of *sources*), AI results set apart."""
    candidates = _read_candidates(home, db, series_uids, sources, cfg)
    moving_series = set(series_uids)
    moving_sops = set()
    for start in range(0, len(series_uids), 500):
        chunk = series_uids[start:start + 500]
        moving_sops |= {s for (s,) in db.execute(
            f"SELECT sop_instance_uid FROM instances WHERE series_instance_uid IN"
            f" ({','.join('?' * len(chunk))})", chunk)}
    order: list[str] = []
    changed = True
    while changed:
        changed = False
        for candidate in candidates:
            if candidate.uid in moving_series:
                continue
            if candidate.instances & moving_sops or candidate.series & moving_series:
                order.append(candidate.uid)
                moving_series.add(candidate.uid)
                moving_sops |= candidate.sops
                changed = True
    by_uid = {c.uid: c for c in candidates}
    out = Followers(files_read=sum(len(c.sops) for c in candidates))
    for uid in order:
        why = by_uid[uid].ai_reason
        if why:
            out.ai_results.append((uid, why))
        else:
            out.dependents.append(uid)
    return out


def _read_candidates(home: Home, db, series_uids: list[str], sources: list[str],
                     cfg: ai.AiConfig) -> list[_Candidate]:
    """The series of *sources* that may refer to others, each file read once."""
    candidates: list[_Candidate] = []
    for study in sources:
        for uid, modality in db.execute(
                "SELECT series_instance_uid, modality FROM series WHERE study_instance_uid = ?",
                [study]).fetchall():
            if uid in series_uids or modality in IMAGE_LIKE_MODALITIES:
                continue  # images refer to nothing we move along
            candidate = _Candidate(uid)
            rows = db.execute("SELECT sop_instance_uid, path FROM instances WHERE series_instance_uid = ?"
                              " ORDER BY instance_number", [uid]).fetchall()
            for n, (sop, path) in enumerate(rows):
                ds = read_header(store.absolute(home, path))
                if is_measurement_report(ds):
                    continue
                found = references_of(ds)
                candidate.instances |= found.instances
                candidate.series |= found.series
                candidate.sops.add(sop)
                if n == 0:
                    candidate.ai_reason = ai.why_ai(ds, cfg)
            candidates.append(candidate)
    return candidates


def read_header(path):
    """A file's data set up to its pixel data: the one read of a candidate."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, stop_before_pixels=True, force=True)
