"""Which radiotherapy objects of the cache belong over an image series.

A coordinator opens the planning CT and expects its contours and dose
without hunting for them. An RT Structure Set belongs over a series when it
names that series (RT Referenced Series Sequence, or a Contour Image
Sequence naming one of its images), or, naming no image series at all, when
its Referenced Frame of Reference is the series' (the rule
app/research/rt_tree.py builds its tree by). An RT Dose belongs when it
lies in the series' Frame of Reference: a dose is computed on the frame, not
on one series. Its prescription comes from the RT Plan it names (Referenced
RT Plan Sequence), when that plan is in the cache.

The candidates are the RT series of the same study and those of the cache
sharing the series' Frame of Reference; only their headers are read (no
contour points, no dose grid). Runs inside a runner job, never on the GUI
thread; :func:`load_rt` then indexes what was found, once.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pydicom

from app import store
from app.dicom.references import references_of
from app.viewer.rt_contours import StructureSet
from app.viewer.rt_dose import DoseGrid, prescription_gy
from app.worklist.query import resolve_series_uid


@dataclass(frozen=True)
class RtObject:
    """One RT instance of the cache, as the legend names it."""

    modality: str  # RTSTRUCT or RTDOSE
    series_instance_uid: str
    sop_instance_uid: str
    path: Path
    label: str
    plan_path: Path | None = None  # a dose's RT Plan, when the cache holds it


@dataclass
class RtFound:
    """The structure sets and doses that belong over one image series."""

    series_instance_uid: str
    frame_of_reference_uid: str
    structures: list[RtObject] = field(default_factory=list)
    doses: list[RtObject] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.structures or self.doses)


_CANDIDATES = """
SELECT se.series_instance_uid, se.modality, se.series_description, i.sop_instance_uid, i.path
  FROM series se JOIN instances i ON i.series_instance_uid = se.series_instance_uid
 WHERE se.modality IN ('RTSTRUCT', 'RTDOSE')
   AND (se.study_instance_uid = ? OR (se.frame_of_reference_uid != ''
                                      AND se.frame_of_reference_uid = ?))
 ORDER BY se.series_number IS NULL, se.series_number, se.series_instance_uid, i.instance_number"""


def rt_for_series(home, db, series_uid: str) -> RtFound:
    """The RT objects to draw over ``series_uid`` (see the module)."""
    uid = resolve_series_uid(db, series_uid)
    row = db.execute("SELECT study_instance_uid, frame_of_reference_uid FROM series"
                     " WHERE series_instance_uid = ?", [uid]).fetchone()
    study, frame = (row[0], row[1] or "") if row else ("", "")
    own_images = {sop for (sop,) in db.execute(
        "SELECT sop_instance_uid FROM instances WHERE series_instance_uid = ?", [uid])}
    found = RtFound(uid, frame)
    for s_uid, modality, description, sop, path in db.execute(_CANDIDATES, [study, frame]).fetchall():
        ds = _header(store.absolute(home, path))
        if ds is None:
            continue
        refs = references_of(ds)
        frames = refs.frames_of_reference | {str(ds.get("FrameOfReferenceUID", "") or "")}
        label = _label(ds, description or modality)
        absolute = store.absolute(home, path)
        if modality == "RTSTRUCT":
            names_images = bool(refs.series) or bool(refs.instances)
            if uid in refs.series or refs.instances & own_images or (
                    not names_images and frame and frame in frames):
                found.structures.append(RtObject(modality, s_uid, sop, absolute, label))
        elif frame and frame in frames:
            found.doses.append(RtObject(modality, s_uid, sop, absolute, label,
                                        _plan_path(home, db, ds)))
    return found


def _plan_path(home, db, dose) -> Path | None:
    for item in dose.get("ReferencedRTPlanSequence", []) or []:
        row = db.execute("SELECT path FROM instances WHERE sop_instance_uid = ?",
                         [str(item.get("ReferencedSOPInstanceUID", "") or "")]).fetchone()
        if row:
            return store.absolute(home, row[0])
    return None


def _header(path: Path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydicom.dcmread(path, stop_before_pixels=True, force=True)
    except Exception:  # noqa: BLE001 - an unreadable file is left out, never a failure
        return None


def _label(ds, fallback: str) -> str:
    for keyword in ("StructureSetLabel", "DoseComment", "SeriesDescription"):
        value = str(ds.get(keyword, "") or "").strip()
        if value:
            return value
    return fallback


@dataclass
class RtLoaded:
    """What the overlay draws from: structure sets indexed and dose grids read
    once, each dose with its reference (the plan's prescription, else its
    maximum) and whether that is the prescription."""

    found: RtFound
    structures: list[StructureSet] = field(default_factory=list)
    doses: list[tuple[RtObject, DoseGrid, float, bool]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_rt(found: RtFound) -> RtLoaded:
    """Read and index what :func:`rt_for_series` found (files: a pool thread's
    work). An object that cannot be read is named in ``problems``."""
    loaded = RtLoaded(found)
    for item in found.structures:
        try:
            loaded.structures.append(StructureSet(item.path))
        except Exception as exc:  # noqa: BLE001 - one bad object never hides the others
            loaded.problems.append(f"{item.label}: {exc}")
    for item in found.doses:
        try:
            grid = DoseGrid(item.path)
            prescribed = prescription_gy(item.plan_path) if item.plan_path else None
        except Exception as exc:  # noqa: BLE001
            loaded.problems.append(f"{item.label}: {exc}")
            continue
        if prescribed and prescribed > 0 and grid.units == "GY":
            loaded.doses.append((item, grid, prescribed, True))
        elif grid.maximum > 0:
            loaded.doses.append((item, grid, grid.maximum, False))
    return loaded
