"""Burners: the Linux backend through real xorriso onto a file-backed drive
(``-dev stdio:FILE``), read back against the manifest; the Windows (IMAPI2)
and macOS (hdiutil) backends by the commands they build and the output they
parse (they cannot run here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import RuleRefused
from app.jobs import CancelToken
from app.media import BurnOptions, burn, iso
from app.media.burners import BLANK, APPENDABLE, NO_MEDIUM, Drive, for_system, linux, macos, windows
from tests.media.conftest import extract, instances_of, needs_xorriso, referenced, study_uids


@needs_xorriso
def test_burn_to_a_file_backed_drive_and_read_it_back(media_home, user, tmp_path):
    uids = study_uids(media_home)[:2]
    drive = tmp_path / "drive.img"
    device = f"stdio:{drive}"
    assert linux.XorrisoBurner().media(device).status == BLANK
    messages = []
    result = burn(media_home, user, uids, device=device, options=BurnOptions(label="drive test"),
                  progress=lambda f, m="": messages.append((f, m)))
    assert result.verified and result.discs[0].target == device
    check = result.discs[0].verification
    assert check.where == str(drive) and check.files > 10 and not check.problems
    assert any("Writing disc 1" in m for _f, m in messages)
    # what xorriso wrote is a proper PDI disc: same names, same objects
    assert iso.volume_identifier(drive) == "DRIVE_TEST"
    root = extract(drive, tmp_path / "read")
    assert {p.name for p in root.iterdir()} == {"DICOMDIR", "DICOM", "README.TXT", "INDEX.HTM",
                                                 "IHE_PDI", "MANIFEST.TXT"}
    expected = instances_of(media_home, uids)
    files = referenced(root)
    assert set(files) == set(expected)
    assert all(files[sop].read_bytes() == expected[sop].read_bytes() for sop in files)
    names = {e["iso_path"] for e in iso.listing(drive) if e["iso_path"].count("/") == 1}
    assert {"/DICOMDIR.;1", "/README.TXT;1", "/INDEX.HTM;1"} <= names


@needs_xorriso
def test_a_disc_that_is_not_blank_is_refused(media_home, user, tmp_path):
    device = f"stdio:{tmp_path / 'drive.img'}"
    uids = study_uids(media_home)[:1]
    burn(media_home, user, uids, device=device)
    assert linux.XorrisoBurner().media(device).status == APPENDABLE
    with pytest.raises(RuleRefused, match="not blank"):
        burn(media_home, user, uids, device=device)


@needs_xorriso
def test_xorriso_lists_no_drive_here_without_failing():
    assert isinstance(linux.XorrisoBurner().drives(), list)


def test_xorriso_commands_and_parsing():
    command = linux.write_command(Path("/tmp/stage"), "/dev/sr0", "LABEL")
    assert command[0] == "xorriso" and command[-1] == "-commit"
    assert command[command.index("-dev") + 1] == "/dev/sr0"
    assert command[command.index("-volid") + 1] == "LABEL"
    assert command[command.index("-map") + 1:command.index("-map") + 3] == ["/tmp/stage", "/"]
    assert "iso_9660_level=1" in command and command[command.index("-close") + 1] == "on"
    assert linux.media_command("/dev/sr1")[1:3] == ["-outdev", "/dev/sr1"]
    out = ("0  -dev '/dev/sr0' rwrw-- :  'HL-DT-ST' 'DVDRAM GH24NSD1'\n"
           "1  -dev '/dev/sr1' rwrw-- :  'ASUS    ' 'BW-16D1HT'\n")
    assert linux.parse_drives(out) == [Drive("/dev/sr0", "HL-DT-ST DVDRAM GH24NSD1"),
                                       Drive("/dev/sr1", "ASUS BW-16D1HT")]
    info = linux.parse_media("Media current: DVD+R\nMedia status : is blank\n"
                             "Media space  : 2295104s\nAfter commit : 2295104s\n")
    assert (info.status, info.free, info.kind) == (BLANK, 2295104 * 2048, "DVD+R")
    assert linux.parse_media("Media current: is not present\nMedia status : is not present\n"
                             ).status == NO_MEDIUM
    assert linux.image_path("stdio:/tmp/x.iso") == Path("/tmp/x.iso")
    assert linux.image_path("/dev/sr0") == Path("/dev/sr0")


def test_imapi2_scripts_take_parameters_from_the_environment():
    command = windows.command(windows.WRITE_SCRIPT)
    assert command[:2] == ["powershell.exe", "-NoProfile"] and command[-2] == "-Command"
    script = command[-1]
    for needed in ("IMAPI2FS.MsftFileSystemImage", "IMAPI2.MsftDiscFormat2Data", "AddTree",
                   "$env:SD_FOLDER", "$env:SD_LABEL", "ForceMediaToBeClosed", "FileSystemsToCreate = 3"):
        assert needed in script
    env = windows.environment("E:", Path(r"C:\tmp\disc1"), "LABEL")
    assert (env["SD_DEVICE"], env["SD_FOLDER"], env["SD_LABEL"]) == ("E:", r"C:\tmp\disc1", "LABEL")
    assert windows.parse_drives('[{"device":"E:\\\\","name":"HL-DT-ST DVDRAM"}]') == \
        [Drive("E:", "HL-DT-ST DVDRAM")]
    assert windows.parse_drives('{"device":"F:\\\\","name":"ASUS"}') == [Drive("F:", "ASUS")]
    info = windows.parse_media('{"blank":true,"free":359844,"kind":2}')
    assert (info.status, info.free) == (BLANK, 359844 * 2048)
    assert windows.parse_media('{"status":"no medium"}').status == NO_MEDIUM
    assert windows.Imapi2Burner().read_back(None, "E:").folder == Path("E:\\")


def test_hdiutil_burns_the_image_and_drutil_lists_drives():
    command = macos.burn_command(Path("/tmp/DISC.ISO"), "1")
    assert command[:3] == ["hdiutil", "burn", "/tmp/DISC.ISO"]
    assert command[command.index("-device") + 1] == "1"
    assert "-puppetstrings" in command and "-noeject" in command
    listing = ("   Vendor   Product           Rev   Bus       SupportLevel\n"
               "1  HL-DT-ST DVDRW  GX40N      RQ00  USB       Unsupported\n")
    assert macos.parse_drives(listing) == [Drive("1", "HL-DT-ST DVDRW GX40N")]
    status = ("Vendor   Product           Rev\n HL-DT-ST DVDRW  GX40N      RQ00\n\n"
              "           Type: DVD-R                Name: /dev/disk4\n"
              "       Sessions: 0                  Tracks: 0\n"
              "   Overwritable:   00:00:00         blocks:        0 /   0.00MB /   0.00MiB\n"
              "     Space Free: 510:03:41          blocks:  2295104 /   4.70GB /   4.38GiB\n"
              "     Space Used:   00:00:00         blocks:        0 /   0.00MB /   0.00MiB\n"
              "    Writability: appendable, blank, overwritable\n")
    info = macos.parse_media(status)
    assert (info.status, info.free, info.kind) == (BLANK, 2295104 * 2048, "DVD-R")
    assert macos.parse_media("No Media Inserted\n").status == NO_MEDIUM


def test_each_system_has_its_backend():
    assert isinstance(for_system("Linux"), linux.XorrisoBurner)
    assert isinstance(for_system("Windows"), windows.Imapi2Burner)
    assert isinstance(for_system("Darwin"), macos.HdiutilBurner)


def test_a_missing_tool_is_a_plain_error():
    from app.media.burners import BurnError, run_tool

    with pytest.raises(BurnError, match="not installed"):
        run_tool(["studydesk-no-such-burner"], CancelToken())
