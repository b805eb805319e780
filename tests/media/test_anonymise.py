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
