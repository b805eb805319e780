"""``studydesk burn STUDY_UID... (--iso FILE | --device DEV) [--label TEXT]``
as a new user would run it: import, pick two studies, burn, open the image."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pydicom

from app.media import iso
from tests.media.conftest import extract, needs_dcmtk, needs_xorriso


def studydesk(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYDESK_")}
    return subprocess.run([sys.executable, "-m", "app", "--home", str(home), *args],
                          capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL)


def _two_studies(tmp_path, demo_folder) -> tuple[Path, list[str]]:
    home = tmp_path / "home"
    assert studydesk(home, "import", str(demo_folder)).returncode == 0
    rows = json.loads(studydesk(home, "studies", "--json").stdout)
    return home, [rows[0]["study_uid"], rows[1]["study_uid"][:12]]  # a whole UID and a prefix


@needs_dcmtk
def test_burn_two_studies_to_an_iso(tmp_path, demo_folder):
    home, uids = _two_studies(tmp_path, demo_folder)
    target = tmp_path / "two.iso"
    proc = studydesk(home, "burn", *uids, "--iso", str(target), "--label", "two studies", "--json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["verified"] is True and document["planned"] == 1
    (disc,) = document["discs"]
    assert disc["target"] == str(target) and disc["label"] == "TWO_STUDIES"
    assert disc["verification"]["ok"] and disc["bytes"] > 0
    names = {e["iso_path"] for e in iso.listing(target) if e["iso_path"].count("/") == 1}
    assert {"/DICOMDIR.;1", "/README.TXT;1", "/INDEX.HTM;1"} <= names
    root = extract(target, tmp_path / "x")
    ds = pydicom.dcmread(root / "DICOMDIR")
    studies = {r.StudyInstanceUID for r in ds.DirectoryRecordSequence if r.DirectoryRecordType == "STUDY"}
    assert len(studies) == 2 and uids[0] in studies
    images = [r for r in ds.DirectoryRecordSequence if "ReferencedFileID" in r]
    assert len(images) == disc["instances"]
    assert subprocess.run(["dcmdump", str(root / "DICOMDIR")], capture_output=True,
                          timeout=60).returncode == 0
    text = studydesk(home, "burn", *uids, "--iso", str(tmp_path / "again.iso"))
    assert text.returncode == 0 and "verified" in text.stdout and "disc 1 of 1" in text.stdout


@needs_xorriso
def test_burn_to_a_device_and_the_usage_errors(tmp_path, demo_folder):
    home, uids = _two_studies(tmp_path, demo_folder)
    drive = tmp_path / "drive.img"
    proc = studydesk(home, "burn", uids[0], "--device", f"stdio:{drive}", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["discs"][0]["verified"] is True
    again = studydesk(home, "burn", uids[0], "--device", f"stdio:{drive}")
    assert again.returncode == 5 and "not blank" in again.stderr
    assert studydesk(home, "burn", uids[0]).returncode == 2  # neither --iso nor --device
    assert studydesk(home, "burn", uids[0], "--iso", "a.iso", "--device", "b").returncode == 2
    assert studydesk(home, "burn", "1.2.3.4.5.6.7.8.9", "--iso", str(tmp_path / "n.iso")).returncode == 4
    # a chosen medium is checked before writing
    many = studydesk(home, "burn", *uids, "--device", f"stdio:{tmp_path / 'd2.img'}",
                     "--medium", "cd")
    assert many.returncode == 0  # fits on a CD
    assert json.loads(studydesk(home, "audit", "--json").stdout)[-1]["action"] == "burn"
