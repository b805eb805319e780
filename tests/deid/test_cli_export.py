"""`studydesk export` (CLI.md): flags, JSON and exit codes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from app.cli import main
from tests.factories import ct_dataset, write, write_series


@pytest.fixture
def cli_home(tmp_path):
    home = tmp_path / "home"
    write_series(tmp_path / "src", 2, patient_id="P1", patient_name="DOE^JOHN")
    assert main(["--home", str(home), "import", str(tmp_path / "src")]) == 0
    return home


def _study(home, capsys) -> str:
    capsys.readouterr()
    assert main(["--home", str(home), "studies", "--json"]) == 0
    return json.loads(capsys.readouterr().out)[0]["study_uid"]


def test_export_json_and_exit_codes(cli_home, tmp_path, capsys):
    uid = _study(cli_home, capsys)
    target = tmp_path / "a.zip"
    code = main(["--home", str(cli_home), "export", uid[:12], "--zip", str(target), "--anonymize",
                 "--option", "retain-long-modified-dates", "--option", "clean-descriptors", "--json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["zip"] == str(target.resolve()) and document["instances"] == 2
    assert document["anonymized"] is True
    assert document["options"] == ["retain-long-modified-dates", "clean-descriptors"]
    assert document["residual_scan"]["passed"] is True
    with zipfile.ZipFile(target) as z:
        assert "DEIDENTIFICATION_REPORT.json" in z.namelist()

    assert main(["--home", str(cli_home), "export", uid, "--zip", str(tmp_path / "b.zip")]) == 0
    assert main(["--home", str(cli_home), "export", uid, "--zip", str(tmp_path / "c.zip"),
                 "--option", "retain-uids"]) == 2          # options need --anonymize
    assert main(["--home", str(cli_home), "export", uid, "--zip", str(tmp_path / "d.zip"),
                 "--anonymize", "--option", "no-such-option"]) == 2
    assert main(["--home", str(cli_home), "export", "1.2.3.4.5.6.7.8.9.0", "--zip",
                 str(tmp_path / "e.zip")]) == 4
    assert not (tmp_path / "c.zip").exists() and not (tmp_path / "e.zip").exists()


def test_residual_hit_exits_5_and_override_reason_keeps_the_zip(tmp_path, capsys):
    home = tmp_path / "home"
    ds = ct_dataset("PX2", "QUIXOTEANA^ROSA")
    pixels = bytearray(ds.PixelData)
    pixels[64:74] = b"QUIXOTEANA"
    ds.PixelData = bytes(pixels)
    write(ds, tmp_path / "src" / "a.dcm")
    assert main(["--home", str(home), "import", str(tmp_path / "src")]) == 0
    uid = _study(home, capsys)
    target = tmp_path / "x.zip"
    assert main(["--home", str(home), "export", uid, "--zip", str(target), "--anonymize",
                 "--json"]) == 5
    captured = capsys.readouterr()
    assert json.loads(captured.out)["hits"][0]["where"] == "pixel data"
    assert "refused" in captured.err and not target.exists()
    assert main(["--home", str(home), "export", uid, "--zip", str(target), "--anonymize",
                 "--override-reason", "reviewed", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["residual_scan"]["override_reason"] == "reviewed"


def test_export_needs_the_export_privilege(cli_home, tmp_path, capsys):
    uid = _study(cli_home, capsys)
    assert main(["--home", str(cli_home), "user", "add", "rita", "--role", "researcher"]) == 0
    assert main(["--home", str(cli_home), "--user", "rita", "export", uid, "--zip",
                 str(tmp_path / "r.zip")]) == 3


def _unwritable_folder(tmp_path):
    """A folder this process cannot create files in (root writes anywhere
    in a normal folder: then /sys, which refuses even root)."""
    import os
    import sys

    if os.geteuid() == 0:
        if not sys.platform.startswith("linux"):
            pytest.skip("no folder refuses root here")
        return Path("/sys")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


@pytest.mark.parametrize("anonymize", [False, True])
def test_export_to_an_unwritable_place_is_one_clear_line_and_exit_2(cli_home, tmp_path, capsys,
                                                                     anonymize):
    uid = _study(cli_home, capsys)
    target = _unwritable_folder(tmp_path) / "x.zip"
    code = main(["--home", str(cli_home), "export", uid, "--zip", str(target)]
                + (["--anonymize"] if anonymize else []))
    err = capsys.readouterr().err
    assert code == 2
    assert str(target) in err and "cannot write there" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not target.exists()
