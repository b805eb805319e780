"""The radiotherapy overlays a coordinator checks before staging: an RT
Structure Set's contours and an RT Dose on the planning CT (issue #15 item 4,
the Qt-free core: app/viewer/rt_contours.py, rt_dose.py).

Checked against the demo's brain case (its phantom says where the lesion
is, its dose formula what the dose is) and pydicom's rtstruct.dcm and
rtdose.dcm, each expectation computed here from the patient coordinates and
the image geometry, independently of the code under test.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ImplicitVRLittleEndian, generate_uid

from app.demo import phantoms
from app.errors import RuleRefused
from app.viewer.image_plane import ImagePlane
from app.viewer.isolines import isolines
from app.viewer.rt_contours import PALETTE, StructureSet
from app.viewer.rt_dose import DoseGrid, colour_wash, isodose_lines, prescription_gy

RTSTRUCT = get_testdata_file("rtstruct.dcm")  # bare data set: no File Meta Information
RTDOSE = get_testdata_file("rtdose.dcm")
RT_STRUCTURE_SET = "1.2.840.10008.5.1.4.1.1.481.3"
RT_DOSE = "1.2.840.10008.5.1.4.1.1.481.2"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo's RT case: CT slices (sorted by z), structure set, plan A and its dose."""
    from app.demo import generate_demo

    folder = tmp_path_factory.mktemp("demo")
    generate_demo(folder, patients=1)
    study = next((folder / "PID1001").iterdir())
    cts = sorted((pydicom.dcmread(p) for p in (study / "001_CT").glob("*.dcm")),
                 key=lambda ds: float(ds.ImagePositionPatient[2]))
    return {"ct": cts, "struct": study / "002_RTSTRUCT" / "0001.dcm",
            "plan": study / "003_RTPLAN" / "0001.dcm", "dose": study / "004_RTDOSE" / "0001.dcm"}


def _slice_at(cts, z):
    return min(cts, key=lambda ds: abs(float(ds.ImagePositionPatient[2]) - z))


def _hu(ds) -> np.ndarray:
    return ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def _inside(polygon: np.ndarray, columns: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Even-odd rule: which (column, row) points lie inside the closed polygon."""
    inside = np.zeros(columns.shape, dtype=bool)
    x, y = polygon[:, 0], polygon[:, 1]
    for x0, y0, x1, y1 in zip(x, y, np.roll(x, -1), np.roll(y, -1)):
        crosses = (y0 > rows) != (y1 > rows)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x0 + (rows - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (columns < at)
    return inside


# --- contours ----------------------------------------------------------------

def test_gtv_contour_falls_on_the_lesion_of_the_phantom(demo):
    ct = _slice_at(demo["ct"], phantoms.HEAD_LESION.center[2])
    structures = StructureSet(demo["struct"])
    assert structures.series_uids == (ct.SeriesInstanceUID,)
    sections = {s.roi.name: s for s in structures.on_image(ImagePlane.of(ct))}
    assert {"External", "GTV", "PTV"} <= set(sections)
    (gtv,) = sections["GTV"].contours
    assert gtv.closed and gtv.roi.colour == (255, 0, 0) and gtv.roi.number == 2

    # Independently: the contour's patient points, by the CT's position and spacing.
    ds = pydicom.dcmread(demo["struct"])
    item = next(i for i in ds.ROIContourSequence if i.ReferencedROINumber == 2)
    z = float(ct.ImagePositionPatient[2])
    contour = next(c for c in item.ContourSequence if abs(float(c.ContourData[2]) - z) < 0.01)
    xyz = np.asarray(contour.ContourData, dtype=float).reshape(-1, 3)
    x0, y0 = (float(v) for v in ct.ImagePositionPatient[:2])
    row_spacing, column_spacing = (float(v) for v in ct.PixelSpacing)
    expected = np.stack([(xyz[:, 0] - x0) / column_spacing, (xyz[:, 1] - y0) / row_spacing], -1)
    np.testing.assert_allclose(gtv.points, expected, atol=1e-6)

    # And where the phantom put the lesion: brighter inside the outline than around it.
    hu = _hu(ct)
    rows, columns = np.mgrid[0:hu.shape[0], 0:hu.shape[1]]
    inside = _inside(gtv.points, columns, rows)
    ring = _inside(sections["PTV"].contours[0].points, columns, rows) & ~inside
    assert inside.sum() > 100
    assert hu[inside].mean() > hu[ring].mean() + 15  # lesion ~58 HU, white matter ~28


def test_a_slice_away_from_the_lesion_has_no_gtv(demo):
    lesion = phantoms.HEAD_LESION
    ct = _slice_at(demo["ct"], lesion.center[2] + lesion.axes[2] + 6)
    names = {s.roi.name for s in StructureSet(demo["struct"]).on_image(ImagePlane.of(ct))}
    assert "External" in names and "GTV" not in names


def test_contours_off_the_plane_are_not_returned():
    structures = StructureSet(RTSTRUCT)  # read from a path, without File Meta Information
    frame = structures.rois[0].frame_of_reference
    plane = ImagePlane((-250.0, -250.0, -190.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (2.0, 2.0),
                       frame, thickness=5.0)
    (section,) = structures.on_image(plane)
    assert section.roi.name == "patient"
    (contour,) = section.contours  # the -190 outline; -200 and -180 are 10 mm away
    ds = pydicom.dcmread(RTSTRUCT, force=True)
    xyz = np.asarray(ds.ROIContourSequence[0].ContourSequence[1].ContourData, float).reshape(-1, 3)
    np.testing.assert_allclose(contour.points, (xyz[:, :2] + 250.0) / 2.0)

    between = replace(plane, origin=(-250.0, -250.0, -185.0))  # 5 mm from both neighbours
    assert structures.on_image(between) == []
    sagittal = replace(plane, row_dir=(0.0, 1.0, 0.0), col_dir=(0.0, 0.0, -1.0),
                       origin=(0.0, -250.0, 0.0))
    # The axial outlines cross this plane but do not lie in it; the isocentre points do.
    assert {s.roi.name for s in structures.on_image(sagittal)} == {"Isocenter 1", "Isocenter 2"}


def test_points_and_a_turned_orientation():
    structures = StructureSet(RTSTRUCT)
    frame = structures.rois[0].frame_of_reference
    # Rows run along patient y, columns along x: the normal points to the feet.
    turned = ImagePlane((-100.0, -50.0, 0.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.5, 2.0),
                        frame, thickness=2.0)
    sections = structures.on_image(turned)
    assert [s.roi.name for s in sections] == ["Isocenter 1", "Isocenter 2"]
    point = sections[0].contours[0]
    assert point.kind == "POINT" and not point.closed
    np.testing.assert_allclose(point.points, [[(0 + 50.0) / 2.0, (0 + 100.0) / 0.5]])
    outline = structures.on_image(replace(turned, origin=(-100.0, -50.0, -180.0)))[0].contours[0]
    np.testing.assert_allclose(outline.points[1], [(-150.0 + 50.0) / 2.0, (200.0 + 100.0) / 0.5])


def test_roi_colours_are_read_and_a_missing_one_comes_from_a_stable_palette():
    structures = StructureSet(RTSTRUCT)
    assert [(r.number, r.name, r.colour, r.interpreted_type) for r in structures.rois] == [
        (1, "patient", (220, 160, 120), "EXTERNAL"),
        (2, "Isocenter 1", (255, 64, 255), "ISOCENTER"),
        (3, "Isocenter 2", (255, 64, 255), "ISOCENTER")]
    ds = pydicom.dcmread(RTSTRUCT, force=True)
    for item in ds.ROIContourSequence:
        del item.ROIDisplayColor
    colours = [r.colour for r in StructureSet(ds).rois]
    assert colours == [PALETTE[0], PALETTE[1], PALETTE[2]] == [r.colour for r in StructureSet(ds).rois]


def test_a_contour_is_also_placed_by_the_image_it_references(demo):
    ct = _slice_at(demo["ct"], phantoms.HEAD_LESION.center[2])
    structures = StructureSet(demo["struct"])
    here = ImagePlane.of(ct)
    # The same image moved 500 mm away: no contour lies there, the references still hold.
    moved = replace(here, origin=(here.origin[0], here.origin[1], here.origin[2] + 500.0))
    expected = [(s.roi.name, len(s.contours)) for s in structures.on_image(here)]
    assert [(s.roi.name, len(s.contours)) for s in structures.on_image(moved)] == expected
    assert structures.on_image(replace(moved, sop_instance_uid="")) == []


def test_another_frame_of_reference_is_refused(demo):
    structures = StructureSet(demo["struct"])
    other = replace(ImagePlane.of(demo["ct"][10]), frame_of_reference=generate_uid())
    with pytest.raises(RuleRefused, match="Frame of Reference") as refused:
        structures.on_image(other)
    assert structures.rois[0].frame_of_reference in str(refused.value)
    with pytest.raises(RuleRefused, match="names no Frame of Reference"):
        structures.on_image(replace(other, frame_of_reference=""))
    with pytest.raises(RuleRefused, match="Frame of Reference"):
        DoseGrid(demo["dose"]).on_image(other)


def test_a_200_slice_ct_with_20_rois_places_every_roi_on_every_slice():
    frame = generate_uid()
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = RT_STRUCTURE_SET, generate_uid(), "RTSTRUCT"
    ds.StructureSetROISequence, ds.ROIContourSequence = [], []
    zs = np.arange(200) * 2.5 - 250.0
    phi = np.linspace(0, 2 * np.pi, 100, endpoint=False)
    for number in range(1, 21):
        roi = Dataset()
        roi.ROINumber, roi.ROIName, roi.ReferencedFrameOfReferenceUID = number, f"R{number}", frame
        ds.StructureSetROISequence.append(roi)
        item = Dataset()
        item.ReferencedROINumber, item.ContourSequence = number, []
        for z in zs:
            contour = Dataset()
            contour.ContourGeometricType, contour.NumberOfContourPoints = "CLOSED_PLANAR", 100
            xyz = np.stack([40 * np.cos(phi) + number, 30 * np.sin(phi), np.full(100, z)], -1)
            _raw_contour_data(contour, xyz)
            item.ContourSequence.append(contour)
        ds.ROIContourSequence.append(item)
    structures = StructureSet(ds)
    counts = [sum(len(s.contours) for s in structures.on_image(
        ImagePlane((-255.0, -255.0, float(z)), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (1.0, 1.0),
                   frame, thickness=2.5))) for z in zs]
    assert counts == [20] * 200  # every ROI on every slice, each once (speed: bench/viewer.py)


def _raw_contour_data(contour: Dataset, xyz: np.ndarray) -> None:
    """Contour Data as its encoded text, as pydicom leaves it after reading a
    file (making 1.2 million DS objects and writing them would take seconds)."""
    text = "\\".join(f"{v:.2f}" for v in xyz.ravel()).encode("ascii")
    text += b" " * (len(text) % 2)
    contour[0x30060050] = RawDataElement(0x30060050, "DS", len(text), text, 0, True, True)


# --- dose --------------------------------------------------------------------

def test_dose_at_the_grid_voxel_centres_is_the_stored_value_times_the_scaling():
    ds = pydicom.dcmread(RTDOSE)
    grid = DoseGrid(RTDOSE)
    stored = ds.pixel_array.astype(float) * float(ds.DoseGridScaling)
    x, y, z = (float(v) for v in ds.ImagePositionPatient)
    offsets = [float(v) for v in ds.GridFrameOffsetVector]
    plane = ImagePlane((x, y, z + offsets[3]), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (10.0, 10.0),
                       ds.FrameOfReferenceUID, rows=ds.Rows, columns=ds.Columns)
    np.testing.assert_allclose(grid.on_image(plane), stored[3], rtol=1e-6)
    assert grid.units == "RELATIVE" and grid.maximum == pytest.approx(stored.max(), rel=1e-6)

    # A quarter of the way to the next plane, on a grid twice as fine.
    fine = replace(plane, origin=(x, y, z + offsets[3] + 1.25), spacing=(5.0, 5.0), rows=19, columns=19)
    linear, nearest = grid.on_image(fine), grid.on_image(fine, between_planes="nearest")
    np.testing.assert_allclose(nearest[::2, ::2], stored[3], rtol=1e-6)
    between = 0.75 * stored[3] + 0.25 * stored[4]
    np.testing.assert_allclose(linear[::2, ::2], between, rtol=1e-5)
    mid = (between[:-1, :-1] + between[1:, :-1] + between[:-1, 1:] + between[1:, 1:]) / 4
    np.testing.assert_allclose(linear[1::2, 1::2], mid, rtol=1e-5)

    beyond = replace(plane, origin=(x, y, z + offsets[-1] + 5.0))
    assert np.isnan(grid.on_image(beyond)).all()


def test_dose_on_the_ct_follows_the_plan(demo):
    ct = _slice_at(demo["ct"], phantoms.HEAD_LESION.center[2])
    plane = ImagePlane.of(ct)
    dose = DoseGrid(demo["dose"]).on_image(plane)
    assert dose.shape == (ct.Rows, ct.Columns)
    prescribed = prescription_gy(demo["plan"])
    assert prescribed == 60.0
    # The demo's dose formula at the lesion centre (the PTV's), in this slice.
    ptv = np.asarray(phantoms.HEAD_LESION.center)
    point = np.array([ptv[0], ptv[1], float(ct.ImagePositionPatient[2])])
    r = np.linalg.norm(point - ptv) / 15.0
    expected = prescribed * (1.04 * np.exp(-r**3) + 0.08 * np.exp(-r / 2.5))
    column, row = np.rint(plane.to_pixels(point[None])[0]).astype(int)
    assert dose[row, column] == pytest.approx(expected, rel=0.02)
    assert np.isnan(dose[0, 0])  # the CT's corner is outside the dose grid


def test_isodose_line_encloses_the_high_dose_region(demo):
    ct = _slice_at(demo["ct"], phantoms.HEAD_LESION.center[2])
    dose = DoseGrid(demo["dose"]).on_image(ImagePlane.of(ct))
    lines = {i.percent: i for i in isodose_lines(dose, 60.0, percents=(95, 50))}
    (line,) = lines[95.0].lines
    assert np.array_equal(line[0], line[-1]) and len(line) > 10  # one closed outline
    rows, columns = np.mgrid[0:dose.shape[0], 0:dose.shape[1]]
    inside = _inside(line, columns, rows)
    assert inside[dose >= 57.5].all()
    assert (dose[inside] > 56.0).all() and inside.sum() > 50
    assert lines[95.0].colour == (255, 51, 0) and lines[50.0].level == 30.0
    # The GTV outline lies within the 50 % line.
    gtv = next(s for s in StructureSet(demo["struct"]).on_image(ImagePlane.of(ct))
               if s.roi.name == "GTV").contours[0]
    (half,) = lines[50.0].lines
    assert _inside(half, gtv.points[:, 0], gtv.points[:, 1]).all()


def test_colour_wash_hides_low_dose_and_no_dose():
    grid = DoseGrid(RTDOSE)
    ds = pydicom.dcmread(RTDOSE)
    x, y, z = (float(v) for v in ds.ImagePositionPatient)
    plane = ImagePlane((x - 20.0, y, z), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (10.0, 10.0),
                       ds.FrameOfReferenceUID, rows=10, columns=12)
    dose = grid.on_image(plane)
    reference = float(np.nanmax(dose))
    wash = colour_wash(dose, reference, threshold=0.2, opacity=0.5)
    assert wash.shape == (10, 12, 4) and wash.dtype == np.uint8
    assert (wash[:, :2, 3] == 0).all()  # left of the grid: no dose computed there
    shown = dose >= 0.2 * reference
    assert (wash[..., 3][shown] == 128).all() and (wash[..., 3][~shown] == 0).all()
    hottest = np.unravel_index(np.nanargmax(dose), dose.shape)
    assert tuple(wash[hottest][:3]) == (255, 0, 0)


def test_dose_on_an_oblique_plane_of_a_linear_field():
    """Trilinear interpolation is exact on a linear field, so on any tilted
    plane the dose is the field's formula at each pixel's patient point."""
    origin, (row_step, col_step), plane_step = np.array([-50.0, -40.0, -30.0]), (2.0, 2.5), 5.0
    frames, rows, columns = 10, 20, 24
    k, j, i = np.mgrid[0:frames, 0:rows, 0:columns]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = RT_DOSE, generate_uid(), "RTDOSE"
    ds.FrameOfReferenceUID = frame = generate_uid()
    ds.ImagePositionPatient, ds.ImageOrientationPatient = list(origin), [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing, ds.GridFrameOffsetVector = [row_step, col_step], [n * plane_step for n in range(frames)]
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PixelRepresentation = 1, "MONOCHROME2", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31
    ds.DoseUnits, ds.DoseGridScaling = "GY", 0.001
    ds.PixelData = (1000 + 10 * i + 20 * j + 30 * k).astype("<u4").tobytes()

    turn, tilt = np.radians(30.0), np.radians(20.0)
    row_dir = np.array([np.cos(turn), np.sin(turn), 0.0]) * np.cos(tilt) + [0, 0, np.sin(tilt)]
    col_dir = np.cross([0, 0, 1.0], row_dir)
    col_dir /= np.linalg.norm(col_dir)
    plane = ImagePlane((-30.0, -35.0, -12.0), tuple(row_dir), tuple(col_dir), (1.5, 1.0), frame,
                       rows=30, columns=40)
    dose = DoseGrid(ds).on_image(plane)

    r, c = np.mgrid[0:30, 0:40]
    points = np.asarray(plane.origin) + c[..., None] * 1.0 * row_dir + r[..., None] * 1.5 * col_dir
    gi, gj, gk = ((points - origin) / (col_step, row_step, plane_step)).transpose(2, 0, 1)
    margin = np.minimum.reduce([gi, columns - 1 - gi, gj, rows - 1 - gj, gk, frames - 1 - gk])
    on_grid, clear = margin >= 0, np.abs(margin) > 0.01  # positions are rounded near an edge
    assert 100 < on_grid.sum() < on_grid.size  # the plane leaves the grid on one side
    np.testing.assert_array_equal(np.isnan(dose)[clear], ~on_grid[clear])
    on_grid &= clear
    expected = 0.001 * (1000 + 10 * gi + 20 * gj + 30 * gk)
    np.testing.assert_allclose(dose[on_grid], expected[on_grid], rtol=1e-5)

    # Rows and columns swapped: still the general path, the plane's transpose.
    swapped = ImagePlane((-50.0, -40.0, -15.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (2.5, 2.0),
                         frame, rows=columns, columns=rows)
    np.testing.assert_allclose(DoseGrid(ds).on_image(swapped),
                               0.001 * (1000 + 10 * i[3] + 20 * j[3] + 30 * 3).T, rtol=1e-6)


def test_isolines_of_a_cone_are_circles_and_the_border_leaves_them_open():
    rows, columns = np.mgrid[0:60, 0:80]
    cone = 100.0 - np.hypot(columns - 30.0, rows - 25.0)  # 100 at (30, 25), falling 1 a pixel
    (circle,) = isolines(cone, 90.0)
    assert np.array_equal(circle[0], circle[-1])
    radius = np.hypot(circle[:, 0] - 30.0, circle[:, 1] - 25.0)
    assert np.abs(radius - 10.0).max() < 0.05 and len(circle) > 40
    (cut,) = isolines(cone, 72.0)  # radius 28: the top border (row 0) cuts it
    assert not np.array_equal(cut[0], cut[-1])
    assert cut[0][1] == 0.0 and cut[-1][1] == 0.0
    cone[20:31, 25:36] = np.nan  # no dose computed there: the line closes around the hole
    assert len(isolines(cone, 90.0)) == 2
    assert isolines(cone, 200.0) == [] and isolines(np.zeros((1, 5)), 0.0) == []


def test_a_saddle_joins_the_corners_the_centre_agrees_with():
    saddle = np.array([[1.0, 0.0], [0.0, 1.0]])  # centre 0.5

    def lines(level):
        return sorted(tuple(sorted(map(tuple, np.round(line, 3).tolist())))
                      for line in isolines(saddle, level))

    # At 0.5 the centre is in: the high corners join, each low corner is cut off.
    assert lines(0.5) == [((0.0, 0.5), (0.5, 1.0)), ((0.5, 0.0), (1.0, 0.5))]
    # At 0.6 the centre is out: each high corner is an island of its own.
    assert lines(0.6) == [((0.0, 0.4), (0.4, 0.0)), ((0.6, 1.0), (1.0, 0.6))]
