"""DICOM modules shared by every demo object (PS3.3 module names)."""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from app.demo.model import Equipment, Patient, Series, Study
from app.dicom.meta import file_meta_dataset

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
RT_DOSE = "1.2.840.10008.5.1.4.1.1.481.2"
RT_STRUCT = "1.2.840.10008.5.1.4.1.1.481.3"
RT_PLAN = "1.2.840.10008.5.1.4.1.1.481.5"


def new_dataset(sop_class: str, sop_instance: str, created: tuple[str, str]) -> Dataset:
    """An empty dataset with its file meta and SOP Common module."""
    ds = Dataset()
    ds.file_meta = file_meta_dataset(sop_class, sop_instance, ExplicitVRLittleEndian)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance
    ds.InstanceCreationDate, ds.InstanceCreationTime = created
    return ds


def add_patient(ds: Dataset, patient: Patient, study: Study) -> None:
    """Patient and Patient Study modules."""
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.IssuerOfPatientID = patient.issuer
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    if patient.phone:
        ds.PatientTelephoneNumbers = patient.phone
    if patient.confidentiality:
        ds.ConfidentialityConstraintOnPatientDataDescription = patient.confidentiality
    ds.PatientAge = age(patient.birth_date, study.date)


def age(birth_date: str, on: str) -> str:
    years = int(on[:4]) - int(birth_date[:4])
    if on[4:] < birth_date[4:]:
        years -= 1
    return f"{years:03d}Y"


def add_study(ds: Dataset, study: Study) -> None:
    """General Study module."""
    add_patient(ds, study.patient, study)
    ds.StudyInstanceUID = study.uid
    ds.StudyDate = study.date
    ds.StudyTime = study.time
    ds.AccessionNumber = study.accession
    ds.StudyID = study.study_id
    ds.StudyDescription = study.description
    ds.ReferringPhysicianName = study.referring


def add_equipment(ds: Dataset, equipment: Equipment, institution: str) -> None:
    """General Equipment module."""
    ds.Manufacturer = equipment.manufacturer
    ds.ManufacturerModelName = equipment.model
    ds.StationName = equipment.station
    ds.DeviceSerialNumber = equipment.serial
    ds.SoftwareVersions = equipment.software
    ds.InstitutionName = institution


def add_image_series(ds: Dataset, series: Series) -> None:
    """General Series, Frame of Reference and General Equipment modules."""
    add_study(ds, series.study)
    date, time = series.acquired
    ds.Modality = series.modality
    ds.SeriesInstanceUID = series.uid
    ds.SeriesNumber = series.number
    ds.SeriesDescription = series.description
    ds.SeriesDate, ds.SeriesTime = date, time
    ds.BodyPartExamined = series.body_part
    ds.PatientPosition = series.patient_position
    ds.OperatorsName = "Ramos^Luis"
    ds.FrameOfReferenceUID = series.frame_of_reference
    ds.PositionReferenceIndicator = ""
    add_equipment(ds, series.equipment, series.study.institution)


def add_rt_series(ds: Dataset, modality: str, uid: str, number: int,
                  description: str) -> None:
    """RT Series module (RTSTRUCT, RTPLAN, RTDOSE)."""
    ds.Modality = modality
    ds.SeriesInstanceUID = uid
    ds.SeriesNumber = number
    ds.SeriesDescription = description
    ds.OperatorsName = "Novak^Petra"


def reference(sop_class: str, sop_instance: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class
    item.ReferencedSOPInstanceUID = sop_instance
    return item


def write(ds: Dataset, path: Path) -> None:
    """Write a DICOM Part 10 file (preamble, file meta, explicit VR LE)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    ds.save_as(partial, enforce_file_format=True)
    partial.replace(path)
