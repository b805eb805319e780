"""The radiotherapy chain: planning CT <- RTSTRUCT <- RTPLAN <- RTDOSE."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from app.demo import phantoms
from app.demo.model import TPS, RtCase, RtPlan
from app.demo.modules import (CT_IMAGE, RT_DOSE, RT_PLAN, RT_STRUCT, add_equipment,
                              add_rt_series, add_study, new_dataset, reference)

# ROI number, name, interpreted type, colour, shape, generation algorithm.
GTV = phantoms.HEAD_LESION
PTV = replace(GTV, axes=tuple(a + 5.0 for a in GTV.axes))
ROIS = (
    (1, "External", "EXTERNAL", (0, 255, 0), phantoms.SCALP, "AUTOMATIC"),
    (2, "GTV", "GTV", (255, 0, 0), GTV, "MANUAL"),
    (3, "PTV", "PTV", (255, 128, 0), PTV, "MANUAL"),
    (4, "Brainstem", "ORGAN", (0, 128, 255), phantoms.BRAINSTEM, "SEMIAUTOMATIC"),
)
ISOCENTER = tuple(round(v, 1) for v in GTV.center)


def days_after(date: str, days: int) -> str:
    return (datetime.strptime(date, "%Y%m%d") + timedelta(days=days)).strftime("%Y%m%d")


def _rt_base(case: RtCase, sop_class: str, uid: str, days: int) -> Dataset:
    study = case.ct.study
    created = (days_after(study.date, days), "101500")
    ds = new_dataset(sop_class, uid, created)
    add_study(ds, study)
    add_equipment(ds, TPS, study.institution)
    ds.FrameOfReferenceUID = case.ct.frame_of_reference
    ds.PositionReferenceIndicator = ""
    return ds


# --- RTSTRUCT ----------------------------------------------------------------

def structure_set(case: RtCase) -> Dataset:
    ct = case.ct
    ds = _rt_base(case, RT_STRUCT, case.struct_uid, 1)
    add_rt_series(ds, "RTSTRUCT", case.struct_series, ct.number + 1,
                  "Structures for planning")
    ds.SeriesDate, ds.SeriesTime = ds.InstanceCreationDate, ds.InstanceCreationTime
    ds.InstanceNumber = 1
    ds.StructureSetLabel = "Brain RT"
    ds.StructureSetName = "Brain RT contours"
    ds.StructureSetDate, ds.StructureSetTime = ds.InstanceCreationDate, "101500"
    ds.ReferencedFrameOfReferenceSequence = [_referenced_frame(case)]
    ds.StructureSetROISequence = [_roi(case, roi) for roi in ROIS]
    ds.ROIContourSequence = [_roi_contours(case, roi) for roi in ROIS]
    ds.RTROIObservationsSequence = [_observation(roi) for roi in ROIS]
    ds.ApprovalStatus = "APPROVED"  # contours are approved before planning
    ds.ReviewDate, ds.ReviewTime = ds.StructureSetDate, "163000"
    ds.ReviewerName = "Lindgren^Erik^^Dr."
    return ds


def _referenced_frame(case: RtCase) -> Dataset:
    ct = case.ct
    series = Dataset()
    series.SeriesInstanceUID = ct.uid
    series.ContourImageSequence = [reference(CT_IMAGE, ct.instance_uid(i))
                                   for i in range(ct.stack.count)]
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Study Management
    study.ReferencedSOPInstanceUID = ct.study.uid
    study.RTReferencedSeriesSequence = [series]
    frame = Dataset()
    frame.FrameOfReferenceUID = ct.frame_of_reference
    frame.RTReferencedStudySequence = [study]
    return frame


def _roi(case: RtCase, roi) -> Dataset:
    number, name, _, _, _, algorithm = roi
    item = Dataset()
    item.ROINumber = number
    item.ReferencedFrameOfReferenceUID = case.ct.frame_of_reference
    item.ROIName = name
    item.ROIGenerationAlgorithm = algorithm
    return item


def _roi_contours(case: RtCase, roi) -> Dataset:
    number, _, _, colour, shape, _ = roi
    ct = case.ct
    contours = Sequence()
    for index in range(ct.stack.count):
        z = ct.stack.position(index)[2]
        points = shape.section(z, 48 if number == 1 else 24)
        if not points:
            continue
        contour = Dataset()
        contour.ContourImageSequence = [reference(CT_IMAGE, ct.instance_uid(index))]
        contour.ContourGeometricType = "CLOSED_PLANAR"
        contour.NumberOfContourPoints = len(points)
        contour.ContourNumber = len(contours) + 1
        contour.ContourData = [round(v, 2) for x, y in points for v in (x, y, z)]
        contours.append(contour)
    item = Dataset()
    item.ReferencedROINumber = number
    item.ROIDisplayColor = list(colour)
    item.ContourSequence = contours
    return item


def _observation(roi) -> Dataset:
    number, name, kind, *_ = roi
    item = Dataset()
    item.ObservationNumber = number
    item.ReferencedROINumber = number
    item.ROIObservationLabel = name
    item.RTROIInterpretedType = kind
    item.ROIInterpreter = "Lindgren^Erik"
    return item


# --- RTPLAN ------------------------------------------------------------------

GANTRY_ANGLES = (0.0, 60.0, 300.0)


def plan(case: RtCase, rt_plan: RtPlan) -> Dataset:
    ds = _rt_base(case, RT_PLAN, rt_plan.uid, 2)
    add_rt_series(ds, "RTPLAN", rt_plan.series, rt_plan.number,
                  f"Plan {rt_plan.label}")
    ds.SeriesDate, ds.SeriesTime = ds.InstanceCreationDate, ds.InstanceCreationTime
    ds.InstanceNumber = 1
    ds.RTPlanLabel = rt_plan.label
    ds.RTPlanName = rt_plan.name
    ds.RTPlanDescription = f"{rt_plan.fractions} x {rt_plan.dose_gy / rt_plan.fractions:g} Gy to PTV"
    ds.RTPlanDate, ds.RTPlanTime = ds.InstanceCreationDate, "101500"
    ds.RTPlanGeometry = "PATIENT"
    ds.ReferencedStructureSetSequence = [reference(RT_STRUCT, case.struct_uid)]
    ds.PrescriptionDescription = f"{rt_plan.dose_gy:g} Gy in {rt_plan.fractions} fractions"
    ds.DoseReferenceSequence = [_dose_reference(rt_plan)]
    ds.PatientSetupSequence = [_setup()]
    ds.FractionGroupSequence = [_fraction_group(rt_plan)]
    ds.BeamSequence = [_beam(n, angle) for n, angle in enumerate(GANTRY_ANGLES, 1)]
    _add_approval(ds, rt_plan)
    return ds


def _add_approval(ds: Dataset, rt_plan: RtPlan) -> None:
    """Approval module: an APPROVED plan names its reviewer and when."""
    ds.ApprovalStatus = "APPROVED" if rt_plan.approved else "UNAPPROVED"
    if rt_plan.approved:
        ds.ReviewDate = days_after(ds.RTPlanDate, 1)
        ds.ReviewTime = "143000"
        ds.ReviewerName = rt_plan.reviewer or "Lindgren^Erik^^Dr."


def _dose_reference(rt_plan: RtPlan) -> Dataset:
    item = Dataset()
    item.DoseReferenceNumber = 1
    item.DoseReferenceStructureType = "VOLUME"
    item.ReferencedROINumber = 3  # PTV
    item.DoseReferenceDescription = "PTV"
    item.DoseReferenceType = "TARGET"
    item.TargetPrescriptionDose = rt_plan.dose_gy
    return item


def _setup() -> Dataset:
    item = Dataset()
    item.PatientSetupNumber = 1
    item.PatientPosition = "HFS"
    item.SetupTechnique = "ISOCENTRIC"
    return item


def _fraction_group(rt_plan: RtPlan) -> Dataset:
    group = Dataset()
    group.FractionGroupNumber = 1
    group.NumberOfFractionsPlanned = rt_plan.fractions
    group.NumberOfBeams = len(GANTRY_ANGLES)
    group.NumberOfBrachyApplicationSetups = 0
    dose_per_beam = round(rt_plan.dose_gy / rt_plan.fractions / len(GANTRY_ANGLES), 4)
    beams = []
    for number in range(1, len(GANTRY_ANGLES) + 1):
        item = Dataset()
        item.ReferencedBeamNumber = number
        item.BeamDose = dose_per_beam
        item.BeamMeterset = round(dose_per_beam * 112.0, 2)
        beams.append(item)
    group.ReferencedBeamSequence = beams
    return group


def _beam(number: int, angle: float) -> Dataset:
    beam = Dataset()
    beam.BeamNumber = number
    beam.BeamName = f"G{int(angle):03d}"
    beam.BeamType = "STATIC"
    beam.RadiationType = "PHOTON"
    beam.TreatmentMachineName = "LINAC1"
    beam.PrimaryDosimeterUnit = "MU"
    beam.SourceAxisDistance = 1000
    beam.BeamLimitingDeviceSequence = [_device(kind) for kind in ("ASYMX", "ASYMY")]
    beam.ReferencedPatientSetupNumber = 1
    beam.TreatmentDeliveryType = "TREATMENT"
    beam.NumberOfWedges = 0
    beam.NumberOfCompensators = 0
    beam.NumberOfBoli = 0
    beam.NumberOfBlocks = 0
    beam.FinalCumulativeMetersetWeight = 1
    beam.NumberOfControlPoints = 2
    beam.ControlPointSequence = [_first_control_point(angle), _last_control_point()]
    return beam


def _device(kind: str, positions=None) -> Dataset:
    item = Dataset()
    item.RTBeamLimitingDeviceType = kind
    if positions is None:
        item.NumberOfLeafJawPairs = 1
    else:
        item.LeafJawPositions = positions
    return item


def _first_control_point(angle: float) -> Dataset:
    point = Dataset()
    point.ControlPointIndex = 0
    point.NominalBeamEnergy = 6
    point.DoseRateSet = 600
    point.BeamLimitingDevicePositionSequence = [
        _device("ASYMX", [-20, 20]), _device("ASYMY", [-20, 20])]
    point.GantryAngle = angle
    point.GantryRotationDirection = "NONE"
    point.BeamLimitingDeviceAngle = 0
    point.BeamLimitingDeviceRotationDirection = "NONE"
    point.PatientSupportAngle = 0
    point.PatientSupportRotationDirection = "NONE"
    point.TableTopEccentricAngle = 0
    point.TableTopEccentricRotationDirection = "NONE"
    point.TableTopPitchAngle = 0
    point.TableTopPitchRotationDirection = "NONE"
    point.TableTopRollAngle = 0
    point.TableTopRollRotationDirection = "NONE"
    point.TableTopVerticalPosition = ""
    point.TableTopLongitudinalPosition = ""
    point.TableTopLateralPosition = ""
    point.IsocenterPosition = list(ISOCENTER)
    point.CumulativeMetersetWeight = 0
    return point


def _last_control_point() -> Dataset:
    point = Dataset()
    point.ControlPointIndex = 1
    point.CumulativeMetersetWeight = 1
    return point


# --- RTDOSE ------------------------------------------------------------------

DOSE_SIZE, DOSE_FRAMES, DOSE_SPACING, DOSE_STEP = 64, 10, 3.2, 4.0
DOSE_SCALING = 1e-5  # Gy per stored unit


def dose(case: RtCase, rt_plan: RtPlan) -> Dataset:
    ds = _rt_base(case, RT_DOSE, rt_plan.dose_uid, 2)
    add_rt_series(ds, "RTDOSE", rt_plan.dose_series,
                  rt_plan.number + 1, f"Dose {rt_plan.label}")
    ds.SeriesDate, ds.SeriesTime = ds.InstanceCreationDate, ds.InstanceCreationTime
    ds.InstanceNumber = 1
    ds.ContentDate, ds.ContentTime = ds.InstanceCreationDate, "101600"
    half = round((DOSE_SIZE - 1) / 2 * DOSE_SPACING, 3)
    first_z = ISOCENTER[2] - (DOSE_FRAMES - 1) / 2 * DOSE_STEP
    ds.ImagePositionPatient = [-half, -half, first_z]  # the grid covers the head
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [DOSE_SPACING, DOSE_SPACING]
    ds.SliceThickness = DOSE_STEP
    ds.NumberOfFrames = DOSE_FRAMES
    ds.FrameIncrementPointer = 0x3004000C  # GridFrameOffsetVector
    ds.GridFrameOffsetVector = [k * DOSE_STEP for k in range(DOSE_FRAMES)]
    ds.DoseUnits, ds.DoseType, ds.DoseSummationType = "GY", "PHYSICAL", "PLAN"
    ds.DoseComment = f"{rt_plan.label}: {rt_plan.dose_gy:g} Gy"
    ds.TissueHeterogeneityCorrection = "IMAGE"
    ds.ReferencedRTPlanSequence = [reference(RT_PLAN, rt_plan.uid)]
    grid = _dose_grid(ds, rt_plan.dose_gy)
    ds.DoseGridScaling = DOSE_SCALING
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = DOSE_SIZE
    ds.BitsAllocated = ds.BitsStored = 32
    ds.HighBit = 31
    ds.PixelRepresentation = 0
    ds.PixelData = grid.astype("<u4").tobytes()
    return ds


def _dose_grid(ds: Dataset, prescribed: float) -> np.ndarray:
    """A flat-topped blob on the PTV, a low-dose bath, zero outside the head."""
    origin = np.asarray(ds.ImagePositionPatient, dtype=float)
    frames = []
    for k in range(DOSE_FRAMES):
        plane = phantoms.Plane(tuple(origin + (0, 0, k * DOSE_STEP)), (1.0, 0.0, 0.0),
                               (0.0, 1.0, 0.0), DOSE_SPACING, DOSE_SIZE)
        points = plane.points()
        r = np.linalg.norm((points - np.asarray(PTV.center)) / 15.0, axis=-1)
        gy = prescribed * (1.04 * np.exp(-r**3) + 0.08 * np.exp(-r / 2.5))
        inside = phantoms.SCALP.contains(points)
        frames.append(np.where(inside, gy, 0.0))
    return np.rint(np.stack(frames) / DOSE_SCALING).astype(np.uint32)
