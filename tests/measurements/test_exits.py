"""A measurement report leaves the workstation like any instance, by every
exit a user has, and comes back as a report: a plain ZIP and one with a
DICOMDIR, an anonymised ZIP (the UIDs inside the report mapped to the same
new UIDs as the images it measures), a disc image (plain or anonymised)
imported again into a new home, a send to a real PACS (Orthanc) and a retrieve from it into a new home,
and research staging. The DICOMDIRs and the reports are checked with
dicom3tools' dciodvfy, as a receiving site would."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from app import store
from app.home import Home
from app.measurements.sr_read import is_measurement_report, read_measurements
from tests.measurements.conftest import needs_dciodvfy, run
from tests.media.conftest import extract, needs_xorriso, referenced
from tests.net.conftest import OUR_AET, orthanc  # noqa: F401 - the fixture, a real PACS

WELL_KNOWN = "1.2.840.10008."  # SOP classes, transfer syntaxes: never mapped


def _kept_as_is(place: tuple, value: str) -> bool:
    """A UID naming no one: the standard's own, or a class (the writer's
    Implementation Class UID included) or transfer syntax."""
    keyword = pydicom.datadict.keyword_for_tag(place[-1])
    return value.startswith(WELL_KNOWN) or keyword.endswith("ClassUID") or "TransferSyntax" in keyword


# --- a study with measurements, and what is checked of it -------------------

@pytest.fixture
def measured(ct_home, capsys):
    """ct_home with two lengths measured (images 2 and 3 of the spaced
    series), each kept in a report of its own: (home, study UID, what
    `measurements` lists)."""
    home, spaced, _, study = ct_home
    for image, line, label in (("2", ("1", "1", "9", "9"), "lesion A"),
                               ("3", ("0", "4", "12", "4"), "lesion B")):
        code, _, err = run(home, capsys, "measure", spaced, "--image", image, "--line", *line,
                           "--label", label)
        assert code == 0, err
    code, listed, _ = run(home, capsys, "measurements", study)
    assert code == 0 and len({m["report_uid"] for m in listed}) == 2
    return home, study, listed


def _dciodvfy(path: Path) -> list[str]:
    """dciodvfy's error and warning lines for one file."""
    done = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
    return [line for line in (done.stdout + done.stderr).splitlines()
            if line.startswith(("Error", "Warning"))]


def _errors(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("Error")]


def _cached(home: Path, sop_uid: str) -> Path:
    db = Home(home).connect()
    try:
        (path,) = db.execute("SELECT path FROM instances WHERE sop_instance_uid = ?",
                             [sop_uid]).fetchone()
        return store.absolute(Home(home), path)
    finally:
        db.close()


def _study_files(home: Path, study: str) -> list[Dataset]:
    db = Home(home).connect()
    try:
        paths = [store.absolute(Home(home), p) for (p,) in db.execute(
            "SELECT i.path FROM instances i JOIN series s USING (series_instance_uid)"
            " WHERE s.study_instance_uid = ?", [study])]
    finally:
        db.close()
    return [pydicom.dcmread(p) for p in paths]


def _zip_members(path: Path) -> dict[str, Dataset]:
    with zipfile.ZipFile(path) as z:
        return {name: pydicom.dcmread(io.BytesIO(z.read(name))) for name in z.namelist()
                if name != "DICOMDIR" and not name.endswith((".json", ".html"))}


def _sr_records(dicomdir: Path) -> list[Dataset]:
    ds = pydicom.dcmread(dicomdir)
    return [r for r in ds.DirectoryRecordSequence if r.DirectoryRecordType == "SR DOCUMENT"]


def _check_sr_record(record: Dataset, report: Dataset) -> None:
    """PS3.3 F.5 (SR Document Keys): the document title, and in the Content
    Sequence all and only the root's HAS CONCEPT MOD items, without children."""
    assert record.ConceptNameCodeSequence[0].CodeValue == report.ConceptNameCodeSequence[0].CodeValue
    modifiers = [i for i in report.ContentSequence if i.RelationshipType == "HAS CONCEPT MOD"]
    assert modifiers, "a TID 1500 report names its language and procedure"
    assert [i.ConceptNameCodeSequence[0].CodeValue for i in record.ContentSequence] == \
        [i.ConceptNameCodeSequence[0].CodeValue for i in modifiers]
    assert all(i.RelationshipType == "HAS CONCEPT MOD" and "ContentSequence" not in i
               for i in record.ContentSequence)
    assert (record.CompletionFlag, record.VerificationFlag) == ("COMPLETE", "UNVERIFIED")


# --- the UID map, checked inside the report ----------------------------------

def _key(ds: Dataset) -> tuple:
    return (str(ds.Modality), int(ds.SeriesNumber), int(ds.InstanceNumber))


def uid_map(originals: list[Dataset], copies: list[Dataset]) -> dict[str, str]:
    """Original UID -> new UID of each image, read from the files on both
    sides (an image is known by modality, series and instance number)."""
    before = {_key(ds): ds for ds in originals if "PixelData" in ds}
    after = {_key(ds): ds for ds in copies if "PixelData" in ds}
    assert len(before) == len([ds for ds in originals if "PixelData" in ds])  # keys are unique
    assert set(before) == set(after)
    mapped: dict[str, str] = {}
    for key, old in before.items():
        for keyword in ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "FrameOfReferenceUID"):
            if keyword in old:
                new = str(after[key][keyword].value)
                assert mapped.setdefault(str(old[keyword].value), new) == new
    return mapped


def _uids(ds: Dataset, path: tuple = ()) -> dict[tuple, str]:
    """Every UI value of *ds*, nested items included, by its place."""
    out: dict[tuple, str] = {}
    for elem in ds:
        if elem.VR == "SQ":
            for n, item in enumerate(elem.value):
                out.update(_uids(item, path + (elem.tag, n)))
        elif elem.VR == "UI" and elem.value:
            out[path + (elem.tag,)] = str(elem.value)
    return out


def check_report_mapped(original: Dataset, copy: Dataset, mapped: dict[str, str]) -> int:
    """Every UID inside the report: an image's UID became that image's new
    UID, the report's own UIDs (its instance, series, tracking UIDs) are new
    too, and the well-known ones are untouched. Returns how many image
    references were checked."""
    before = {**_uids(original), **_uids(original.file_meta, ("meta",))}
    after = {**_uids(copy), **_uids(copy.file_meta, ("meta",))}
    references = 0
    for place, old in before.items():
        if _kept_as_is(place, old):
            assert after.get(place) == old, place
        elif old in mapped:
            assert after.get(place) == mapped[old], (place, old)
            references += place[-1] == pydicom.tag.Tag("ReferencedSOPInstanceUID")
        else:
            assert after.get(place) != old, (place, old)  # new, or gone
    leftover = {u for p, u in before.items() if not _kept_as_is(p, u)} & set(after.values())
    assert not leftover, leftover
    return references


def _reports(datasets) -> dict[str, Dataset]:
    """The measurement reports among *datasets*, by the image each measures."""
    out = {}
    for ds in datasets:
        if is_measurement_report(ds):
            (image,) = {f.image_uid for f in read_measurements(ds)}
            out[image] = ds
    return out


def _by_image(reports) -> list[tuple]:
    """The values a user compares (a label is free text, which the
    de-identification profile cleans)."""
    return sorted((f.image_uid, f.kind, round(f.value, 6)) for report in reports
                  for f in read_measurements(report))


def check_reports_mapped(originals: list[Dataset], copies: list[Dataset], mapped: dict[str, str]) -> None:
    """Each original report against its copy (the one measuring the same
    image under its new UID): its UIDs mapped, its values the same."""
    before, after = _reports(originals), _reports(copies)
    assert len(before) == 2 and set(after) == {mapped[image] for image in before}
    for image, original in before.items():
        copy = after[mapped[image]]
        # each length: its SCOORD's image, the Image Library and the evidence
        assert check_report_mapped(original, copy, mapped) == 3
        assert str(copy.StudyInstanceUID) == mapped[str(original.StudyInstanceUID)]
        assert copy.PertinentOtherEvidenceSequence[0].StudyInstanceUID == copy.StudyInstanceUID
    assert _by_image(after.values()) == sorted(
        (mapped[image], kind, value) for image, kind, value in _by_image(before.values()))


# --- (1) export: a plain ZIP and one with a DICOMDIR -------------------------

def _kept(home: Path, listed: list[dict]) -> dict[str, bytes]:
    """Each report's file as the cache keeps it, by its UID."""
    return {u: _cached(home, u).read_bytes() for u in {m["report_uid"] for m in listed}}


@needs_dciodvfy
def test_export_and_its_dicomdir_carry_the_reports(measured, capsys, tmp_path):
    home, study, listed = measured
    kept = _kept(home, listed)

    code, _, err = run(home, capsys, "export", study, "--zip", str(tmp_path / "plain.zip"))
    assert code == 0, err
    with zipfile.ZipFile(tmp_path / "plain.zip") as z:
        carried = sorted(z.read(n) for n in z.namelist() if z.read(n) in kept.values())
    assert carried == sorted(kept.values())  # the reports as they are kept, byte for byte

    code, _, err = run(home, capsys, "export", study, "--zip", str(tmp_path / "dir.zip"), "--dicomdir")
    assert code == 0, err
    folder = tmp_path / "dir"
    zipfile.ZipFile(tmp_path / "dir.zip").extractall(folder)
    assert _dciodvfy(folder / "DICOMDIR") == []
    records = _sr_records(folder / "DICOMDIR")
    assert {r.ReferencedSOPInstanceUIDInFile for r in records} == set(kept)
    for record in records:
        report_file = folder.joinpath(*record.ReferencedFileID)
        assert report_file.read_bytes() == kept[record.ReferencedSOPInstanceUIDInFile]
        _check_sr_record(record, pydicom.dcmread(report_file))


# --- (2) export --anonymise ---------------------------------------------------

@needs_dciodvfy
def test_anonymised_export_maps_every_uid_inside_the_reports(measured, capsys, tmp_path):
    home, study, listed = measured
    target = tmp_path / "anon.zip"
    code, done, err = run(home, capsys, "export", study, "--zip", str(target), "--anonymise",
                          "--dicomdir")
    assert code == 0, err
    assert done["residual_scan"]["passed"] is True

    copies = list(_zip_members(target).values())
    originals = _study_files(home, study)
    mapped = uid_map(originals, copies)
    check_reports_mapped(originals, copies, mapped)
    # the patient of the reports is the images' pseudonymous patient
    assert len({(ds.PatientID, str(ds.PatientName)) for ds in copies}) == 1
    assert not {(ds.PatientID, str(ds.PatientName)) for ds in copies} & {("P1", "DOE^JOHN")}

    folder = tmp_path / "anon"
    zipfile.ZipFile(target).extractall(folder)
    # the pseudonym in the PATIENT record draws a warning (a one-component
    # Person Name), as for any anonymised study: errors only
    assert _errors(_dciodvfy(folder / "DICOMDIR")) == []
    records = _sr_records(folder / "DICOMDIR")
    assert len(records) == 2
    for record in records:
        report_file = folder.joinpath(*record.ReferencedFileID)
        _check_sr_record(record, pydicom.dcmread(report_file))
        assert _errors(_dciodvfy(report_file)) == []


# --- (3) a disc: burnt, checked, imported again ------------------------------

@needs_xorriso
@needs_dciodvfy
def test_a_burnt_disc_carries_the_reports_and_brings_them_back(measured, capsys, tmp_path):
    home, study, listed = measured
    kept = _kept(home, listed)
    image = tmp_path / "study.iso"
    code, burnt, err = run(home, capsys, "burn", study, "--iso", str(image), "--label", "reports")
    assert code == 0, err
    assert burnt["verified"] is True
    root = extract(image, tmp_path / "disc")
    assert _dciodvfy(root / "DICOMDIR") == []
    records = _sr_records(root / "DICOMDIR")
    assert {r.ReferencedSOPInstanceUIDInFile for r in records} == set(kept)
    for record in records:
        report_file = root.joinpath(*record.ReferencedFileID)
        assert report_file.read_bytes() == kept[record.ReferencedSOPInstanceUIDInFile]
        _check_sr_record(record, pydicom.dcmread(report_file))

    fresh = tmp_path / "fresh"
    code, imported, err = run(fresh, capsys, "import", str(root))
    assert code == 0 and imported["rejected"] == [], err
    code, again, _ = run(fresh, capsys, "measurements", study)
    assert code == 0 and again == listed


@needs_xorriso
@needs_dciodvfy
def test_an_anonymised_disc_keeps_the_reports_on_its_own_images(measured, capsys, tmp_path):
    home, study, listed = measured
    image = tmp_path / "anon.iso"
    code, burnt, err = run(home, capsys, "burn", study, "--iso", str(image), "--anonymise")
    assert code == 0 and burnt["verified"] is True, err
    root = extract(image, tmp_path / "disc")
    assert _errors(_dciodvfy(root / "DICOMDIR")) == []
    records = _sr_records(root / "DICOMDIR")
    assert len(records) == 2
    for record in records:
        _check_sr_record(record, pydicom.dcmread(root.joinpath(*record.ReferencedFileID)))
    copies = [pydicom.dcmread(path) for path in referenced(root).values()]
    originals = _study_files(home, study)
    mapped = uid_map(originals, copies)
    check_reports_mapped(originals, copies, mapped)

    fresh = tmp_path / "fresh"
    code, imported, err = run(fresh, capsys, "import", str(root))
    assert code == 0 and imported["rejected"] == [], err
    code, again, _ = run(fresh, capsys, "measurements", mapped[study])
    assert code == 0
    assert sorted((m["image_uid"], m["kind"], round(m["value"], 6)) for m in again) == sorted(
        (mapped[m["image_uid"]], m["kind"], round(m["value"], 6)) for m in listed)


# --- (4) send to a PACS, retrieve into a new home -----------------------------

def _node_home(home: Path, capsys, pacs) -> None:
    for args in (("config", "set", "aet", OUR_AET), ("config", "set", "port", str(pacs.our_port)),
                 ("node", "add", "pacs", "--aet", pacs.aet, "--host", "127.0.0.1",
                  "--port", str(pacs.port))):
        code, _, err = run(home, capsys, *args)
        assert code == 0, err


def _find(pacs, level: str, study: str) -> list:
    query = {"Level": level, "Expand": True, "Query": {"StudyInstanceUID": study}}
    return pacs.rest("/tools/find", "POST", json.dumps(query).encode())


@pytest.mark.network
def test_send_delivers_the_reports_and_retrieve_brings_the_measurements(
        measured, capsys, tmp_path, orthanc):  # noqa: F811 - the imported fixture
    home, study, listed = measured
    _node_home(home, capsys, orthanc)
    code, sent, err = run(home, capsys, "send", study, "--to", "pacs")
    assert code == 0 and sent["failed"] == [], err
    held = {i["MainDicomTags"]["SOPInstanceUID"] for i in _find(orthanc, "Instance", study)}
    assert {m["report_uid"] for m in listed} <= held
    (pacs_study,) = _find(orthanc, "Study", study)
    series = orthanc.rest(f"/studies/{pacs_study['ID']}/series")
    assert "SR" in {s["MainDicomTags"]["Modality"] for s in series}

    fresh = tmp_path / "fresh"
    _node_home(fresh, capsys, orthanc)
    code, got, err = run(fresh, capsys, "retrieve", "pacs", study)
    assert code == 0 and got["failed"] == [], err
    code, again, _ = run(fresh, capsys, "measurements", study)
    assert code == 0 and again == listed


# --- (5) research staging -----------------------------------------------------

def test_staging_pseudonymises_the_reports_with_their_images(measured, capsys, tmp_path):
    home, study, _listed = measured
    code, series, _ = run(home, capsys, "series", study)
    assert code == 0
    for args in (("project", "create", "TRIAL"),
                 ("project", "enrol", "TRIAL", "--patient-id", "P1", "--pid", "PSN01",
                  "--subject", "S01")):
        code, _, err = run(home, capsys, *args)
        assert code == 0, err
    code, staged, err = run(home, capsys, "stage", "TRIAL", *[s["series_uid"] for s in series])
    assert code == 0, err
    assert sorted(staged["staged"]) == sorted(s["series_uid"] for s in series)
    code, _, err = run(home, capsys, "project", "export", "TRIAL", "--zip", str(tmp_path / "trial.zip"))
    assert code == 0, err

    copies = list(_zip_members(tmp_path / "trial.zip").values())
    check_reports_mapped(_study_files(home, study), copies, uid_map(_study_files(home, study), copies))
    assert {(ds.PatientID, str(ds.PatientName)) for ds in copies} == {("PSN01", "S01")}
    assert len({str(ds.StudyInstanceUID) for ds in copies}) == 1



def test_a_key_object_record_keeps_only_the_title_modifiers():
    """The same rule for a KEY OBJECT DOC record (PS3.3 Table F.5-26); the
    document itself is left as it was."""
    from pydicom.fileset import DIRECTORY_RECORDERS

    from app.export.dicomdir import document_keys

    def item(relationship: str, code: str, **more) -> Dataset:
        ds = Dataset()
        ds.RelationshipType, ds.ValueType = relationship, "CODE"
        ds.ConceptNameCodeSequence = [Dataset()]
        ds.ConceptNameCodeSequence[0].update({"CodeValue": code, "CodingSchemeDesignator": "DCM",
                                              "CodeMeaning": code})
        ds.update(more)
        return ds

    kos = item("", "113001", InstanceNumber=1, ContentDate="20240101", ContentTime="120000")
    kos.ContentSequence = [item("HAS CONCEPT MOD", "113011", ContentSequence=[item("HAS CONCEPT MOD", "1")]),
                           item("CONTAINS", "113012")]
    (kept,) = document_keys("KEY OBJECT DOC", DIRECTORY_RECORDERS["KEY OBJECT DOC"](kos)).ContentSequence
    assert kept.ConceptNameCodeSequence[0].CodeValue == "113011" and "ContentSequence" not in kept
    assert len(kos.ContentSequence) == 2 and "ContentSequence" in kos.ContentSequence[0]
    kos.ContentSequence = kos.ContentSequence[1:]  # no modifier: no sequence (Type 1C)
    record = document_keys("KEY OBJECT DOC", DIRECTORY_RECORDERS["KEY OBJECT DOC"](kos))
    assert "ContentSequence" not in record
