"""Helpers of the viewer tests: pydicom's test files, images added to a
home as series of their own, and small synthetic images."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from app.home import os_login
from app.importing.importer import import_paths

BUNDLED = Path(pydicom.__file__).parent / "data" / "test_files"


def sample(name: str) -> Path:
    """A file of pydicom's test data: bundled, or from the pydicom-data
    package (never downloaded: a missing one skips the test)."""
    path = BUNDLED / name
    if path.is_file():
        return path
    spec = importlib.util.find_spec("data_store")  # the pydicom-data package
    if spec is not None and spec.origin:
        path = Path(spec.origin).parent / "data" / name
        if path.is_file():
            return path
    pytest.skip(f"{name}: pydicom-data is not installed")


class Library:
    """Adds files and datasets to a home as new series, for `render`."""

    def __init__(self, home, folder: Path):
        self.home, self.folder, self._count = home, folder, 0

    def add(self, *items: Path | Dataset) -> str:
        """Import the files or datasets as one new series (fresh UIDs, the
        pixel data as they are); returns its Series Instance UID."""
        self._count += 1
        target = self.folder / f"s{self._count}"
        target.mkdir(parents=True)
        study, series = generate_uid(), generate_uid()
        for i, item in enumerate(items):
            ds = pydicom.dcmread(item, force=True) if isinstance(item, Path) else item
            meta = getattr(ds, "file_meta", None) or FileMetaDataset()
            if "TransferSyntaxUID" not in meta:  # a bare data set (old files)
                implicit = ds.original_encoding[0] in (True, None)
                meta.TransferSyntaxUID = (pydicom.uid.ImplicitVRLittleEndian if implicit
                                          else ExplicitVRLittleEndian)
            ds.file_meta = meta
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
            ds.SOPInstanceUID = generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
            ds.PatientID = ds.get("PatientID") or "VIEWER"
            ds.save_as(target / f"{i}.dcm", enforce_file_format=True)
        result = import_paths(self.home, [target], os_login())
        assert not result.rejected, result.rejected
        return series
