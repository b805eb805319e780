"""The bundle's launcher for Linux desktops (resources/studydesk.desktop):
what a desktop reads to show StudyDesk in its menu. The bundle itself is
built and started by scripts/bundle.sh, which CI runs after the tests."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(ROOT / "resources" / "studydesk.desktop", encoding="utf-8")
    return parser["Desktop Entry"]


def test_the_launcher_starts_the_program_with_its_icon_in_the_medical_menu():
    entry = _entry()
    assert entry["Type"] == "Application" and entry["Name"] == "StudyDesk"
    assert entry["Exec"] == "studydesk" and entry["Terminal"] == "false"
    assert {"MedicalSoftware", "Graphics"} <= set(filter(None, entry["Categories"].split(";")))
    # the spec puts the launcher and the icon it names beside the program
    spec = (ROOT / "pyinstaller.spec").read_text(encoding="utf-8")
    assert f'"{entry["Icon"]}.svg"' in spec and '"studydesk.desktop"' in spec
    assert (ROOT / "resources" / "icons" / "app.svg").read_text(encoding="utf-8").startswith("<svg")


def test_the_launcher_is_valid_for_desktop_file_validate():
    validate = shutil.which("desktop-file-validate")
    if validate is None:
        pytest.skip("desktop-file-validate (desktop-file-utils) is not installed")
    done = subprocess.run([validate, str(ROOT / "resources" / "studydesk.desktop")],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "error" not in done.stdout, done.stdout
