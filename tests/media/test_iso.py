"""Burning two studies to an ISO image, checked as a receiving site would:
the image's names (pycdlib), the DICOMDIR (pydicom, DCMTK dcmdump,
dicom3tools dciodvfy), every instance present and byte-identical, the audit."""

from __future__ import annotations

import re
import subprocess

import pydicom
import pytest
from pydicom.fileset import FileSet

from app.accounts import audit
from app.errors import BadInput, NotAllowed
from app.media import BurnOptions, burn, iso, names
from tests.media.conftest import (extract, instances_of, needs_dciodvfy, needs_dcmtk, referenced,
                                  study_uids)


@pytest.fixture
def burnt(media_home, user, tmp_path):
    uids = study_uids(media_home)[:2]
    target = tmp_path / "out" / "referral.iso"
    result = burn(media_home, user, uids, iso_path=target,
                  options=BurnOptions(label="Referral Dr Who"))
    return uids, target, result, extract(target, tmp_path / "extracted")


def test_the_image_lists_the_pdi_files_at_the_root(burnt):
    _uids, target, result, _root = burnt
    assert result.verified and result.complete and len(result.discs) == 1
    entries = iso.listing(target)
    root = {e["iso_path"] for e in entries if e["iso_path"].count("/") == 1}
    assert {"/DICOMDIR.;1", "/README.TXT;1", "/INDEX.HTM;1", "/MANIFEST.TXT;1", "/DICOM",
            "/IHE_PDI"} == root
    rr_root = {e["rr_path"] for e in entries if e["rr_path"].count("/") == 1}
    assert {"/DICOMDIR", "/README.TXT", "/INDEX.HTM", "/MANIFEST.TXT", "/DICOM", "/IHE_PDI"} == rr_root
    assert iso.volume_identifier(target) == "REFERRAL_DR_WHO"


def test_every_name_is_iso_level1_and_never_doubles_the_version(burnt):
    _uids, target, _result, _root = burnt
    for entry in iso.listing(target):
        parts = entry["iso_path"].strip("/").split("/")
        assert len(parts) <= names.MAX_DEPTH
        for folder in parts[:-1]:
            assert names.is_component(folder), entry
        last = parts[-1]
        if entry["is_dir"]:
            assert names.is_component(last), entry
        else:
            assert last.count(";") == 1 and last.endswith(";1"), entry
            assert names.is_iso_level1_file(last[:-2].rstrip(".")), entry
        assert ";" not in entry["rr_path"]  # what Linux and macOS show


def test_joliet_names_carry_no_version(burnt):
    import pycdlib

    _uids, target, _result, _root = burnt
    image = pycdlib.PyCdlib()
    image.open(str(target))
    try:
        shown = [c.file_identifier().decode("utf-16-be") for c in image.list_children(joliet_path="/")
                 if not c.is_dot() and not c.is_dotdot()]
    finally:
        image.close()
    assert sorted(shown) == ["DICOM", "DICOMDIR", "IHE_PDI", "INDEX.HTM", "MANIFEST.TXT", "README.TXT"]


def test_dicomdir_lists_exactly_the_selection_byte_identical(burnt, media_home):
    uids, _target, result, root = burnt
    expected = instances_of(media_home, uids)
    files = referenced(root)
    assert set(files) == set(expected)
    assert result.discs[0].instances == len(expected)
    for sop, path in files.items():
        assert path.read_bytes() == expected[sop].read_bytes()
        parts = path.relative_to(root).parts
        assert 1 <= len(parts) <= 8 and all(re.fullmatch(r"[A-Z0-9_]{1,8}", p) for p in parts)
    on_disc = {p for p in (root / "DICOM").rglob("*") if p.is_file()}
    assert on_disc == set(files.values())


def test_pydicom_reads_the_file_set(burnt):
    uids, _target, _result, root = burnt
    fs = FileSet(root / "DICOMDIR")
    assert fs.ID == "REFERRAL_DR_WHO"
    assert set(fs.find_values("StudyInstanceUID")) == set(uids)
    ds = pydicom.dcmread(root / "DICOMDIR")
    assert ds.file_meta.MediaStorageSOPClassUID == "1.2.840.10008.1.3.10"
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    kinds = {r.DirectoryRecordType for r in ds.DirectoryRecordSequence}
    assert {"PATIENT", "STUDY", "SERIES", "IMAGE", "RT STRUCTURE SET", "RT PLAN", "RT DOSE"} <= kinds
    for instance in fs:  # every record's object loads and is what the record says
        loaded = instance.load()
        assert loaded.SOPInstanceUID == instance.ReferencedSOPInstanceUIDInFile


@needs_dcmtk
def test_dcmtk_reads_the_dicomdir(burnt):
    _uids, _target, _result, root = burnt
    run = subprocess.run(["dcmdump", "-dc", str(root / "DICOMDIR")], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "E:" not in run.stderr and "W:" not in run.stderr, run.stderr
    assert run.stdout.count("DirectoryRecordType") > 10
    # DCMTK follows the offsets: each record shows where it sits
    assert "offset=$" in subprocess.run(["dcmdump", "+L", str(root / "DICOMDIR")],
                                        capture_output=True, text=True, timeout=60).stdout


@needs_dciodvfy
def test_dciodvfy_finds_no_error_in_the_dicomdir(burnt):
    _uids, _target, _result, root = burnt
    run = subprocess.run(["dciodvfy", str(root / "DICOMDIR")], capture_output=True, text=True,
                         timeout=120)
    report = run.stdout + run.stderr
    assert "BasicDirectory" in report
    assert "Error" not in report, report
    assert "Warning" not in report, report


def test_the_burn_is_audited_as_an_export(burnt, media_home):
    uids, target, _result, _root = burnt
    db = media_home.connect()
    try:
        entries = [e for e in audit.entries(db) if e["action"] == "burn"]
    finally:
        db.close()
    assert len(entries) == 1
    entry = entries[0]
    assert (entry["event_code"], entry["outcome"]) == (audit.EXPORT, audit.SUCCESS)
    assert entry["objects"] == uids and str(target) in entry["detail"]


def test_a_user_without_export_privilege_cannot_burn(media_home, user, tmp_path):
    from app.accounts import accounts

    db = media_home.connect()
    try:
        researcher = accounts.add_user(db, user, "rita", ["researcher"])
    finally:
        db.close()
    with pytest.raises(NotAllowed, match="export privilege"):
        burn(media_home, researcher, study_uids(media_home)[:1], iso_path=tmp_path / "x.iso")
    assert not (tmp_path / "x.iso").exists()


def test_exactly_one_target(media_home, user, tmp_path):
    with pytest.raises(BadInput):
        burn(media_home, user, study_uids(media_home)[:1])
    with pytest.raises(BadInput):
        burn(media_home, user, study_uids(media_home)[:1], iso_path=tmp_path / "a.iso",
             device="stdio:" + str(tmp_path / "b.iso"))


def test_no_temporary_files_are_left(burnt, media_home):
    assert not [p for p in media_home.tmp.rglob("*") if p.is_file()]


def test_a_long_label_is_cut_to_what_every_system_shows(media_home, user, tmp_path):
    target = tmp_path / "long.iso"
    burn(media_home, user, study_uids(media_home)[:1], iso_path=target,
         options=BurnOptions(label="Referral to the university hospital, radiology", verify=False))
    assert iso.volume_identifier(target) == "REFERRAL_TO_THE"


def test_implicit_vr_objects_are_stored_explicit_as_the_cd_profile_asks(media_home, user, tmp_path):
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    from app.home import os_login
    from app.importing.importer import import_paths
    from tests.factories import ct_dataset, write

    originals = []
    for number in (1, 2):
        ds = ct_dataset(patient_id="IMPL", study="implicit", number=number)
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        originals.append(write(ds, tmp_path / "implicit" / f"{number}.dcm"))
    result = import_paths(media_home, [tmp_path / "implicit"], os_login())
    target = tmp_path / "implicit.iso"
    assert burn(media_home, user, result.studies, iso_path=target).verified
    root = extract(target, tmp_path / "x")
    ds = pydicom.dcmread(root / "DICOMDIR")
    leaves = [r for r in ds.DirectoryRecordSequence if "ReferencedFileID" in r]
    assert {r.ReferencedTransferSyntaxUIDInFile for r in leaves} == {ExplicitVRLittleEndian}
    for leaf in leaves:
        on_disc = pydicom.dcmread(root.joinpath(*leaf.ReferencedFileID))
        assert on_disc.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert not on_disc.original_encoding[0]  # explicit VR indeed
        source = next(pydicom.dcmread(p) for p in originals
                      if pydicom.dcmread(p).SOPInstanceUID == on_disc.SOPInstanceUID)
        assert on_disc.PixelData == source.PixelData and on_disc.PatientName == source.PatientName
