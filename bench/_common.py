"""Shared by the benchmarks: synthetic CT files with realistic headers, timing
and machine description. Run the benches with the project's venv
(`.venv/bin/python bench/NAME.py`)."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the app package when not installed
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, generate_uid  # noqa: E402

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
SIZE = 512


def _grid():
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    c = (SIZE - 1) / 2
    return (x - c) / c, (y - c) / c  # -1 .. 1


class _Phantom:
    """An axial chest-like phantom in HU whose shapes change smoothly with z:
    body ellipse, two lungs, spine, a few contrast blobs, noise."""

    def __init__(self, seed: int = 1234):
        self.x, self.y = _grid()
        self.rng = np.random.default_rng(seed)

    def slice_hu(self, t: float) -> np.ndarray:
        """t in 0..1: position along the scanned range."""
        x, y = self.x, self.y
        hu = np.full((SIZE, SIZE), -1000.0, dtype=np.float32)  # air
        body_a, body_b = 0.86 + 0.05 * np.sin(np.pi * t), 0.62 + 0.04 * np.sin(np.pi * t)
        hu[(x / body_a) ** 2 + (y / body_b) ** 2 <= 1] = 40.0  # soft tissue
        fat = (x / (body_a - 0.05)) ** 2 + (y / (body_b - 0.05)) ** 2 > 1
        hu[fat & ((x / body_a) ** 2 + (y / body_b) ** 2 <= 1)] = -90.0
        lung_r = 0.25 + 0.12 * np.sin(np.pi * min(1.0, 1.3 * t))
        for cx in (-0.38, 0.38):
            hu[((x - cx) / lung_r) ** 2 + ((y + 0.05) / (1.6 * lung_r)) ** 2 <= 1] = -850.0
        hu[(x / 0.09) ** 2 + ((y - 0.42) / 0.09) ** 2 <= 1] = 700.0  # vertebra
        hu[(x / 0.1) ** 2 + ((y - 0.05) / 0.13) ** 2 <= 1] = 60.0 + 200.0 * t  # heart / aorta
        for k in range(3):
            cx = 0.5 * np.cos(2 * np.pi * (t + k / 3))
            cy = 0.2 * np.sin(2 * np.pi * (t + k / 3))
            hu[((x - cx) ** 2 + (y - cy) ** 2) <= 0.0025] = 300.0
        hu += self.rng.standard_normal((SIZE, SIZE), dtype=np.float32) * 12.0
        return hu


def _ct_template(study_uid: str, frame_uid: str) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = "20240312"
    ds.StudyTime = "093012"
    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = "093540"
    ds.AccessionNumber = "BENCH00001"
    ds.Modality = "CT"
    ds.Manufacturer = "StudyDesk Bench"
    ds.InstitutionName = "Bench Hospital"
    ds.ReferringPhysicianName = "REFERRER^ROSE"
    ds.StationName = "CT01"
    ds.StudyDescription = "CT CHEST ABDOMEN WITH CONTRAST"
    ds.OperatorsName = "TECH^TOM"
    ds.ManufacturerModelName = "Synthetic 64"
    ds.PatientName = "BENCH^IMPORT^RATE"
    ds.PatientID = "BENCH0001"
    ds.PatientBirthDate = "19580704"
    ds.PatientSex = "F"
    ds.PatientAge = "065Y"
    ds.BodyPartExamined = "CHEST"
    ds.KVP = "120"
    ds.DataCollectionDiameter = "500"
    ds.ReconstructionDiameter = "360"
    ds.GantryDetectorTilt = "0"
    ds.TableHeight = "160"
    ds.RotationDirection = "CW"
    ds.ExposureTime = "500"
    ds.XRayTubeCurrent = "250"
    ds.Exposure = "125"
    ds.ConvolutionKernel = "STANDARD"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = study_uid
    ds.StudyID = "4711"
    ds.AcquisitionNumber = "1"
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = SIZE
    ds.PixelSpacing = [0.703125, 0.703125]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    return ds


def make_ct_study(folder: Path, n: int, series: int = 4, seed: int = 1234,
                  progress: Callable[[int], None] | None = None) -> list[Path]:
    """Write *n* 512x512 int16 CT files (~0.5 MB each) of one study split into
    *series* series, as ``folder/S<k>/IM<i>.dcm``. Returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    phantom = _Phantom(seed)
    study_uid, frame_uid = generate_uid(), generate_uid()
    ds = _ct_template(study_uid, frame_uid)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationVersionName = "STUDYDESK_BENCH"
    ds.file_meta = meta
    series = max(1, min(series, n))
    per_series = [n // series + (1 if k < n % series else 0) for k in range(series)]
    thickness = [5.0, 1.25, 2.5, 0.625]
    descriptions = ["AX 5mm STANDARD", "AX 1.25mm LUNG", "AX 2.5mm ARTERIAL", "AX 0.625mm VENOUS"]
    paths: list[Path] = []
    for k, count in enumerate(per_series):
        sub = folder / f"S{k + 1}"
        sub.mkdir(exist_ok=True)
        ds.SeriesInstanceUID = generate_uid()
        ds.SeriesNumber = str(k + 1)
        ds.SeriesDescription = descriptions[k % len(descriptions)]
        step = thickness[k % len(thickness)]
        ds.SliceThickness = str(step)
        ds.ConvolutionKernel = "LUNG" if "LUNG" in ds.SeriesDescription else "STANDARD"
        for i in range(count):
            z = -100.0 - i * step
            sop = generate_uid()
            ds.SOPInstanceUID = sop
            meta.MediaStorageSOPInstanceUID = sop
            ds.InstanceNumber = str(i + 1)
            ds.ImagePositionPatient = [-179.6484375, -179.6484375, round(z, 4)]
            ds.SliceLocation = str(round(z, 4))
            hu = phantom.slice_hu(i / max(1, count - 1))
            ds.PixelData = np.clip(hu + 1024.0, -32768, 32767).astype("<i2").tobytes()
            path = sub / f"IM{i + 1:05d}.dcm"
            ds.save_as(path, enforce_file_format=True)
            paths.append(path)
            if progress:
                progress(len(paths))
    return paths


def dicom_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.dcm") if p.is_file())


def warm(paths: list[Path]) -> int:
    """Read every file once (page cache); returns the bytes read."""
    total = 0
    for p in paths:
        with open(p, "rb") as f:
            while chunk := f.read(1 << 20):
                total += len(chunk)
    return total


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        mem = f"{pages * size / 2**30:.0f} GiB"
    except (ValueError, OSError):
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory": mem,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def bench_parser(doc: str, work: str, repeat: int = 1, series: bool = True):
    """The options every file benchmark shares: --n, --series, --repeat,
    --data, --work, --json."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="files to generate (default 2000)")
    if series:
        ap.add_argument("--series", type=int, default=4, help="series in the study (default 4)")
    ap.add_argument("--repeat", type=int, default=repeat,
                    help=f"runs per measurement; the median is reported (default {repeat})")
    ap.add_argument("--data", type=Path, help="folder of .dcm files to reuse (generated there when empty)")
    ap.add_argument("--work", type=Path, help=f"where {work} go (default: a temporary folder)")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON document")
    return ap
