"""Small, real DICOM files for tests: written with pydicom, read by everyone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

_ROOT = "1.2.826.0.1.3680043.10.1125."  # test UIDs under a fixed prefix


def uid(*parts: object) -> str:
    """A deterministic UID from the given parts."""
    return generate_uid(prefix=_ROOT, entropy_srcs=[str(p) for p in parts])


def ct_dataset(patient_id: str = "P1", patient_name: str = "DOE^JOHN", study: str = "s1",
               series: str = "se1", number: int = 1, *, study_date: str = "20240115",
               accession: str = "ACC1", modality: str = "CT", description: str = "CT HEAD",
               birth_date: str = "19700101", sex: str = "M", phone: str = "",
               confidentiality: str = "", size: int = 32) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = uid(patient_id, study, series, number)
    ds.StudyInstanceUID = uid(patient_id, study)
    ds.SeriesInstanceUID = uid(patient_id, study, series)
    ds.PatientID = patient_id
    ds.PatientName = patient_name
    ds.PatientBirthDate = birth_date
    ds.PatientSex = sex
    if phone:
        ds.PatientTelephoneNumbers = phone
    if confidentiality:
        ds.ConfidentialityConstraintOnPatientDataDescription = confidentiality
    ds.StudyDate = study_date
    ds.StudyTime = "101500"
    ds.AccessionNumber = accession
    ds.StudyDescription = description
    ds.StudyID = "1"
    ds.ReferringPhysicianName = "HOUSE^GREGORY"
    ds.Modality = modality
    ds.SeriesNumber = 1 + sum(map(ord, series)) % 50
    ds.SeriesDescription = f"{description} {series}"
    ds.InstanceNumber = number
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    y, x = np.mgrid[:size, :size]
    disc = ((x - size / 2) ** 2 + (y - size / 2) ** 2) < (size / 3) ** 2
    ds.PixelData = (disc * 1064 + x * 4 + number).astype(np.int16).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def binary_frames(ds: Dataset) -> Dataset:
    """Give a segmentation one 4 x 4 binary frame: a SEG is an image, and the
    strict reader refuses an image without its pixel data."""
    ds.SegmentationType, ds.NumberOfFrames, ds.Rows, ds.Columns = "BINARY", 1, 4, 4
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 1, 0, 0
    ds.PixelData = b"\x0f\xf0"  # 4 x 4 bits
    return ds


def write(ds: Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_series(folder: Path, count: int = 3, **kwargs) -> list[Path]:
    paths = []
    for n in range(1, count + 1):
        ds = ct_dataset(number=n, **kwargs)
        name = "_".join(str(kwargs.get(k, d)) for k, d in
                        (("patient_id", "P1"), ("study", "s1"), ("series", "se1")))
        paths.append(write(ds, folder / f"{name}_{n}.dcm"))
    return paths


def pydicom_test_files() -> Path:
    """pydicom's bundled test files (no network: not get_testdata_files)."""
    return Path(pydicom.__file__).parent / "data" / "test_files"


def sc_dataset(pixels: np.ndarray, photometric: str = "MONOCHROME2", *, frames: bool = False,
               **elements) -> Dataset:
    """An uncompressed Secondary Capture image holding `pixels` as stored
    (signed when the array is), with `elements` set on it."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.Modality = "OT"
    ds.PatientID, ds.PatientName = "VIEWER", "TEST^VIEWER"
    shape = pixels.shape[1:] if frames else pixels.shape
    if frames:
        ds.NumberOfFrames = pixels.shape[0]
    ds.Rows, ds.Columns = shape[0], shape[1]
    ds.SamplesPerPixel = 3 if len(shape) == 3 else 1
    if ds.SamplesPerPixel == 3:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    bits = pixels.dtype.itemsize * 8
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return ds
