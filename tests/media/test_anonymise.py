"""Anonymised discs: every object passes through the de-identification
engine, and the DICOMDIR, README and web pages are made from what it gives
back: no identifying value of the originals is left anywhere on the disc."""

from __future__ import annotations

import sys

import pydicom
import pytest

from app.errors import BadInput
from app.media import BurnOptions, burn
from app.media import anonymise as anon
from tests.media.conftest import extract, instances_of, study_uids

IDENTIFYING = ("Lindqvist", "Maja", "PID1001", "Okafor", "PID1002", "ACC10011", "19580312")


@pytest.mark.skipif(not anon.available(), reason="the de-identification engine is not installed")
def test_an_anonymised_disc_holds_no_identifying_value(media_home, user, tmp_path):
    uids = study_uids(media_home)[:2]
    result = burn(media_home, user, uids, iso_path=tmp_path / "anon.iso",
                  options=BurnOptions(label="anon", anonymise=True))
    assert result.verified and result.anonymised
    root = extract(tmp_path / "anon.iso", tmp_path / "x")
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for value in IDENTIFYING:
                assert value.encode() not in data, f"{value} in {path.relative_to(root)}"
    ds = pydicom.dcmread(root / "DICOMDIR")
    records = list(ds.DirectoryRecordSequence)
    study_records = {r.StudyInstanceUID for r in records if r.DirectoryRecordType == "STUDY"}
    assert len(study_records) == 2 and not study_records & set(uids)
    leaves = [r for r in records if "ReferencedFileID" in r]
    assert len(leaves) == len(instances_of(media_home, uids))
    for leaf in leaves:  # the records describe the de-identified objects
        obj = pydicom.dcmread(root.joinpath(*leaf.ReferencedFileID), stop_before_pixels=True)
        assert obj.SOPInstanceUID == leaf.ReferencedSOPInstanceUIDInFile
        assert obj.StudyInstanceUID in study_records
    assert result.discs[0].studies and not set(result.discs[0].studies) & set(uids)


def test_without_the_engine_the_option_is_refused_plainly(media_home, user, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "app.deid", None)  # as if the engine were not installed
    assert not anon.available()
    with pytest.raises(BadInput, match="anonymised discs need the de-identification engine"):
        burn(media_home, user, study_uids(media_home)[:1], iso_path=tmp_path / "a.iso",
             options=BurnOptions(anonymise=True))
    assert not (tmp_path / "a.iso").exists()


@pytest.mark.skipif(not anon.available(), reason="the de-identification engine is not installed")
def test_an_anonymised_disc_carries_the_report_and_the_scan_of_every_file(media_home, user,
                                                                         tmp_path):
    """The disc gets the proof a ZIP gets: the verification report in its
    root, every object and every other file of the disc scanned."""
    import json

    uids = study_uids(media_home)[:2]
    result = burn(media_home, user, uids, iso_path=tmp_path / "proof.iso",
                  options=BurnOptions(label="proof", anonymise=True))
    (disc,) = result.to_json()["discs"]
    assert disc["residual_scan"]["passed"] is True and disc["report"] == anon.REPORT_JSON
    root = extract(tmp_path / "proof.iso", tmp_path / "x")
    report = json.loads((root / anon.REPORT_JSON).read_text(encoding="utf-8"))
    objects = len(instances_of(media_home, uids))
    assert report["counts"]["instances_in"] == report["counts"]["instances_out"] == objects
    assert report["residual_scan"]["passed"] and report["residual_scan"]["files_scanned"] >= objects
    assert report["profile"]["standard"].startswith("DICOM PS3.15")
    assert "<html" in (root / anon.REPORT_HTML).read_text(encoding="utf-8")
    assert disc["residual_scan"]["files_scanned"] > objects  # DICOMDIR, README, pages too


@pytest.mark.skipif(not anon.available(), reason="the de-identification engine is not installed")
def test_a_stretched_length_refuses_the_anonymised_disc(home, tmp_path):
    """A name swallowed by a stretched length would ride along inside a kept
    value: the scan finds it and no image is written (exit 5)."""
    from app.accounts import accounts
    from app.cli import main
    from app.deid.pipeline import ResidualIdentifiers
    from app.home import os_login
    from app.importing.importer import import_paths
    from tests.deid.test_residual import stretched_institution

    stretched_institution(tmp_path / "src")
    assert not import_paths(home, [tmp_path / "src"], os_login(), workers=1).rejected
    db = home.connect()
    user = accounts.get_user(db, os_login())
    db.close()
    uids = study_uids(home)
    with pytest.raises(ResidualIdentifiers) as caught:
        burn(home, user, uids, iso_path=tmp_path / "leak.iso",
             options=BurnOptions(label="leak", anonymise=True))
    assert any(h["attribute"] == "Manufacturer" for h in caught.value.report["residual_scan"]["hits"])
    assert not (tmp_path / "leak.iso").exists()
    code = main(["--home", str(home.root), "burn", uids[0], "--iso", str(tmp_path / "cli.iso"),
                 "--anonymize"])
    assert code == 5 and not (tmp_path / "cli.iso").exists()
