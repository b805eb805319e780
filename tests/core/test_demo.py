"""The demo data set, checked the way a user (or a validator) would check it."""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian

from app.demo import generate_demo
from app.errors import Cancelled

CT, MR = "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4"
RTDOSE, RTSTRUCT, RTPLAN = ("1.2.840.10008.5.1.4.1.1.481.2", "1.2.840.10008.5.1.4.1.1.481.3",
                            "1.2.840.10008.5.1.4.1.1.481.5")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> list[Path]:
    return generate_demo(tmp_path_factory.mktemp("demo"), patients=3)


@pytest.fixture(scope="module")
def headers(demo) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(path, stop_before_pixels=True) for path in demo]


def of_class(headers, sop_class):
    return [ds for ds in headers if ds.SOPClassUID == sop_class]


def test_every_file_is_part10_with_decodable_pixels(demo):
    assert demo and all(path.is_file() for path in demo)
    for path in demo:
        ds = pydicom.dcmread(path)
        assert path.read_bytes()[128:132] == b"DICM"
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.SOPClassUID in (CT, MR, RTDOSE, RTSTRUCT, RTPLAN)
        if ds.SOPClassUID in (RTSTRUCT, RTPLAN):
            assert "PixelData" not in ds
            continue
        frames = int(ds.get("NumberOfFrames", 1))
        shape = (ds.Rows, ds.Columns) if frames == 1 else (frames, ds.Rows, ds.Columns)
        assert ds.pixel_array.shape == shape


def test_images_are_phantoms_in_hounsfield_units(demo):
    ds = pydicom.dcmread(next(p for p in demo if "PID1001" in p.parts and "_CT" in str(p)))
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert ds.Rows == ds.Columns == 256 and ds.pixel_array.dtype == np.int16
    assert ds.RescaleIntercept == -1024 and ds.WindowWidth > 0
    assert abs(np.median(hu[:10, :10]) + 1000) < 30  # air in the corner
    assert 0 < np.median(hu[118:138, 118:138]) < 80  # brain in the middle
    assert hu.max() > 1000  # skull


def test_series_geometry_is_consistent(headers):
    series = defaultdict(list)
    for ds in of_class(headers, CT) + of_class(headers, MR):
        series[ds.SeriesInstanceUID].append(ds)
    assert len(series) >= 8
    for images in series.values():
        images.sort(key=lambda ds: ds.InstanceNumber)
        assert [ds.InstanceNumber for ds in images] == list(range(1, len(images) + 1))
        assert 12 <= len(images) <= 30
        assert len({ds.FrameOfReferenceUID for ds in images}) == 1
        iop = np.array(images[0].ImageOrientationPatient, dtype=float)
        normal = np.cross(iop[:3], iop[3:])
        along = [float(np.dot(np.array(ds.ImagePositionPatient, dtype=float), normal))
                 for ds in images]
        steps = np.diff(along)
        assert np.allclose(steps, steps[0]) and steps[0] > 0
        assert all(ds.SliceLocation == pytest.approx(a, abs=0.01)
                   for ds, a in zip(images, along))


def test_rt_chain_references_resolve(headers):
    ct_uids = {ds.SOPInstanceUID for ds in of_class(headers, CT)}
    (struct,) = of_class(headers, RTSTRUCT)
    (frame,) = struct.ReferencedFrameOfReferenceSequence
    (study,) = frame.RTReferencedStudySequence
    (series,) = study.RTReferencedSeriesSequence
    listed = {item.ReferencedSOPInstanceUID for item in series.ContourImageSequence}
    planning = [ds for ds in of_class(headers, CT)
                if ds.SeriesInstanceUID == series.SeriesInstanceUID]
    assert listed == {ds.SOPInstanceUID for ds in planning} and len(listed) >= 12
    assert {item.ReferencedSOPClassUID for item in series.ContourImageSequence} == {CT}
    names = {roi.ROIName for roi in struct.StructureSetROISequence}
    assert {"External", "PTV", "Brainstem"} <= names
    for roi in struct.ROIContourSequence:
        assert roi.ContourSequence
        for contour in roi.ContourSequence:
            assert contour.ContourGeometricType == "CLOSED_PLANAR"
            assert len(contour.ContourData) == 3 * contour.NumberOfContourPoints
            (image,) = contour.ContourImageSequence
            assert image.ReferencedSOPInstanceUID in ct_uids
    assert len(struct.RTROIObservationsSequence) == len(names)

    plans = of_class(headers, RTPLAN)
    assert len(plans) == 2
    for plan in plans:
        assert plan.ReferencedStructureSetSequence[0].ReferencedSOPInstanceUID \
            == struct.SOPInstanceUID
        assert plan.FractionGroupSequence[0].NumberOfBeams == len(plan.BeamSequence)
    doses = of_class(headers, RTDOSE)
    assert sorted(d.ReferencedRTPlanSequence[0].ReferencedSOPInstanceUID for d in doses) \
        == sorted(p.SOPInstanceUID for p in plans)

    rt = [struct, *plans, *doses]
    assert {ds.StudyInstanceUID for ds in rt} == {planning[0].StudyInstanceUID}
    assert {ds.FrameOfReferenceUID for ds in rt} == {planning[0].FrameOfReferenceUID}
    assert frame.FrameOfReferenceUID == planning[0].FrameOfReferenceUID
    assert len({ds.SeriesInstanceUID for ds in rt}) == 5
    assert sorted(ds.Modality for ds in rt) == ["RTDOSE"] * 2 + ["RTPLAN"] * 2 + ["RTSTRUCT"]


def test_one_plan_approved_one_not(headers):
    plans = {ds.RTPlanLabel: ds for ds in of_class(headers, RTPLAN)}
    assert set(plans) == {"Plan A 60Gy", "Plan B 66Gy"}
    approved, unapproved = plans["Plan A 60Gy"], plans["Plan B 66Gy"]
    assert approved.ApprovalStatus == "APPROVED"
    assert approved.ReviewDate and approved.ReviewTime and approved.ReviewerName
    assert unapproved.ApprovalStatus == "UNAPPROVED"
    assert "ReviewerName" not in unapproved


def test_dose_grid_is_a_plausible_blob(demo):
    doses = [pydicom.dcmread(p) for p in demo if "_RTDOSE" in str(p)]
    prescribed = {"60": 60.0, "66": 66.0}
    for ds in doses:
        grid = ds.pixel_array * float(ds.DoseGridScaling)
        assert grid.shape == (ds.NumberOfFrames, 64, 64) and ds.BitsAllocated == 32
        assert (ds.DoseUnits, ds.DoseType, ds.DoseSummationType) == ("GY", "PHYSICAL", "PLAN")
        assert len(ds.GridFrameOffsetVector) == ds.NumberOfFrames
        gy = prescribed[ds.DoseComment.split(": ")[1][:2]]
        assert gy <= grid.max() <= 1.15 * gy
        assert grid[:, 0, 0].max() == 0  # nothing outside the head


def test_one_person_under_two_patient_ids(headers):
    ids = defaultdict(set)
    for ds in headers:
        ids[(str(ds.PatientName), ds.PatientBirthDate, ds.PatientSex)].add(ds.PatientID)
    doubles = {person: pids for person, pids in ids.items() if len(pids) > 1}
    assert doubles == {("Okafor^Daniel", "19710904", "M"): {"PID1002", "PID1002-B"}}


def test_misfiled_series_sits_in_the_chest_study(headers):
    studies = {ds.StudyInstanceUID: ds for ds in headers}
    portal = [ds for ds in headers if "portal venous" in ds.SeriesDescription]
    assert portal and len({ds.SeriesInstanceUID for ds in portal}) == 1
    host = studies[portal[0].StudyInstanceUID]
    assert host.AccessionNumber == "ACC10031" and "Chest" in host.StudyDescription
    assert portal[0].StudyDescription == host.StudyDescription
    abdomen = next(ds for ds in headers if ds.AccessionNumber == "ACC10032")
    assert portal[0].FrameOfReferenceUID == abdomen.FrameOfReferenceUID
    assert portal[0].SeriesDate == abdomen.StudyDate != host.StudyDate
    assert abdomen.PatientID == host.PatientID == "PID1003"


def test_split_exam_and_unique_accessions(headers):
    studies = defaultdict(set)
    for ds in headers:
        studies[ds.AccessionNumber].add((ds.StudyInstanceUID, ds.StudyDate, ds.PatientID))
    split = studies.pop("ACC10021")
    assert len(split) == 2 and len({(d, p) for _, d, p in split}) == 1
    assert all(len(uids) == 1 for uids in studies.values())


def test_patient_contact_and_confidentiality(headers):
    for ds in headers:
        assert ds.IssuerOfPatientID == "HOSP"
        assert "^" in str(ds.PatientName) and ds.PatientBirthDate and ds.PatientSex
        assert ds.AccessionNumber.startswith("ACC") and ds.StudyID and ds.StudyDate
        assert ds.ReferringPhysicianName and ds.InstitutionName and ds.Manufacturer
        if ds.PatientID != "PID1002-B":
            assert ds.PatientTelephoneNumbers
    vip = {ds.get("ConfidentialityConstraintOnPatientDataDescription")
           for ds in headers if ds.PatientID == "PID1003"}
    assert vip == {"VIP"}


def test_same_input_gives_identical_files(demo, tmp_path):
    # Patient 1's files do not depend on how many patients follow, so a
    # second, smaller run must reproduce them byte for byte (UIDs included).
    again = generate_demo(tmp_path, patients=1)
    root = demo[0].parents[3]
    first = [p for p in demo if p.relative_to(root).parts[0] == "PID1001"]
    assert [p.relative_to(tmp_path) for p in again] == [p.relative_to(root) for p in first]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, again))


def test_seed_changes_uids(headers, tmp_path):
    other = generate_demo(tmp_path, patients=1, seed="another")
    uids = {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in other}
    assert uids.isdisjoint(ds.SOPInstanceUID for ds in headers)


def test_fewer_patients_still_give_the_rt_patient(tmp_path):
    paths = generate_demo(tmp_path, patients=0)
    assert {p.relative_to(tmp_path).parts[0] for p in paths} == {"PID1001"}
    assert any("_RTDOSE" in str(p) for p in paths)


class CancelAfter:
    def __init__(self, files: int):
        self.left = files

    def check(self) -> None:
        if self.left == 0:
            raise Cancelled()
        self.left -= 1


def test_cancel_stops_between_files(tmp_path):
    with pytest.raises(Cancelled):
        generate_demo(tmp_path, patients=3, cancel=CancelAfter(7))
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) == 7 and all(p.suffix == ".dcm" for p in written)


def test_progress_reports_every_file(tmp_path):
    calls = []
    paths = generate_demo(tmp_path, patients=1, progress=lambda f, m: calls.append((f, m)))
    assert len(calls) == len(paths)
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(message for _, message in calls)


DCIODVFY = shutil.which("dciodvfy")


@pytest.mark.skipif(DCIODVFY is None, reason="dicom3tools dciodvfy not installed")
@pytest.mark.parametrize("sop_class", [CT, MR, RTSTRUCT, RTPLAN, RTDOSE])
def test_dciodvfy_finds_no_errors(demo, sop_class, tmp_path):
    path = next(p for p in demo
                if pydicom.dcmread(p, stop_before_pixels=True).SOPClassUID == sop_class)
    if sop_class == RTDOSE:
        path = _as_16_bit(path, tmp_path / "dose16.dcm")
    run = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, timeout=60)
    report = run.stdout + run.stderr
    assert "Assertion" not in report
    errors = [line for line in report.splitlines() if line.startswith("Error")]
    assert not errors, report


def _as_16_bit(path: Path, copy: Path) -> Path:
    """The same dose object with a 16-bit grid.

    dciodvfy (dicom3tools 1.00, Debian 12) aborts on any 32-bit pixel data
    (``Assertion bitsallocated <= bytesinword*8u failed`` in attrothr.cc),
    so the header is validated on a 16-bit re-encoding of the same grid.
    """
    ds = pydicom.dcmread(path)
    grid = ds.pixel_array.astype(float) * float(ds.DoseGridScaling)
    scaling = float(f"{grid.max() / 65000:.6g}")
    ds.DoseGridScaling = scaling
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelData = np.rint(grid / scaling).astype("<u2").tobytes()
    ds.save_as(copy, enforce_file_format=True)
    return copy
