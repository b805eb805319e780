"""A disc for another site meets the general-purpose CD profile: a study of
JPEG baseline, JPEG 2000, JPEG-LS and RLE images (pydicom's own test files)
is burnt decompressed, and DCMTK's dcmmkdir, checking the extracted disc
against STD-GEN-CD, accepts every file; the pixels are those of the
originals, the instances keep their UIDs. Kept compressed (a disc for this
site), the same check refuses the disc and the result says it meets no
general-purpose profile; a JPEG-only disc kept compressed meets
STD-GEN-DVD-JPEG, which dcmmkdir accepts. The command line's
``--keep-compressed`` and the Burn window's "Keep images compressed"
checkbox choose between the two."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from app.home import os_login
from app.importing.importer import import_paths
from app.media import BurnOptions, burn, medium
from app.media.decompress import profile
from tests.media.conftest import extract, instances_of, needs_xorriso, referenced

needs_dcmmkdir = pytest.mark.skipif(shutil.which("dcmmkdir") is None, reason="DCMTK not installed")
pytestmark = [needs_xorriso, needs_dcmmkdir]

EXPLICIT = "1.2.840.10008.1.2.1"
# test file -> (its transfer syntax, lossy)
SOURCES = {
    "SC_rgb_dcmtk_+eb+cy+s2.dcm": ("1.2.840.10008.1.2.4.50", True),    # JPEG baseline, YBR_FULL_422
    "JPEG2000.dcm": ("1.2.840.10008.1.2.4.91", True),                  # JPEG 2000
    "MR_small_jpeg_ls_lossless.dcm": ("1.2.840.10008.1.2.4.80", False),  # JPEG-LS lossless
    "JPEGLSNearLossless_16.dcm": ("1.2.840.10008.1.2.4.81", True),     # JPEG-LS near-lossless
    "MR_small_RLE.dcm": ("1.2.840.10008.1.2.5", False),                # RLE
    "SC_rgb_rle.dcm": ("1.2.840.10008.1.2.5", False),                  # RLE colour
}


def _one_study(folder: Path, names: list[str]) -> str:
    """Copies of the test files as the series of one patient's study (the
    pixel data and transfer syntax untouched)."""
    study = generate_uid()
    folder.mkdir(parents=True, exist_ok=True)
    for n, name in enumerate(names, 1):
        ds = pydicom.dcmread(get_testdata_file(name))
        ds.PatientName, ds.PatientID = "QUIMBY^ZELDA", "ZQ0042"
        ds.StudyInstanceUID, ds.StudyDate, ds.StudyTime, ds.StudyID = study, "20240102", "101500", "1"
        ds.AccessionNumber = "ACC1"
        ds.SeriesInstanceUID, ds.SeriesNumber, ds.InstanceNumber = generate_uid(), n, 1
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.Modality = ds.get("Modality") or "OT"
        ds.save_as(folder / f"{n}.dcm", enforce_file_format=True)
    return study


@pytest.fixture
def compressed_home(home, tmp_path):
    study = _one_study(tmp_path / "sources", list(SOURCES))
    result = import_paths(home, [tmp_path / "sources"], os_login())
    assert not result.rejected and result.imported == len(SOURCES)
    return home, study


def _burn_and_extract(home, study: str, tmp_path: Path, name: str, **options):
    result = burn(home, os_login(), [study], iso_path=tmp_path / f"{name}.iso",
                  options=BurnOptions(label=name, **options))
    assert result.verified
    return result.discs[0], extract(tmp_path / f"{name}.iso", tmp_path / name)


def _dcmmkdir(root: Path, *options: str) -> tuple[int, int, list[str]]:
    """dcmmkdir checking every object on the disc against the profile of
    *options*, writing no DICOMDIR (-w): (exit status, objects it accepted,
    the transfer syntaxes it refused)."""
    proc = subprocess.run(["dcmmkdir", "-v", *options, "-w", "+r", "+id", str(root), "DICOM"],
                          capture_output=True, text=True, timeout=120)
    log = proc.stdout + proc.stderr
    refused = [line.split(" found")[0].split("but ")[-1] for line in log.splitlines()
               if "expected but" in line]
    return proc.returncode, log.count("adding file:"), refused


def test_a_disc_for_another_site_meets_the_general_purpose_cd_profile(compressed_home, tmp_path):
    home, study = compressed_home
    disc, root = _burn_and_extract(home, study, tmp_path, "OTHERSITE")
    assert disc.profile == "STD-GEN-CD" and disc.transfer_syntaxes == [EXPLICIT]
    assert _dcmmkdir(root, "--general-purpose") == (0, len(SOURCES), [])

    originals = {sop: pydicom.dcmread(path) for sop, path in instances_of(home, [study]).items()}
    on_disc = referenced(root)
    assert set(on_disc) == set(originals)  # the same instances, their UIDs kept
    records = {r.ReferencedSOPInstanceUIDInFile: r for r in
               pydicom.dcmread(root / "DICOMDIR").DirectoryRecordSequence if "ReferencedFileID" in r}
    for sop, path in on_disc.items():
        written, original = pydicom.dcmread(path), originals[sop]
        source_syntax = str(original.file_meta.TransferSyntaxUID)
        assert written.file_meta.TransferSyntaxUID == EXPLICIT
        assert records[sop].ReferencedTransferSyntaxUIDInFile == EXPLICIT
        assert written.SOPInstanceUID == sop == written.file_meta.MediaStorageSOPInstanceUID
        assert not written["PixelData"].is_undefined_length
        assert np.array_equal(written.pixel_array, original.pixel_array), source_syntax
        lossy = next(lossy for syntax, lossy in SOURCES.values() if syntax == source_syntax)
        if lossy:
            assert written.LossyImageCompression == "01"
            assert written.LossyImageCompressionMethod and written.LossyImageCompressionRatio
        else:
            assert written.get("LossyImageCompression", "00") == "00"
        if original.get("PhotometricInterpretation", "").startswith("YBR"):
            assert written.PhotometricInterpretation == "RGB"
    assert (root / "README.TXT").is_file() and (root / "INDEX.HTM").is_file()


def test_kept_compressed_the_disc_meets_no_general_purpose_profile(compressed_home, tmp_path):
    home, study = compressed_home
    disc, root = _burn_and_extract(home, study, tmp_path, "THISSITE", keep_compressed=True)
    assert disc.profile == "" and EXPLICIT not in disc.transfer_syntaxes
    originals = {sop: path.read_bytes() for sop, path in instances_of(home, [study]).items()}
    for sop, path in referenced(root).items():
        assert path.read_bytes() == originals[sop]  # the stored files, as they are
    status, accepted, refused = _dcmmkdir(root, "--general-purpose")
    assert status != 0 and accepted == 0
    assert sorted(refused) == sorted(["JPEGBaseline", "JPEG2000", "JPEGLSLossless", "JPEGLSLossy",
                                      "RLELossless", "RLELossless"])


def test_a_jpeg_disc_kept_compressed_meets_the_dvd_jpeg_profile(home, tmp_path):
    study = _one_study(tmp_path / "sources", ["SC_rgb_dcmtk_+eb+cy+s2.dcm", "SC_rgb_jpeg_gdcm.dcm"])
    assert import_paths(home, [tmp_path / "sources"], os_login()).imported == 2
    disc, root = _burn_and_extract(home, study, tmp_path, "JPEGDVD", keep_compressed=True,
                                   medium=medium("dvd"))
    assert disc.profile == "STD-GEN-DVD-JPEG"
    assert _dcmmkdir(root, "--general-dvd-jpeg") == (0, 2, [])
    assert _dcmmkdir(root, "--general-purpose")[0] != 0


def test_the_profile_a_disc_meets():
    """PS3.11 D.3, D.6, D.7, as dcmmkdir checks them: no profile allows
    JPEG-LS or RLE, none mixes JPEG and JPEG 2000, none compresses on CD-R."""
    jpeg, lossless_sv1, j2k, jls = ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.70",
                                    "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.80")
    assert profile([EXPLICIT]) == profile([EXPLICIT], "cd") == "STD-GEN-CD"
    assert profile([EXPLICIT, jpeg, lossless_sv1], "dvd") == "STD-GEN-DVD-JPEG"
    assert profile([jpeg]) == "STD-GEN-DVD-JPEG" and profile([j2k], "bd") == "STD-GEN-BD-J2K"
    assert profile([jpeg], "cd") == profile([jpeg, j2k]) == profile([jls]) == ""
    assert profile(["1.2.840.10008.1.2.4.57"]) == ""  # JPEG lossless, not first-order


def _studydesk(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYDESK_")}
    return subprocess.run([sys.executable, "-m", "app", "--home", str(home), *args],
                          capture_output=True, text=True, env=env, timeout=300,
                          stdin=subprocess.DEVNULL)


def test_the_command_line_decompresses_unless_told_to_keep(compressed_home, tmp_path):
    home, study = compressed_home
    default = _studydesk(home.root, "burn", study, "--iso", str(tmp_path / "a.iso"), "--json")
    assert default.returncode == 0, default.stderr
    (disc,) = json.loads(default.stdout)["discs"]
    assert disc["profile"] == "STD-GEN-CD" and disc["transfer_syntaxes"] == [EXPLICIT]
    kept = _studydesk(home.root, "burn", study, "--iso", str(tmp_path / "b.iso"), "--keep-compressed")
    assert kept.returncode == 0, kept.stderr
    assert "profile none" in kept.stdout and "verified" in kept.stdout
    assert "--keep-compressed" in _studydesk(home.root, "burn", "--help").stdout


def test_the_burn_window_keeps_images_compressed_only_when_asked(qtbot, compressed_home, tmp_path):
    from app.accounts import accounts
    from ui.export.burn_dialog import BurnDialog
    from ui.jobs import JobRunner

    home, study = compressed_home
    db = home.connect()
    try:
        user = accounts.get_user(db, os_login())
    finally:
        db.close()
    runner = JobRunner()
    profiles = []
    try:
        for name, keep in (("window1.iso", False), ("window2.iso", True)):
            dialog = BurnDialog(home, user, [study], runner)
            qtbot.addWidget(dialog)
            dialog.show()
            qtbot.waitUntil(dialog.burn_button.isEnabled, timeout=20000)
            box = dialog.keep_compressed
            assert box.text() == "Keep images compressed (this site only)" and not box.isChecked()
            decoded_size = dialog.fit.text()
            box.setChecked(True)
            assert dialog.fit.text() != decoded_size  # the stored, smaller files
            box.setChecked(False)
            assert dialog.fit.text() == decoded_size
            dialog.target.setCurrentIndex(0)
            dialog.iso_path.setText(str(tmp_path / name))
            box.setChecked(keep)
            with qtbot.waitSignal(dialog.burned, timeout=60000) as blocker:
                dialog.burn_button.click()
            (disc,) = blocker.args[0].discs
            profiles.append(disc.profile)
            qtbot.waitUntil(lambda: dialog.job is None, timeout=10000)
            assert (disc.profile or "no general-purpose profile") in dialog.status.text()
            dialog.close()
    finally:
        runner.shutdown()
    assert profiles == ["STD-GEN-CD", ""]


def test_an_anonymised_disc_is_decompressed_too(compressed_home, tmp_path):
    """De-identified files decoded as well. The Basic Profile empties Study
    Date, Study Time and Study ID, which dcmmkdir wants in every file (+I:
    it would invent them, as the disc's own DICOMDIR does)."""
    home, study = compressed_home
    disc, root = _burn_and_extract(home, study, tmp_path, "ANON", anonymise=True)
    assert disc.profile == "STD-GEN-CD" and disc.report["residual_scan"]["passed"]
    assert _dcmmkdir(root, "--general-purpose", "+I") == (0, len(SOURCES), [])
