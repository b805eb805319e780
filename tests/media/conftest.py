"""Media tests: a home holding the demo set's first patients (CT, MR and a
radiotherapy study with RTSTRUCT, RTPLAN and RTDOSE), written once per run
and imported by the core as a user would; helpers to open what was burnt."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest

from app.accounts import accounts
from app.home import os_login
from app.importing.importer import import_paths


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory) -> Path:
    from app.demo import generate_demo

    folder = tmp_path_factory.mktemp("demo")
    generate_demo(folder, patients=2)
    return folder


@pytest.fixture
def media_home(home, demo_folder):
    result = import_paths(home, [demo_folder], os_login())
    assert not result.rejected and result.imported > 0
    return home


@pytest.fixture
def user(media_home):
    db = media_home.connect()
    try:
        return accounts.get_user(db, os_login())
    finally:
        db.close()


def study_uids(home) -> list[str]:
    """Every study, RT study first (the one with non-image objects)."""
    db = home.connect()
    try:
        return [u for (u,) in db.execute(
            "SELECT study_instance_uid FROM studies ORDER BY modalities NOT LIKE '%RT%', "
            "study_date, study_instance_uid")]
    finally:
        db.close()


def instances_of(home, uids: list[str]) -> dict[str, Path]:
    """SOP Instance UID -> stored file, for the studies *uids*."""
    from app import store

    db = home.connect()
    try:
        marks = ",".join("?" * len(uids))
        return {sop: store.absolute(home, path) for sop, path in db.execute(
            "SELECT i.sop_instance_uid, i.path FROM instances i JOIN series s"
            " ON s.series_instance_uid = i.series_instance_uid"
            f" WHERE s.study_instance_uid IN ({marks})", uids)}
    finally:
        db.close()


def extract(image: Path, target: Path) -> Path:
    """Copy every file of an ISO image (by its Rock Ridge names) to *target*."""
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.open(str(image))
    try:
        for folder, _dirs, files in iso.walk(rr_path="/"):
            for name in files:
                rr = f"{folder.rstrip('/')}/{name}"
                out = target / rr.lstrip("/")
                out.parent.mkdir(parents=True, exist_ok=True)
                with open(out, "wb") as f:
                    iso.get_file_from_iso_fp(f, rr_path=rr)
    finally:
        iso.close()
    return target


def referenced(root: Path) -> dict[str, Path]:
    """SOP Instance UID -> file of every leaf record of root/DICOMDIR."""
    ds = pydicom.dcmread(root / "DICOMDIR")
    out = {}
    for record in ds.DirectoryRecordSequence:
        if "ReferencedFileID" in record:
            parts = record.ReferencedFileID
            parts = [parts] if isinstance(parts, str) else list(parts)
            out[record.ReferencedSOPInstanceUIDInFile] = root.joinpath(*parts)
    return out


needs_xorriso = pytest.mark.skipif(shutil.which("xorriso") is None, reason="xorriso not installed")
needs_dcmtk = pytest.mark.skipif(shutil.which("dcmdump") is None, reason="DCMTK not installed")
needs_dciodvfy = pytest.mark.skipif(shutil.which("dciodvfy") is None,
                                    reason="dicom3tools not installed")
