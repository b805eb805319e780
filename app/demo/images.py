"""CT and MR image objects: one slice of a series, pixels from a phantom."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from pydicom.dataset import Dataset

from app.demo import phantoms
from app.demo.model import Series, rng
from app.demo.modules import CT_IMAGE, MR_IMAGE, add_image_series, new_dataset


@dataclass(frozen=True)
class Technique:
    window: tuple[float, float, str]  # centre, width, explanation
    noise: float  # standard deviation, HU or signal units
    blur: bool
    kernel: str = ""  # CT reconstruction kernel
    contrast: bool = False  # CT: iodinated contrast, portal venous phase
    weighting: int = 2  # MR: 2 T1, 3 T2 (phantoms.lookup column)
    mr: tuple = ()  # ScanningSequence, SequenceVariant, TR, TE, ETL, flip, name


TECHNIQUES = {
    "ct_brain": Technique((40, 80, "BRAIN"), 4.0, True, "H31s"),
    "ct_bone": Technique((600, 2800, "BONE"), 22.0, False, "H70h"),
    "ct_planning": Technique((40, 400, "SOFT TISSUE"), 6.0, True, "B31s"),
    "ct_mediastinum": Technique((40, 400, "MEDIASTINUM"), 9.0, True, "B31f"),
    "ct_lung": Technique((-600, 1500, "LUNG"), 28.0, False, "B70f"),
    "ct_abdomen": Technique((40, 400, "ABDOMEN"), 9.0, True, "B30f"),
    "ct_portal": Technique((60, 400, "ABDOMEN"), 9.0, True, "B30f", contrast=True),
    "mr_t1": Technique((650, 1300, "T1"), 18.0, True, weighting=2,
                       mr=("SE", "SK", 520.0, 12.0, 1, 90.0, "se2d1")),
    "mr_t2": Technique((1100, 2200, "T2"), 22.0, True, weighting=3,
                       mr=("SE", "SK", 4200.0, 98.0, 15, 150.0, "tse2d1_15")),
}


def later(date: str, time: str, seconds: float) -> tuple[str, str]:
    moment = datetime.strptime(date + time[:6], "%Y%m%d%H%M%S")
    moment += timedelta(seconds=seconds)
    return moment.strftime("%Y%m%d"), moment.strftime("%H%M%S.%f")


def image(series: Series, index: int) -> Dataset:
    """Slice ``index`` (0-based) of a CT or MR series, as a full dataset."""
    technique = TECHNIQUES[series.technique]
    sop_class = CT_IMAGE if series.modality == "CT" else MR_IMAGE
    ds = new_dataset(sop_class, series.instance_uid(index), series.acquired)
    add_image_series(ds, series)
    _add_plane(ds, series, index)
    labels = phantoms.sample(series.phantom, series.stack.plane(index))
    if series.modality == "CT":
        _add_ct(ds, series, technique)
        pixels = _ct_pixels(labels, technique, rng(ds.SOPInstanceUID))
    else:
        _add_mr(ds, series, technique)
        pixels = _mr_pixels(labels, technique, rng(ds.SOPInstanceUID))
    _add_pixels(ds, pixels)
    ds.WindowCenter, ds.WindowWidth, ds.WindowCenterWidthExplanation = technique.window
    return ds


def _add_plane(ds: Dataset, series: Series, index: int) -> None:
    """General Acquisition, General Image and Image Plane modules."""
    stack = series.stack
    date, time = later(*series.acquired, 30 + index * 0.6)
    ds.AcquisitionNumber = 1
    ds.AcquisitionDate, ds.AcquisitionTime = date, time
    ds.ContentDate, ds.ContentTime = date, time
    ds.InstanceNumber = index + 1
    ds.ImagePositionPatient = list(stack.position(index))
    ds.ImageOrientationPatient = [*stack.row_dir, *stack.col_dir]
    ds.PixelSpacing = [round(stack.spacing, 6)] * 2
    ds.SliceThickness = stack.step
    ds.SliceLocation = stack.location(index)


def _add_ct(ds: Dataset, series: Series, technique: Technique) -> None:
    """CT Image module (and Contrast/Bolus when contrast was given)."""
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
    ds.KVP = 120
    ds.ConvolutionKernel = technique.kernel
    ds.DataCollectionDiameter = 500
    ds.ReconstructionDiameter = series.stack.fov
    ds.GantryDetectorTilt = 0
    ds.TableHeight = 152
    ds.RotationDirection = "CW"
    ds.XRayTubeCurrent = 240
    ds.ExposureTime = 1000
    ds.FilterType = "FLAT"
    head = series.body_part == "HEAD"
    ds.CTDIvol = 52.0 if head else 11.5
    phantom = Dataset()
    phantom.CodeValue = "113691" if head else "113690"
    phantom.CodingSchemeDesignator = "DCM"
    phantom.CodeMeaning = f"IEC {'Head' if head else 'Body'} Dosimetry Phantom"
    ds.CTDIPhantomTypeCodeSequence = [phantom]
    if technique.contrast:
        ds.ContrastBolusAgent = "Iohexol 350 mg/ml"
        ds.ContrastBolusRoute = "IV"
        ds.ContrastBolusVolume = 90
        ds.ContrastBolusStartTime = series.acquired[1]


def _add_mr(ds: Dataset, series: Series, technique: Technique) -> None:
    """MR Image module."""
    sequence, variant, tr, te, etl, flip, name = technique.mr
    ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    ds.ScanningSequence = sequence
    ds.SequenceVariant = variant
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "2D"
    ds.SequenceName = name
    ds.RepetitionTime = tr
    ds.EchoTime = te
    ds.EchoTrainLength = etl
    ds.FlipAngle = flip
    ds.NumberOfAverages = 1
    ds.ImagingFrequency = 63.87
    ds.ImagedNucleus = "1H"
    ds.MagneticFieldStrength = 1.5
    ds.SpacingBetweenSlices = series.stack.step
    ds.ReceiveCoilName = "Head 16"


def _ct_pixels(labels: np.ndarray, technique: Technique, noise) -> np.ndarray:
    hu = phantoms.lookup(1 if technique.contrast else 0)[labels]
    if technique.blur:
        hu = phantoms.smooth(hu)
    hu = hu + noise.normal(0.0, technique.noise, hu.shape)
    return np.clip(np.rint(hu + 1024), 0, 4095).astype(np.int16)


def _mr_pixels(labels: np.ndarray, technique: Technique, noise) -> np.ndarray:
    signal = phantoms.lookup(technique.weighting)[labels]
    if technique.blur:
        signal = phantoms.smooth(signal)
    n = labels.shape[0]
    r = np.hypot(*np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n)))
    signal = signal * (1.12 - 0.25 * r**2)  # receive coil shading
    real = signal + noise.normal(0.0, technique.noise, signal.shape)
    imag = noise.normal(0.0, technique.noise, signal.shape)
    return np.clip(np.rint(np.hypot(real, imag)), 0, 4095).astype(np.uint16)


def _add_pixels(ds: Dataset, pixels: np.ndarray) -> None:
    """Image Pixel module: 16-bit greyscale."""
    signed = pixels.dtype == np.int16
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 16 if signed else 12
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PixelData = pixels.astype("<i2" if signed else "<u2").tobytes()
