"""What the demo set holds: patients, studies, series, image stacks.

Plain frozen records; everything is decided here, before any file is
written, so that references between objects (RT chain) are known up front and
progress can count files. UIDs come from :class:`Uids`, a name-based
generator: the same seed and name always give the same UID.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from app.demo.phantoms import Plane

_NAMESPACE = uuid.UUID("5b0e7c52-3f7c-4d57-9a7e-6f1b2f0a9d31")


class Uids:
    """Deterministic UIDs under the 2.25 (UUID) root, derived from a seed."""

    def __init__(self, seed: str):
        self.seed = seed

    def __call__(self, *names: object) -> str:
        name = "/".join([self.seed, *map(str, names)])
        return f"2.25.{uuid.uuid5(_NAMESPACE, name).int}"


def rng(*names: object) -> np.random.Generator:
    """A random generator seeded from names (pass a UID for per-object noise)."""
    return np.random.default_rng(uuid.uuid5(_NAMESPACE, "/".join(map(str, names))).int)


@dataclass(frozen=True)
class Patient:
    patient_id: str
    name: str
    sex: str
    birth_date: str
    phone: str = ""
    confidentiality: str = ""
    issuer: str = "HOSP"


@dataclass(frozen=True)
class Study:
    patient: Patient
    uid: str
    accession: str
    date: str
    time: str
    study_id: str
    description: str
    referring: str
    institution: str = "St. Aldhelm General Hospital"


@dataclass(frozen=True)
class Equipment:
    manufacturer: str
    model: str
    station: str
    serial: str
    software: str


CT_SCANNER = Equipment("Northwind Medical", "NW Helix 64", "CT01", "NWH64-0117", "VB20")
MR_SCANNER = Equipment("Meridian Imaging", "Aurora 1.5T", "MR-EAST", "AUR-2231", "R7.2")
TPS = Equipment("Lumen Oncology", "LumenPlan", "TPS-WS2", "LP-0042", "4.1.3")


@dataclass(frozen=True)
class Stack:
    """Parallel square image planes: a series' geometry."""

    center: tuple[float, float, float]
    row_dir: tuple[float, float, float]
    col_dir: tuple[float, float, float]
    fov: float  # mm, square
    count: int
    step: float  # mm between slice centres, along the normal
    size: int = 256

    @property
    def spacing(self) -> float:
        return self.fov / self.size

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.row_dir, self.col_dir)

    def position(self, index: int) -> tuple[float, float, float]:
        """ImagePositionPatient (centre of the first pixel) of slice index."""
        half = (self.size - 1) / 2 * self.spacing
        offset = (index - (self.count - 1) / 2) * self.step
        p = (np.asarray(self.center) + offset * self.normal
             - half * np.asarray(self.row_dir) - half * np.asarray(self.col_dir))
        return tuple(round(float(v), 3) for v in p)

    def location(self, index: int) -> float:
        return round(float(np.asarray(self.position(index)) @ self.normal), 3)

    def plane(self, index: int) -> Plane:
        return Plane(self.position(index), self.row_dir, self.col_dir,
                     self.spacing, self.size)


AXIAL = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
SAGITTAL = ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0))


@dataclass(frozen=True)
class Series:
    """An image series (CT or MR): what to draw and how it was acquired."""

    study: Study
    uid: str
    number: int
    description: str
    modality: str
    body_part: str
    phantom: str  # key into phantoms.PHANTOMS
    stack: Stack
    frame_of_reference: str
    equipment: Equipment
    technique: str  # a key into images.TECHNIQUES
    date: str = ""  # acquisition date, default the study's
    time: str = ""
    patient_position: str = "HFS"

    def instance_uid(self, index: int) -> str:
        return _uid_from(self.uid, index)

    @property
    def acquired(self) -> tuple[str, str]:
        return (self.date or self.study.date, self.time or self.study.time)


def _uid_from(series_uid: str, index: int) -> str:
    # Derived from the series UID, which already carries the seed.
    return f"2.25.{uuid.uuid5(_NAMESPACE, f'{series_uid}/{index}').int}"


@dataclass(frozen=True)
class RtCase:
    """The radiotherapy chain of one study, built on a planning CT series."""

    ct: Series
    struct_uid: str
    struct_series: str
    plans: tuple["RtPlan", ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RtPlan:
    label: str
    name: str
    dose_gy: float
    fractions: int
    approved: bool
    uid: str
    series: str
    dose_uid: str
    dose_series: str
    number: int  # series number of the plan; the dose takes number + 1
    reviewer: Optional[str] = None
