"""Fixtures for the de-identification and ZIP export tests (no Qt here)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pydicom
import pytest

from tests.factories import pydicom_test_files

DICOMDIR_CLASS = "1.2.840.10008.1.3.10"


def readable_test_files() -> list[Path]:
    """Every bundled pydicom test file that pydicom reads as a DICOM instance
    (rtstruct.dcm has no file meta: FACTS.md says it needs force=True)."""
    out = []
    for path in sorted(pydicom_test_files().rglob("*")):
        if not path.is_file():
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(path, force=path.name == "rtstruct.dcm")
        except Exception:  # noqa: BLE001 - not a file pydicom reads
            continue
        if getattr(ds.get("file_meta"), "MediaStorageSOPClassUID", "") == DICOMDIR_CLASS:
            continue
        if "DirectoryRecordSequence" in ds:
            continue
        out.append(path)
    return out


@pytest.fixture(scope="session")
def test_files() -> list[Path]:
    files = readable_test_files()
    assert len(files) > 100, "pydicom's bundled test files are missing"
    return files


@pytest.fixture
def user(home):
    from app.accounts import accounts
    from app.home import os_login

    db = home.connect()
    try:
        return accounts.get_user(db, os_login())
    finally:
        db.close()


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory) -> Path:
    """app.demo's set for three patients (the RT chain is PID1001's)."""
    from app.demo import generate_demo

    folder = tmp_path_factory.mktemp("demo")
    generate_demo(folder, patients=3)
    return folder


@pytest.fixture
def demo_home(home, demo_files, user):
    """(home, study UIDs) with the demo set imported."""
    from app.importing.importer import import_paths

    result = import_paths(home, [demo_files], user, workers=1)
    assert not result.rejected
    return home, result.studies
