"""Measurements kept as DICOM SR reports in the cache: `measure` and
`measurements` (CLI.md), the report's place in the study, its conformance
(dciodvfy), regions in Hounsfield units, frames of a multi-frame image."""

from __future__ import annotations

import math
import subprocess

import numpy as np
import pydicom
import pytest

from app import store
from app.accounts import accounts, audit
from app.home import Home, os_login
from app.measurements import index, record
from app.measurements.sr_read import read_measurements
from tests.factories import ct_dataset, uid
from tests.measurements.conftest import COLUMN_MM, ROW_MM, needs_dciodvfy, run


def _report_path(home, report_uid: str):
    db = Home(home).connect()
    try:
        (path,) = db.execute("SELECT path FROM instances WHERE sop_instance_uid = ?",
                             [report_uid]).fetchone()
        return store.absolute(Home(home), path)
    finally:
        db.close()


def _dciodvfy_errors(path) -> list[str]:
    run_ = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    report = run_.stdout + run_.stderr
    return [line for line in report.splitlines() if line.startswith(("Error", "Warning"))]


def test_measure_keeps_a_length_report_in_the_study(ct_home, capsys):
    home, spaced, _, study = ct_home
    db = Home(home).connect()
    assert not index.is_advanced_reporting(db, study)
    assert index.advanced_reporting_studies(db, [study]) == set()
    db.close()
    code, done, err = run(home, capsys, "measure", spaced, "--image", "2",
                          "--line", "2.5", "3", "10.5", "9", "--label", "lesion A")
    assert code == 0, err
    assert set(done) == {"report_uid", "length_mm"}
    # 8 columns of 0.75 mm across, 6 rows of 0.5 mm down
    assert done["length_mm"] == pytest.approx(math.hypot(8 * COLUMN_MM, 6 * ROW_MM))

    code, studies, _ = run(home, capsys, "studies")
    assert studies[0]["instance_count"] == 3 + 3 + 1 + 1 and "SR" in studies[0]["modalities"]
    code, series, _ = run(home, capsys, "series", study)
    reports = [s for s in series if s["modality"] == "SR"]
    assert len(reports) == 1 and reports[0]["instance_count"] == 1

    code, listed, _ = run(home, capsys, "measurements", study)
    assert code == 0
    assert listed == [{"report_uid": done["report_uid"], "image_uid": uid("P1", "s1", "spaced", 2),
                       "kind": "length", "value": pytest.approx(done["length_mm"]), "unit": "mm",
                       "label": "lesion A"}]
    db = Home(home).connect()
    try:
        assert index.is_advanced_reporting(db, study)
        assert index.advanced_reporting_studies(db, [study, uid("P9", "none")]) == {study}
        assert [r["report_uid"] for r in index.reports_of(db, study)] == [done["report_uid"]]
        (entry,) = [e for e in audit.entries(db) if e["action"] == "measure"]
        assert done["report_uid"] in entry["objects"] and entry["outcome"] == audit.SUCCESS
    finally:
        db.close()

    # a second measurement joins the same report series, the next instance
    code, again, _ = run(home, capsys, "measure", spaced[:-2], "--image", "1",
                         "--line", "0", "0", "0", "10")
    assert code == 0 and again["length_mm"] == pytest.approx(10 * ROW_MM)
    code, series, _ = run(home, capsys, "series", study)
    assert [s["instance_count"] for s in series if s["modality"] == "SR"] == [2]
    code, listed, _ = run(home, capsys, "measurements", study)
    assert [m["report_uid"] for m in listed] == [done["report_uid"], again["report_uid"]]


@pytest.mark.parametrize("args, exit_code, words", [
    (["1.2.826.0.1.3680043.10.1125.9999", "--image", "1"], 4, "not in the cache"),
    (["SPACED", "--image", "4"], 2, "out of range, the series has 3 image(s)"),
    (["SPACED", "--image", "0"], 2, "out of range"),
    (["BARE", "--image", "1"], 5, "Pixel Spacing (0028,0030) or Imager Pixel Spacing (0018,1164)"),
])
def test_measure_refusals_have_exit_codes_and_name_the_rule(ct_home, capsys, args, exit_code, words):
    home, spaced, bare, study = ct_home
    args = [{"SPACED": spaced, "BARE": bare}.get(a, a) for a in args]
    code, document, err = run(home, capsys, "measure", *args, "--line", "1", "1", "5", "5")
    assert code == exit_code and document is None
    assert words in err and len(err.strip().splitlines()) == 1
    code, listed, _ = run(home, capsys, "measurements", study)
    assert listed == []


def test_a_point_outside_the_image_is_bad_usage(ct_home, capsys):
    home, spaced, _, _ = ct_home
    code, _, err = run(home, capsys, "measure", spaced, "--image", "1", "--line", "1", "1", "40", "5")
    assert code == 2 and "outside the image" in err


def test_a_length_of_one_point_is_bad_usage_and_keeps_nothing(ct_home, capsys):
    home, spaced, _, study = ct_home
    code, _, err = run(home, capsys, "measure", spaced, "--image", "1", "--line", "10", "10", "10", "10")
    assert code == 2 and "two different points" in err
    assert run(home, capsys, "measurements", study)[1] == []


@needs_dciodvfy
def test_the_reports_pass_dciodvfy_and_read_back(ct_home, capsys):
    home, spaced, _, study = ct_home
    user = _user(home)
    length = record.measure_length(Home(home), user, spaced, 1, (1, 1), (20, 20), "é label")
    region = record.measure_region(Home(home), user, spaced, 3, "polygon",
                                   [(4, 4), (20, 4), (20, 12), (4, 12)], "roi")
    ellipse = record.measure_region(Home(home), user, spaced, 2, "ellipse",
                                    [(6, 10), (26, 10), (16, 4), (16, 16)])
    mf_series = uid("P1", "s1", "mf")
    angle = record.measure_angle(Home(home), user, mf_series, 1, (20, 5), (5, 5), (5, 20),
                                 frame=2)
    assert angle["angle_deg"] == pytest.approx(90)
    for done in (length, region, ellipse, angle):
        path = _report_path(home, done["report_uid"])
        assert _dciodvfy_errors(path) == [], path
    ds = pydicom.dcmread(_report_path(home, angle["report_uid"]))
    (found,) = read_measurements(ds)
    assert (found.kind, found.unit, found.frame) == ("angle", "deg", 2)
    assert found.image_uid == uid("P1", "s1", "mf", "enhanced")
    assert found.points == [(20, 5), (5, 5), (5, 20)]
    ds = pydicom.dcmread(_report_path(home, length["report_uid"]))
    image = pydicom.dcmread(_report_path(home, uid("P1", "s1", "spaced", 1)))
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "StudyInstanceUID",
                    "AccessionNumber", "StudyDate"):
        assert ds[keyword].value == image[keyword].value
    assert ds.Modality == "SR" and ds.SeriesInstanceUID != image.SeriesInstanceUID
    assert read_measurements(ds)[0].label == "é label"


def test_region_statistics_are_in_hounsfield_units(ct_home):
    home, spaced, _, _ = ct_home
    done = record.measure_region(Home(home), _user(home), spaced, 3, "polygon",
                                 [(4, 4), (20, 4), (20, 12), (4, 12)], "roi")
    # the factory's pixels, rescaled by hand: stored = disc * 1064 + 4 * x + 3, intercept -1024
    size = 32
    y, x = np.mgrid[:size, :size]
    disc = ((x - size / 2) ** 2 + (y - size / 2) ** 2) < (size / 3) ** 2
    hu = (disc * 1064 + x * 4 + 3).astype(float) - 1024
    block = hu[4:12, 4:20]
    assert done["unit"] == "[hnsf'U]"
    assert done["mean"] == pytest.approx(block.mean()) and done["std"] == pytest.approx(block.std())
    assert (done["min"], done["max"]) == (block.min(), block.max())
    assert done["area_mm2"] == pytest.approx(16 * 8 * ROW_MM * COLUMN_MM)
    db = Home(home).connect()
    try:
        listed = {m.kind: m for m in index.measurements_of(db, uid("P1", "s1"))}
    finally:
        db.close()
    assert set(listed) == {"area", "mean", "std", "min", "max"}
    assert listed["mean"].value == pytest.approx(block.mean()) and listed["area"].unit == "mm2"
    assert listed["mean"].graphic_type == "POLYLINE" and listed["mean"].points[0] == \
        listed["mean"].points[-1]  # the region's polyline is closed


def test_a_report_is_refused_in_a_study_another_user_locked(ct_home, capsys):
    home, spaced, _, study = ct_home
    db = Home(home).connect()
    db.execute("INSERT INTO locks (study_instance_uid, user, time) VALUES (?, 'someone', '')", [study])
    db.conn.commit()
    db.close()
    code, _, err = run(home, capsys, "measure", spaced, "--image", "1", "--line", "1", "1", "5", "5")
    assert code == 5 and "locked by someone" in err


def _user(home):
    db = Home(home).connect()
    try:
        return accounts.get_user(db, os_login())
    finally:
        db.close()


def test_the_factory_ct_has_no_spacing():
    """The BARE series of the fixture is the factory's CT as it is."""
    assert "PixelSpacing" not in ct_dataset() and "ImagerPixelSpacing" not in ct_dataset()


def test_image_n_is_the_viewers_image_n(tmp_path, capsys):
    """Without Instance Numbers, image N is the one `render --image N` draws
    (the viewer's display order: by position along the slice normal)."""
    from app.viewer.series import series_images
    from tests.factories import write

    for n, z in ((1, 30.0), (2, 10.0), (3, 20.0)):
        ds = ct_dataset("P9", study="s9", series="noinst", number=n)
        del ds.InstanceNumber
        ds.PixelSpacing = [ROW_MM, COLUMN_MM]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, z]
        write(ds, tmp_path / "src" / f"{n}.dcm")
    home = tmp_path / "home"
    assert run(home, capsys, "import", str(tmp_path / "src"))[0] == 0
    series = uid("P9", "s9", "noinst")
    code, done, err = run(home, capsys, "measure", series, "--image", "1", "--line", "0", "0", "4", "0")
    assert code == 0, err
    code, listed, _ = run(home, capsys, "measurements", uid("P9", "s9"))
    db = Home(home).connect()
    try:
        first = series_images(Home(home), db, series)[0].sop_instance_uid
    finally:
        db.close()
    assert listed[0]["image_uid"] == first == uid("P9", "s9", "noinst", 2)  # z = 10, the lowest


def test_measurements_of_an_unknown_study_is_not_found(ct_home, capsys):
    home, _, _, _ = ct_home
    code, _, err = run(home, capsys, "measurements", "1.2.826.0.1.3680043.10.1125.424242")
    assert code == 4 and "not in the cache" in err


def test_an_imported_report_counts_and_another_sr_does_not(tmp_path, capsys):
    """Advanced Reporting follows the files: a measurement report that
    arrives by import counts; a Comprehensive SR with another title does not."""
    from app.measurements.sr import ImageRef, Measurement, ReportSeries, Value, build_report
    from tests.factories import write

    image = ct_dataset("P7", study="s7", series="ct")
    write(image, tmp_path / "src" / "ct.dcm")
    ref = ImageRef(str(image.SOPClassUID), str(image.SOPInstanceUID), str(image.SeriesInstanceUID))
    m = Measurement(ref, "POLYLINE", [(1, 1), (3, 3)], [Value("length", 2.0, "mm")], "by hand")
    other = build_report(image, [m], ReportSeries(uid("P7", "s7", "other"), 90, 1), "someone")
    other.ConceptNameCodeSequence[0].CodeValue = "18748-4"
    other.ConceptNameCodeSequence[0].CodingSchemeDesignator = "LN"
    write(other, tmp_path / "src" / "other.dcm")
    home = tmp_path / "home"
    assert run(home, capsys, "import", str(tmp_path / "src"))[0] == 0
    db = Home(home).connect()
    try:
        assert not index.is_advanced_reporting(db, uid("P7", "s7"))
    finally:
        db.close()
    report = build_report(image, [m], ReportSeries(uid("P7", "s7", "sr"), 91, 1), "someone")
    write(report, tmp_path / "more" / "report.dcm")
    assert run(home, capsys, "import", str(tmp_path / "more"))[0] == 0
    code, listed, _ = run(home, capsys, "measurements", uid("P7", "s7"))
    assert [(m["report_uid"], m["label"], m["value"]) for m in listed] == \
        [(str(report.SOPInstanceUID), "by hand", 2.0)]
