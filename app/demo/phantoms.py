"""Ellipsoid phantoms in patient coordinates (DICOM LPS, millimetres).

A phantom is an ordered list of ellipsoids, each filled with one tissue; later
ellipsoids paint over earlier ones (a Shepp-Logan-like construction, but with
absolute tissue values instead of additive densities). Sampling a phantom on
any image plane gives a label image; a lookup table turns labels into
Hounsfield units (CT) or T1-/T2-weighted signal (MR).

LPS: +x towards the patient's left, +y posterior, +z towards the head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

import numpy as np


class Tissue(IntEnum):
    AIR = 0
    LUNG = 1
    FAT = 2
    SOFT = 3
    MUSCLE = 4
    GREY = 5
    WHITE = 6
    CSF = 7
    BONE = 8
    SKULL = 9
    BLOOD = 10
    LIVER = 11
    SPLEEN = 12
    KIDNEY = 13
    LESION = 14
    CYST = 15


# Per tissue: CT HU without contrast, CT HU portal venous, T1w signal, T2w signal.
_PROPERTIES = {
    Tissue.AIR: (-1000, -1000, 0, 0),
    Tissue.LUNG: (-860, -850, 15, 25),
    Tissue.FAT: (-100, -100, 1500, 1100),
    Tissue.SOFT: (45, 60, 700, 550),
    Tissue.MUSCLE: (50, 60, 600, 350),
    Tissue.GREY: (38, 40, 800, 1150),
    Tissue.WHITE: (28, 30, 1150, 750),
    Tissue.CSF: (8, 8, 250, 2300),
    Tissue.BONE: (650, 650, 900, 650),
    Tissue.SKULL: (1350, 1350, 120, 90),
    Tissue.BLOOD: (42, 170, 500, 300),
    Tissue.LIVER: (60, 115, 900, 450),
    Tissue.SPLEEN: (48, 125, 700, 800),
    Tissue.KIDNEY: (32, 185, 750, 900),
    Tissue.LESION: (58, 95, 950, 1500),
    Tissue.CYST: (6, 9, 250, 2100),
}


def lookup(column: int) -> np.ndarray:
    """Label -> value table: 0 CT plain, 1 CT contrast, 2 T1w, 3 T2w."""
    table = np.zeros(len(Tissue), dtype=np.float32)
    for tissue, values in _PROPERTIES.items():
        table[tissue] = values[column]
    return table


@dataclass(frozen=True)
class Ellipsoid:
    center: tuple[float, float, float]
    axes: tuple[float, float, float]
    tissue: Tissue
    angle: float = 0.0  # rotation about z, degrees

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Boolean mask of the points (..., 3) inside the ellipsoid."""
        d = points - np.asarray(self.center, dtype=np.float32)
        t = math.radians(self.angle)
        u = d[..., 0] * math.cos(t) + d[..., 1] * math.sin(t)
        v = -d[..., 0] * math.sin(t) + d[..., 1] * math.cos(t)
        a, b, c = self.axes
        return (u / a) ** 2 + (v / b) ** 2 + (d[..., 2] / c) ** 2 <= 1.0

    def box(self) -> np.ndarray:
        """The 8 corners of the axis-aligned bounding box, (8, 3)."""
        a, b, c = self.axes
        t = math.radians(self.angle)
        half = np.array([math.hypot(a * math.cos(t), b * math.sin(t)),
                         math.hypot(a * math.sin(t), b * math.cos(t)), c])
        signs = np.array([[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)])
        return np.asarray(self.center) + signs * half

    def section(self, z: float, n: int = 32) -> list[tuple[float, float]]:
        """Points of the axial cross-section at height z (empty when none)."""
        a, b, c = self.axes
        h = 1.0 - ((z - self.center[2]) / c) ** 2
        if h <= 0.01:
            return []
        s = math.sqrt(h)
        t = math.radians(self.angle)
        points = []
        for k in range(n):
            phi = 2 * math.pi * k / n
            u, v = a * s * math.cos(phi), b * s * math.sin(phi)
            x = self.center[0] + u * math.cos(t) - v * math.sin(t)
            y = self.center[1] + u * math.sin(t) + v * math.cos(t)
            points.append((x, y))
        return points


@dataclass(frozen=True)
class Plane:
    """A grid of pixel centres: origin + col*spacing*row_dir + row*spacing*col_dir."""

    origin: tuple[float, float, float]
    row_dir: tuple[float, float, float]
    col_dir: tuple[float, float, float]
    spacing: float
    size: int

    def points(self) -> np.ndarray:
        idx = np.arange(self.size, dtype=np.float32) * self.spacing
        o, r, c = (np.asarray(v, dtype=np.float32) for v in
                   (self.origin, self.row_dir, self.col_dir))
        return o + idx[None, :, None] * r + idx[:, None, None] * c


@lru_cache(maxsize=64)
def sample(phantom: str, plane: Plane) -> np.ndarray:
    """Label image (size x size, uint8) of a named phantom on the plane.

    Cached: series that share a stack (two CT kernels, T1 and T2) draw once.
    """
    points = plane.points()
    labels = np.zeros((plane.size, plane.size), dtype=np.uint8)
    for ellipsoid in PHANTOMS[phantom]:
        window = _window(ellipsoid, plane)
        if window is None:
            continue
        rows, cols = window
        mask = ellipsoid.contains(points[rows, cols])
        labels[rows, cols][mask] = ellipsoid.tissue
    labels.flags.writeable = False
    return labels


def _window(ellipsoid: Ellipsoid, plane: Plane):
    """Row and column slices that can hold the ellipsoid, or None."""
    corners = ellipsoid.box() - np.asarray(plane.origin)
    depth = corners @ np.cross(plane.row_dir, plane.col_dir)
    if depth.min() > plane.spacing or depth.max() < -plane.spacing:
        return None
    cols = corners @ np.asarray(plane.row_dir) / plane.spacing
    rows = corners @ np.asarray(plane.col_dir) / plane.spacing
    c0, c1 = max(0, int(cols.min()) - 1), min(plane.size, int(cols.max()) + 2)
    r0, r1 = max(0, int(rows.min()) - 1), min(plane.size, int(rows.max()) + 2)
    if c0 >= c1 or r0 >= r1:
        return None
    return slice(r0, r1), slice(c0, c1)


def smooth(image: np.ndarray) -> np.ndarray:
    """A 3x3 binomial blur: softens the phantom's staircase edges."""
    padded = np.pad(image, 1, mode="edge")
    rows = padded[:-2] + 2 * padded[1:-1] + padded[2:]
    return (rows[:, :-2] + 2 * rows[:, 1:-1] + rows[:, 2:]) / 16.0


# --- the phantoms ------------------------------------------------------------

E, T = Ellipsoid, Tissue

HEAD_LESION = E((28.0, -22.0, 8.0), (9.0, 8.0, 9.0), T.LESION)
BRAINSTEM = E((0.0, 14.0, -32.0), (11.0, 13.0, 30.0), T.WHITE)
SCALP = E((0.0, 0.0, 0.0), (78.0, 98.0, 108.0), T.SOFT)

HEAD = [
    SCALP,
    E((0.0, 0.0, 0.0), (73.0, 93.0, 102.0), T.SKULL),
    E((0.0, 1.0, 2.0), (67.0, 87.0, 95.0), T.GREY),
    E((0.0, 1.0, 8.0), (55.0, 73.0, 72.0), T.WHITE),
    E((0.0, 18.0, -40.0), (45.0, 32.0, 28.0), T.GREY),  # cerebellum
    BRAINSTEM,
    E((-9.0, -4.0, 16.0), (5.0, 22.0, 14.0), T.CSF, angle=-14.0),
    E((9.0, -4.0, 16.0), (5.0, 22.0, 14.0), T.CSF, angle=14.0),
    E((0.0, 4.0, 4.0), (2.5, 12.0, 8.0), T.CSF),  # third ventricle
    E((0.0, -80.0, -48.0), (18.0, 12.0, 14.0), T.AIR),  # frontal sinus
    E((-32.0, -78.0, -42.0), (12.0, 12.0, 12.0), T.CSF),  # eyes
    E((32.0, -78.0, -42.0), (12.0, 12.0, 12.0), T.CSF),
    HEAD_LESION,
]


def _spine(y: float = 68.0) -> list[Ellipsoid]:
    return [
        E((0.0, y + 30.0, 0.0), (24.0, 12.0, 999.0), T.BONE),  # posterior arch
        E((0.0, y, 0.0), (19.0, 16.0, 999.0), T.BONE),  # vertebral body
        E((0.0, y + 22.0, 0.0), (7.0, 7.0, 999.0), T.CSF),  # canal
    ]


def _ribs() -> list[Ellipsoid]:
    ribs = []
    for k in range(10):
        phi = math.radians(200 + k * 15.5)  # the posterior and lateral arc
        x, y = 152.0 * math.cos(phi), -88.0 * math.sin(phi)
        for z in (-60.0, -20.0, 20.0, 60.0):
            ribs.append(E((x, y, z + 0.1 * x), (6.0, 6.0, 9.0), T.BONE))
    return ribs


CHEST_NODULE = E((-62.0, -12.0, 14.0), (6.0, 6.0, 6.0), T.SOFT)

CHEST = [
    E((0.0, 0.0, 0.0), (172.0, 112.0, 999.0), T.FAT),
    E((0.0, 0.0, 0.0), (160.0, 102.0, 999.0), T.MUSCLE),
    *_ribs(),
    E((-72.0, 4.0, 15.0), (58.0, 82.0, 170.0), T.LUNG, angle=8.0),
    E((72.0, 4.0, 15.0), (58.0, 82.0, 170.0), T.LUNG, angle=-8.0),
    E((18.0, -28.0, -35.0), (55.0, 46.0, 70.0), T.BLOOD, angle=30.0),  # heart
    E((14.0, -22.0, -30.0), (30.0, 22.0, 45.0), T.MUSCLE, angle=30.0),  # myocardium
    E((14.0, 42.0, 0.0), (13.0, 13.0, 999.0), T.BLOOD),  # descending aorta
    E((0.0, -98.0, 0.0), (16.0, 6.0, 999.0), T.BONE),  # sternum
    *_spine(),
    E((0.0, -10.0, 60.0), (8.0, 8.0, 60.0), T.AIR),  # trachea
    CHEST_NODULE,
]

ABDOMEN = [
    E((0.0, 0.0, 0.0), (176.0, 124.0, 999.0), T.FAT),
    E((0.0, 0.0, 0.0), (164.0, 113.0, 999.0), T.MUSCLE),
    E((0.0, 0.0, 0.0), (152.0, 103.0, 999.0), T.FAT),
    E((-62.0, -8.0, 40.0), (88.0, 72.0, 95.0), T.LIVER, angle=-15.0),
    E((-52.0, -22.0, 32.0), (11.0, 10.0, 11.0), T.CYST),
    E((88.0, 38.0, 50.0), (30.0, 46.0, 55.0), T.SPLEEN, angle=20.0),
    E((55.0, -45.0, 55.0), (42.0, 30.0, 42.0), T.SOFT),  # stomach
    E((55.0, -62.0, 58.0), (22.0, 9.0, 22.0), T.AIR),  # gastric air
    E((-62.0, 52.0, -20.0), (26.0, 36.0, 58.0), T.KIDNEY, angle=-22.0),
    E((62.0, 52.0, -20.0), (26.0, 36.0, 58.0), T.KIDNEY, angle=22.0),
    E((-50.0, 45.0, -20.0), (8.0, 10.0, 20.0), T.FAT),  # renal sinus
    E((50.0, 45.0, -20.0), (8.0, 10.0, 20.0), T.FAT),
    E((-30.0, 62.0, -60.0), (15.0, 15.0, 110.0), T.MUSCLE),  # psoas
    E((30.0, 62.0, -60.0), (15.0, 15.0, 110.0), T.MUSCLE),
    E((12.0, 38.0, 0.0), (11.0, 11.0, 999.0), T.BLOOD),  # aorta
    E((-22.0, 34.0, 0.0), (12.0, 10.0, 999.0), T.BLOOD),  # vena cava
    E((-10.0, -55.0, -55.0), (22.0, 18.0, 30.0), T.SOFT),  # bowel loops
    E((35.0, -50.0, -70.0), (20.0, 18.0, 30.0), T.SOFT),
    E((-45.0, -40.0, -85.0), (20.0, 20.0, 30.0), T.SOFT),
    E((35.0, -62.0, -68.0), (8.0, 5.0, 10.0), T.AIR),
    *_spine(70.0),
]

PHANTOMS = {"head": HEAD, "chest": CHEST, "abdomen": ABDOMEN}
