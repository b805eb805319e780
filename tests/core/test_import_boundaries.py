"""An import reads only what the user named: DICOMDIR records that lead off
the medium, symbolic links that leave the folder or loop, ZIP members that
inflate past the limits; a path that does not exist; a refused file that
names another patient writes nothing."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pydicom
import pytest
from pydicom.fileset import FileSet

from app.worklist import query as worklist
from app.errors import NotFound
from app.home import os_login
from app.importing.importer import import_paths
from tests.factories import ct_dataset, write, write_series

# the hostile ReferencedFileIDs break the CS rules on purpose
pytestmark = pytest.mark.filterwarnings("ignore:.*VR CS:UserWarning")


def sops(home) -> set[str]:
    db = home.connect()
    try:
        return {u for (u,) in db.execute("SELECT sop_instance_uid FROM instances")}
    finally:
        db.close()


def count(home, sql: str, params=()) -> int:
    db = home.connect()
    try:
        return db.execute(sql, params).fetchone()[0]
    finally:
        db.close()


def _disc(tmp_path: Path, n: int = 3) -> tuple[Path, list[str]]:
    sources = write_series(tmp_path / "src", count=n)
    fs = FileSet()
    for s in sources:
        fs.add(pydicom.dcmread(s))
    disc = tmp_path / "disc"
    fs.write(disc)
    return disc, [pydicom.dcmread(s).SOPInstanceUID for s in sources]


def _point_record(disc: Path, file_id) -> int:
    """Make the first IMAGE record of the disc's DICOMDIR reference *file_id*
    (its own file removed from the disc); its 1-based position in the
    record sequence."""
    ds = pydicom.dcmread(disc / "DICOMDIR")
    for index, record in enumerate(ds.DirectoryRecordSequence, start=1):
        if record.DirectoryRecordType == "IMAGE":
            disc.joinpath(*record.ReferencedFileID).unlink()
            record.ReferencedFileID = file_id
            ds.save_as(disc / "DICOMDIR")
            return index
    raise AssertionError("no IMAGE record")


@pytest.fixture
def outsider(tmp_path) -> tuple[Path, str]:
    """A valid DICOM file beside the disc, not on it."""
    ds = ct_dataset(patient_id="OUTSIDE", study="secret")
    path = write(ds, tmp_path / "outside" / "SECRET.DCM")
    return path, ds.SOPInstanceUID


@pytest.mark.parametrize("climb", [["..", "OUTSIDE", "SECRET.DCM"], "../outside/SECRET.DCM",
                                   ["IMAGES", "..", "..", "OUTSIDE", "SECRET.DCM"]])
def test_a_dicomdir_record_climbing_off_the_medium_is_refused(home, tmp_path, outsider, climb):
    disc, uids = _disc(tmp_path)
    index = _point_record(disc, climb)
    result = import_paths(home, [disc], os_login())
    assert outsider[1] not in sops(home)
    assert result.imported == 2 and len(sops(home)) == 2
    refused = [r for r in result.rejected if f"DICOMDIR record {index} (IMAGE)" in r["reason"]]
    assert len(refused) == 1, result.rejected
    assert "points outside the medium" in refused[0]["reason"]


def test_an_absolute_dicomdir_record_is_refused_not_a_traceback(home, tmp_path, outsider):
    disc, uids = _disc(tmp_path)
    index = _point_record(disc, str(outsider[0]))
    result = import_paths(home, [disc], os_login())
    assert outsider[1] not in sops(home)
    assert result.imported == 2
    reasons = [r["reason"] for r in result.rejected]
    assert any(f"DICOMDIR record {index} (IMAGE)" in r and "absolute path" in r for r in reasons), reasons


def test_a_dicomdir_record_through_a_symbolic_link_off_the_medium_is_refused(home, tmp_path, outsider):
    disc, uids = _disc(tmp_path)
    (disc / "LINK").symlink_to(outsider[0].parent, target_is_directory=True)
    index = _point_record(disc, ["LINK", "SECRET.DCM"])
    result = import_paths(home, [disc], os_login())
    assert outsider[1] not in sops(home)
    assert any(f"DICOMDIR record {index} (IMAGE)" in r["reason"] and "outside the medium" in r["reason"]
               for r in result.rejected), result.rejected


def test_symbolic_links_out_of_the_folder_and_loops_are_not_followed(home, tmp_path, outsider):
    folder = tmp_path / "in"
    inside = write_series(folder, count=2)
    (folder / "escape.dcm").symlink_to(outsider[0])
    (folder / "up").symlink_to(outsider[0].parent, target_is_directory=True)
    (folder / "sub").mkdir()
    (folder / "sub" / "back").symlink_to(folder, target_is_directory=True)
    (folder / "self").symlink_to(".", target_is_directory=True)
    (folder / "ping").symlink_to(folder / "pong")
    (folder / "pong").symlink_to(folder / "ping")
    (folder / "alias.dcm").symlink_to(inside[0])   # inside the folder: followed (a duplicate)
    result = import_paths(home, [folder], os_login())
    assert outsider[1] not in sops(home)
    assert result.imported == 2 and result.duplicates == 1
    refused = {Path(r["path"]).name: r["reason"] for r in result.rejected}
    assert set(refused) == {"escape.dcm", "up", "back", "self", "ping", "pong"}, refused
    assert "outside the imported folder" in refused["escape.dcm"]
    assert "outside the imported folder" in refused["up"]
    for name in ("back", "self", "ping", "pong"):
        assert "loop" in refused[name] and "not followed" in refused[name]


def test_a_dicomdir_that_is_a_link_off_the_folder_is_not_followed(home, tmp_path, outsider):
    disc, uids = _disc(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    (disc / "DICOMDIR").rename(tmp_path / "elsewhere" / "DICOMDIR")
    (disc / "DICOMDIR").symlink_to(tmp_path / "elsewhere" / "DICOMDIR")
    result = import_paths(home, [disc], os_login())
    assert result.imported == 3 and sops(home) == set(uids)   # the folder, walked as a folder
    assert [Path(r["path"]).name for r in result.rejected] == ["DICOMDIR"]
    assert "outside the imported folder" in result.rejected[0]["reason"]


def _bomb(path: Path, size: int, good: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(good, "series/good.dcm")
        with z.open("series/bomb.dcm", "w", force_zip64=True) as member:
            chunk = b"\0" * (1 << 20)
            for _ in range(size >> 20):
                member.write(chunk)
    return path


def test_a_zip_member_over_the_size_limit_is_refused(home, tmp_path):
    good = write_series(tmp_path / "src", count=1)[0]
    archive = _bomb(tmp_path / "big.zip", 8 << 20, good)
    home.set_setting("import.zip_member_limit", "2MiB")
    result = import_paths(home, [archive], os_login())
    assert result.imported == 1
    assert [r["path"] for r in result.rejected] == [f"{archive}:series/bomb.dcm"]
    assert "import.zip_member_limit" in result.rejected[0]["reason"]
    assert [p for p in home.tmp.rglob("*") if p.is_file()] == []


def test_a_zip_bomb_is_refused_by_its_ratio_while_extracting(home, tmp_path, monkeypatch):
    good = write_series(tmp_path / "src", count=1)[0]
    archive = _bomb(tmp_path / "bomb.zip", 6 << 20, good)
    home.set_setting("import.zip_ratio_after", "1MiB")
    written: list[int] = []
    import app.importing.zips as sources

    real = sources._size_refusal

    def watching(size, compressed, limits, verb):
        if verb != "declares":
            written.append(size)
        return real(size, compressed, limits, verb)

    # the size the archive declares is not trusted: pretend it said nothing
    monkeypatch.setattr(sources, "_size_refusal", lambda size, compressed, limits, verb: (
        None if verb == "declares" else watching(size, compressed, limits, verb)))
    result = import_paths(home, [archive], os_login())
    assert result.imported == 1
    assert len(result.rejected) == 1 and "ZIP bomb" in result.rejected[0]["reason"]
    assert "import.zip_ratio_limit" in result.rejected[0]["reason"]
    assert max(written) <= 2 << 20      # stopped at the first megabyte past the threshold
    assert [p for p in home.tmp.rglob("*") if p.is_file()] == []


def test_many_small_members_do_not_add_up_to_a_bomb(home, tmp_path):
    good = write_series(tmp_path / "src", count=1)[0]
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(good, "good.dcm")
        for n in range(6):
            z.writestr(f"zeros{n}.dcm", b"\0" * (3 << 20))
    home.set_setting("import.zip_ratio_after", "4MiB")   # each member is under it
    result = import_paths(home, [archive], os_login())
    assert result.imported == 1
    bombs = [r for r in result.rejected if "archive's members come to" in r["reason"]]
    assert len(bombs) >= 5, result.rejected
    assert [p for p in home.tmp.rglob("*") if p.is_file()] == []


def test_archives_nested_too_deep_are_not_extracted(home, tmp_path):
    good = write_series(tmp_path / "src", count=1)[0]
    inner = tmp_path / "z0.zip"
    with zipfile.ZipFile(inner, "w") as z:
        z.write(good, "deep.dcm")
    for level in range(1, 5):
        outer = tmp_path / f"z{level}.zip"
        with zipfile.ZipFile(outer, "w") as z:
            z.write(inner, inner.name)
        inner = outer
    result = import_paths(home, [inner], os_login())
    assert result.imported == 0
    assert len(result.rejected) == 1 and "nested more than 3 deep" in result.rejected[0]["reason"]


def test_import_of_a_path_that_does_not_exist_is_not_found(home, tmp_path):
    with pytest.raises(NotFound, match="nonexistent"):
        import_paths(home, [tmp_path / "nonexistent"], os_login())


def test_import_command_exit_4_for_a_missing_path(home, tmp_path, capsys):
    from app.cli import main

    code = main(["--home", str(home.root), "import", str(tmp_path / "nonexistent")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 4
    assert len(err) == 1 and str(tmp_path / "nonexistent") in err[0]


# -- a refused file writes nothing ----------------------------------------------------------


def _vip(tmp_path: Path) -> Path:
    ds = ct_dataset(patient_id="PV1", patient_name="VIP^VERA", study="vip", phone="+41 44 000 00 00",
                    confidentiality="VIP")
    ds.IssuerOfPatientID = "HOSP"
    return write(ds, tmp_path / "vip" / "1.dcm")


@pytest.mark.parametrize("issuer", [None, "OTHER"])
def test_a_refused_import_leaves_no_patient_record(home, tmp_path, issuer):
    import_paths(home, [_vip(tmp_path)], os_login())
    intruder = ct_dataset(patient_id="PV1", patient_name="VIP^VERA", study="vip", number=2)
    if issuer:
        intruder.IssuerOfPatientID = issuer
    write(intruder, tmp_path / "later" / "2.dcm")
    write_series(tmp_path / "later", count=1, patient_id="OK1", study="ok")  # same batch
    result = import_paths(home, [tmp_path / "later"], os_login())
    assert result.imported == 1
    assert len(result.rejected) == 1 and "belongs to patient" in result.rejected[0]["reason"]
    assert count(home, "SELECT count(*) FROM patients WHERE patient_id = 'PV1'") == 1
    db = home.connect()
    card = worklist.patient_card(db, "PV1")
    db.close()
    assert (card["confidentiality"], card["phone"], card["study_count"]) == ("VIP", "+41 44 000 00 00", 1)
    assert len(card["records"]) == 1


def test_a_refused_import_fills_no_blank_of_the_record(home, tmp_path):
    first = ct_dataset(patient_id="PB1", patient_name="", study="b")
    write(first, tmp_path / "a" / "1.dcm")
    import_paths(home, [tmp_path / "a"], os_login())
    other = ct_dataset(patient_id="PB1", patient_name="WRONG^NAME", study="b", number=2)
    other.StudyInstanceUID = ct_dataset(patient_id="PX", study="x").StudyInstanceUID
    write(ct_dataset(patient_id="PX", study="x"), tmp_path / "x" / "1.dcm")
    import_paths(home, [tmp_path / "x"], os_login())
    write(other, tmp_path / "b" / "2.dcm")
    result = import_paths(home, [tmp_path / "b"], os_login())
    assert result.imported == 0
    assert count(home, "SELECT count(*) FROM patients WHERE patient_name = 'WRONG^NAME'") == 0


def test_non_utf8_names_are_shown_printable(tmp_path):
    from app.importing.sources import shown

    name = os.fsdecode(b"\xff\xfe.dcm")
    assert shown(tmp_path / name).endswith("\\xff\\xfe.dcm")
    shown(tmp_path / name).encode("utf-8")
