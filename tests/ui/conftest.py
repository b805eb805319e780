"""Window tests: a home with a few small generated studies, and the window on it.

The generator writes real DICOM files with pydicom: CT and MR slices with a
phantom (a disc with a gradient, so thumbnails are not uniform) and an RT
structure set without pixel data. Known patients: DOE^JOHN (two studies),
SMITH^ANNA, BROWN^PETER.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pydicom  # noqa: E402
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, generate_uid  # noqa: E402

from app.startup import open_home  # noqa: E402

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
RT_STRUCT = "1.2.840.10008.5.1.4.1.1.481.3"


@dataclass(frozen=True)
class StudySpec:
    patient_name: str
    patient_id: str
    birth_date: str
    date: str
    accession: str
    description: str
    series: tuple  # (modality, number, description, images); images 0: RTSTRUCT


STUDIES = (
    StudySpec("DOE^JOHN", "P001", "19600203", "20240110", "ACC001", "CT CHEST",
              (("CT", 1, "Axial 5mm", 3), ("CT", 2, "Lung 1mm", 2), ("RTSTRUCT", 3, "Contours", 0))),
    StudySpec("DOE^JOHN", "P001", "19600203", "20230305", "ACC002", "CT HEAD",
              (("CT", 1, "Head axial", 2),)),
    StudySpec("SMITH^ANNA", "P002", "19751122", "20220615", "ACC003", "MR BRAIN",
              (("MR", 1, "T2 axial", 2),)),
    StudySpec("BROWN^PETER", "P003", "19880730", "20240301", "ACC004", "CT ABDOMEN",
              (("CT", 1, "Portal venous", 2),)),
)


def phantom(size: int = 64, index: int = 0) -> np.ndarray:
    """CT-like values: air around a water disc with a left-right gradient and a
    bright insert, so every preview has structure."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    centre = (size - 1) / 2
    r = np.hypot(x - centre, y - centre)
    image = np.full((size, size), -1000.0, np.float32)
    body = r < size * 0.42
    image[body] = -100 + 250 * (x[body] / size)
    image[np.hypot(x - centre * 0.7, y - centre) < size * 0.08] = 800 + 20 * index
    return image.astype(np.int16)


def _base(spec: StudySpec, study_uid: str, series_uid: str, modality: str, number: int,
          description: str, sop_class: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = spec.patient_name
    ds.PatientID = spec.patient_id
    ds.PatientBirthDate = spec.birth_date
    ds.PatientSex = "O"
    ds.StudyInstanceUID = study_uid
    ds.StudyDate = spec.date
    ds.StudyTime = "101500"
    ds.AccessionNumber = spec.accession
    ds.StudyDescription = spec.description
    ds.StudyID = "1"
    ds.ReferringPhysicianName = ""
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = number
    ds.SeriesDescription = description
    ds.Modality = modality
    return ds


def _image(ds: Dataset, index: int) -> None:
    ds.InstanceNumber = index + 1
    pixels = phantom(64, index)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    ds.PixelSpacing = [1.0, 1.0]
    ds.PixelData = pixels.tobytes()


def write_studies(folder: Path, specs=STUDIES) -> dict[str, str]:
    """Write *specs* under *folder*; returns {accession: Study Instance UID}."""
    folder.mkdir(parents=True, exist_ok=True)
    uids: dict[str, str] = {}
    for s, spec in enumerate(specs):
        study_uid = generate_uid()
        uids[spec.accession] = study_uid
        for modality, number, description, images in spec.series:
            series_uid = generate_uid()
            if modality == "RTSTRUCT":
                ds = _base(spec, study_uid, series_uid, modality, number, description, RT_STRUCT)
                ds.StructureSetLabel = "PTV"
                ds.InstanceNumber = 1
                roi = Dataset()   # the three sequences an RT Structure Set requires (type 1)
                roi.ROINumber, roi.ROIName = 1, "PTV"
                ds.StructureSetROISequence, ds.ROIContourSequence = [roi], [Dataset()]
                ds.ROIContourSequence[0].ReferencedROINumber = 1
                ds.RTROIObservationsSequence = [Dataset()]
                ds.RTROIObservationsSequence[0].ObservationNumber = 1
                ds.save_as(folder / f"s{s}_rt{number}.dcm", enforce_file_format=True)
                continue
            sop_class = CT_IMAGE if modality == "CT" else MR_IMAGE
            for i in range(images):
                ds = _base(spec, study_uid, series_uid, modality, number, description, sop_class)
                _image(ds, i)
                ds.save_as(folder / f"s{s}_{number}_{i}.dcm", enforce_file_format=True)
    return uids


@pytest.fixture(scope="session")
def dicom_folder(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The generated files (written once per run) and their study UIDs."""
    folder = tmp_path_factory.mktemp("dicom")
    return folder, write_studies(folder)


@pytest.fixture
def loaded_home(home, dicom_folder):
    """A home holding the generated studies (imported by the core, as the CLI does)."""
    from app.home import os_login
    from app.importing.importer import import_paths

    result = import_paths(home, [dicom_folder[0]], os_login())
    assert not result.rejected, result.rejected
    return home


@pytest.fixture
def admin(home):
    from app.accounts import accounts
    from app.home import os_login

    db = home.connect()
    try:
        return accounts.get_user(db, os_login())
    finally:
        db.close()


def close_window(window) -> None:
    """Stop jobs and close, so no worker outlives the test's home."""
    window.runner.shutdown()
    window.close()


@pytest.fixture
def make_window(qtbot, qapp, admin):
    """``make_window(home, user=None)``: the themed main window (as the home's
    first admin unless *user* is given), shown, first search done."""
    from ui.app import apply_theme
    from ui.shell.main_window import MainWindow

    apply_theme(qapp)
    windows = []

    def make(home, user=None):
        window = MainWindow(home, user or admin)
        qtbot.addWidget(window)
        windows.append(window)
        window.show()
        qtbot.waitUntil(lambda: not window.model.is_searching(), timeout=10000)
        return window

    yield make
    for window in windows:
        close_window(window)


@pytest.fixture
def window(make_window, loaded_home):
    return make_window(loaded_home)


def shown_names(window) -> list[str]:
    from ui.worklist.model import column_index

    model, name = window.model, column_index("patient_name")
    return [model.data(model.index(r, name)) for r in range(model.rowCount())]


def read_dataset(path: Path) -> Dataset:
    return pydicom.dcmread(path)


# -- the demo set (app.demo): one person under two IDs, a split exam, VIP patients --


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory):
    """A home holding app.demo's set for three patients, imported once per run."""
    from app.importing.demo import import_demo
    from app.home import os_login

    root = tmp_path_factory.mktemp("demo") / "home"
    result = import_demo(open_home(root), os_login(), patients=3)
    assert result.imported and not result.rejected
    return root


@pytest.fixture
def demo_home(demo_template, tmp_path):
    """A private copy of the demo home (tests change it)."""
    import shutil


    root = tmp_path / "demo-home"
    shutil.copytree(demo_template, root)
    return open_home(root)


def add_user(home, name: str, roles: list[str]):
    """An account made by the home's first admin; returns the new User."""
    from app.accounts import accounts
    from app.home import os_login

    db = home.connect()
    try:
        return accounts.add_user(db, accounts.get_user(db, os_login()), name, roles)
    finally:
        db.close()


def row_of(window, **values) -> int:
    """The first worklist row whose study matches every key=value."""
    model = window.model
    for row in range(model.rowCount()):
        study = model.study(row)
        if all(study.get(k) == v for k, v in values.items()):
            return row
    raise AssertionError(f"no row with {values}")


def tick(window, *rows: int) -> None:
    """Tick rows the way a user does: click the row, then its box."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    for row in rows:
        click_row(window, row)
        QTest.mouseClick(window.table.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier, check_point(window, row))


def click_row(window, row: int, key: str = "patient_name") -> None:
    """A left click on the *key* cell of *row*."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from ui.worklist.model import column_index

    rect = window.table.visualRect(window.model.index(row, column_index(key)))
    QTest.mouseClick(window.table.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, rect.center())


def check_point(window, row: int):
    """The centre of the tick box of *row* (column 0), in viewport coordinates."""
    from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

    index = window.model.index(row, 0)
    option = QStyleOptionViewItem()
    window.table.initViewItemOption(option)
    option.rect = window.table.visualRect(index)
    option.features |= QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator
    rect = window.table.style().subElementRect(QStyle.SubElement.SE_ItemViewItemCheckIndicator,
                                               option, window.table)
    return rect.center()
