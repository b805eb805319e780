"""Reading discs back into a cache: StudyDesk's own discs (DICOMDIR first,
with a count check of records against the files found), and other vendors'
discs: lower-case names, no DICOMDIR, web content beside the images."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.home import os_login
from app.importing.importer import import_paths
from app.media import burn
from app.startup import open_home
from tests.factories import ct_dataset, write
from tests.media.conftest import extract, instances_of, study_uids


@pytest.fixture
def disc(media_home, user, tmp_path) -> tuple[Path, set[str]]:
    uids = study_uids(media_home)[:2]
    burn(media_home, user, uids, iso_path=tmp_path / "disc.iso")
    return extract(tmp_path / "disc.iso", tmp_path / "mounted"), set(instances_of(media_home, uids))


def _import(tmp_path, path):
    other = open_home(tmp_path / "other")
    result = import_paths(other, [path], os_login())
    db = other.connect()
    try:
        sops = {u for (u,) in db.execute("SELECT sop_instance_uid FROM instances")}
    finally:
        db.close()
    return result, sops


def _lower_case(root: Path) -> None:
    for path in sorted(root.rglob("*"), key=lambda p: -len(p.parts)):
        path.rename(path.with_name(path.name.lower()))


def test_our_disc_imports_whole(disc, tmp_path):
    root, expected = disc
    result, sops = _import(tmp_path, root)
    assert (result.imported, result.rejected) == (len(expected), [])
    assert sops == expected


def test_our_disc_through_its_dicomdir_file(disc, tmp_path):
    root, expected = disc
    result, sops = _import(tmp_path, root / "DICOMDIR")
    assert (result.imported, result.rejected, sops) == (len(expected), [], expected)


def test_a_disc_mounted_with_lower_case_names(disc, tmp_path):
    root, expected = disc
    _lower_case(root)
    assert (root / "dicomdir").is_file() and (root / "ihe_pdi").is_dir()
    result, sops = _import(tmp_path, root)
    assert (result.imported, result.rejected, sops) == (len(expected), [], expected)


def test_a_vendor_disc_without_dicomdir(disc, tmp_path):
    root, expected = disc
    (root / "DICOMDIR").unlink()
    _lower_case(root)
    (root / "autorun.inf").write_text("[autorun]\n")
    result, sops = _import(tmp_path, root)
    # web pages, previews and texts are the disc's, not images refused
    assert (result.imported, result.rejected, sops) == (len(expected), [], expected)


def test_count_check_finds_files_the_dicomdir_does_not_list(disc, tmp_path):
    root, expected = disc
    extra = ct_dataset(patient_id="EXTRA", study="x", number=1)
    write(extra, root / "DICOM" / "PAT00099" / "IM000001")
    result, sops = _import(tmp_path, root)
    assert sops == expected | {extra.SOPInstanceUID}  # nothing on the disc is left behind
    (count,) = result.rejected
    assert count["path"] == str(root / "DICOMDIR")
    assert count["reason"] == (f"count check: the DICOMDIR lists {len(expected)} of the "
                               f"{len(expected) + 1} DICOM files on the medium; the 1 it does "
                               "not list were imported as well")


def test_count_check_names_records_whose_file_is_missing(disc, tmp_path):
    root, expected = disc
    victim = next(p for p in (root / "DICOM").rglob("*") if p.is_file())
    victim.unlink()
    result, sops = _import(tmp_path, root)
    assert result.imported == len(expected) - 1
    (missing,) = result.rejected
    assert missing["path"] == str(victim) and missing["reason"].startswith("missing")


def test_a_folder_of_several_discs(disc, tmp_path):
    root, expected = disc
    shutil.copytree(root, tmp_path / "two" / "disc1")
    shutil.copytree(root, tmp_path / "two" / "disc2")
    result, sops = _import(tmp_path, tmp_path / "two")
    assert (result.imported, result.duplicates, result.rejected) == (len(expected), len(expected), [])


def test_a_tampered_disc_reaches_nothing_off_the_medium(disc, tmp_path):
    """Our own disc, edited as an attacker would: one record climbs off the
    medium, one is an absolute path, and a file on the disc is a symbolic
    link to a file beside it. None of those files is read; the rest of the
    disc imports, each refusal names its record or link."""
    import warnings

    import pydicom

    root, expected = disc
    secret = ct_dataset(patient_id="SECRET", study="secret")
    write(secret, tmp_path / "beside" / "SECRET")
    ds = pydicom.dcmread(root / "DICOMDIR")
    images = [(n, r) for n, r in enumerate(ds.DirectoryRecordSequence, start=1)
              if r.DirectoryRecordType == "IMAGE"]
    (climb_at, climb), (abs_at, absolute) = images[0], images[1]
    gone = {pydicom.dcmread(root.joinpath(*r.ReferencedFileID), stop_before_pixels=True).SOPInstanceUID
            for r in (climb, absolute)}
    for record in (climb, absolute):
        root.joinpath(*record.ReferencedFileID).unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        climb.ReferencedFileID = ["..", "beside", "SECRET"]
        absolute.ReferencedFileID = str(tmp_path / "beside" / "SECRET")
        ds.save_as(root / "DICOMDIR")
    (root / "DICOM" / "LINKED").symlink_to(tmp_path / "beside" / "SECRET")
    result, sops = _import(tmp_path, root)
    assert secret.SOPInstanceUID not in sops
    assert sops == expected - gone
    reasons = [r["reason"] for r in result.rejected]
    assert any(f"DICOMDIR record {climb_at} (IMAGE)" in r and "points outside the medium" in r
               for r in reasons), reasons
    assert any(f"DICOMDIR record {abs_at} (IMAGE)" in r and "absolute path" in r for r in reasons), reasons
    linked = [r for r in result.rejected if r["path"].endswith("LINKED")]
    assert len(linked) == 1 and "outside the imported folder" in linked[0]["reason"]
