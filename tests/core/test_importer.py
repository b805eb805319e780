"""The importer: files, folders, ZIPs, DICOMDIR media; every refusal named."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import pydicom
import pytest
from pydicom.fileset import FileSet

from app import store
from app.db import catalog
from app.errors import Cancelled, NotAllowed
from app.importing.importer import import_paths
from app.jobs import CancelToken
from tests.factories import ct_dataset, pydicom_test_files, write, write_series


def rows(home, sql, params=()):
    db = home.connect()
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def every_row_has_its_file(home) -> bool:
    for path, sha in rows(home, "SELECT path, sha256 FROM instances"):
        f = store.absolute(home, path)
        if not f.is_file():
            return False
        if sha and store.sha256_file(f) != sha:
            return False
    return True


def test_copy_places_identical_files_by_uid(home, tmp_path):
    sources = write_series(tmp_path / "in", count=3)
    result = import_paths(home, [tmp_path / "in"], _admin(home))
    assert (result.imported, result.duplicates, result.rejected) == (3, 0, [])
    ds = pydicom.dcmread(sources[0])
    assert result.studies == [ds.StudyInstanceUID]
    for source in sources:
        sop = pydicom.dcmread(source).SOPInstanceUID
        (path, linked, sha) = rows(home, "SELECT path, linked, sha256 FROM instances"
                                   " WHERE sop_instance_uid = ?", [sop])[0]
        stored = home.root / path
        assert linked == 0
        assert path.startswith("store/") and ds.StudyInstanceUID in path and path.endswith(sop + ".dcm")
        assert stored.read_bytes() == source.read_bytes()
        assert sha == hashlib.sha256(source.read_bytes()).hexdigest()
    assert rows(home, "SELECT series_count, instance_count, modalities FROM studies") == [(1, 3, "CT")]


def _admin(home):
    from app.home import os_login
    return os_login()


def test_link_indexes_files_where_they_are(home, tmp_path):
    sources = write_series(tmp_path / "in", count=2)
    result = import_paths(home, [tmp_path / "in"], _admin(home), mode="link")
    assert result.imported == 2
    paths = sorted(p for (p,) in rows(home, "SELECT path FROM instances WHERE linked = 1"))
    assert paths == sorted(str(s.resolve()) for s in sources)
    assert not any(home.store.rglob("*.dcm"))


def test_duplicates_are_counted_not_reimported(home, tmp_path):
    write_series(tmp_path / "in", count=3)
    import_paths(home, [tmp_path / "in"], _admin(home))
    again = import_paths(home, [tmp_path / "in", tmp_path / "in"], _admin(home))
    assert (again.imported, again.duplicates) == (0, 6)
    assert rows(home, "SELECT count(*) FROM instances") == [(3,)]


def test_each_bad_input_is_named_with_a_reason(home, tmp_path):
    folder = tmp_path / "mixed"
    write_series(folder, count=2)
    (folder / "notes.txt").write_text("not an image")
    truncated = write(ct_dataset(number=7), folder / "cut.dcm")
    truncated.write_bytes(truncated.read_bytes()[:-500])
    no_uid = ct_dataset(number=8)
    del no_uid.StudyInstanceUID
    write(no_uid, folder / "nouid.dcm")
    (folder / ".DS_Store").write_bytes(b"\0\1")
    result = import_paths(home, [folder, tmp_path / "absent.dcm"], _admin(home))
    reasons = {Path(r["path"]).name: r["reason"] for r in result.rejected}
    assert result.imported == 2
    assert reasons["notes.txt"].startswith("not DICOM")
    assert reasons["cut.dcm"].startswith("truncated")
    assert reasons["nouid.dcm"] == "missing StudyInstanceUID"
    assert reasons["absent.dcm"] == "not found"
    assert ".DS_Store" not in reasons
    assert every_row_has_its_file(home)


def test_zip_members_import_and_traversal_is_refused(home, tmp_path):
    good = write_series(tmp_path / "src", count=2)
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as z:
        z.write(good[1], "nested/b.dcm")
    archive = tmp_path / "study.zip"
    evil_target = tmp_path / "evil.dcm"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(good[0], "series/a.dcm")
        z.write(good[0], "../evil.dcm")
        z.writestr(zipfile.ZipInfo("/abs/evil2.dcm"), good[0].read_bytes())
        z.write(inner, "more/inner.zip")
    result = import_paths(home, [archive], _admin(home))
    assert result.imported == 2
    refused = {r["path"]: r["reason"] for r in result.rejected}
    assert set(refused) == {f"{archive}:../evil.dcm", f"{archive}:/abs/evil2.dcm"}
    assert all("unsafe member name" in reason for reason in refused.values())
    assert not evil_target.exists()
    assert every_row_has_its_file(home)
    leftovers = [p for p in home.tmp.rglob("*") if p.is_file()]
    assert leftovers == []


def _write_media(tmp_path: Path, count: int = 3) -> Path:
    sources = write_series(tmp_path / "src", count=count)
    fs = FileSet()
    for s in sources:
        fs.add(pydicom.dcmread(s))
    media = tmp_path / "disc"
    fs.write(media)
    return media


def test_dicomdir_media_follow_records_and_report_missing(home, tmp_path):
    media = _write_media(tmp_path)
    referenced = sorted(p for p in media.rglob("*") if p.is_file() and p.name != "DICOMDIR")
    referenced[0].unlink()
    (media / "README.TXT").write_text("a disc")
    result = import_paths(home, [media], _admin(home))
    assert result.imported == 2
    assert len(result.rejected) == 1
    assert "missing" in result.rejected[0]["reason"] and "IMAGE record" in result.rejected[0]["reason"]


def test_media_with_lower_case_names(home, tmp_path):
    media = _write_media(tmp_path)
    for p in sorted(media.rglob("*"), key=lambda p: -len(p.parts)):
        p.rename(p.with_name(p.name.lower()))
    result = import_paths(home, [media], _admin(home))
    assert (result.imported, result.rejected) == (3, [])


def test_every_pydicom_test_file_imports_or_is_refused(home, tmp_path):
    bundled = pydicom_test_files()
    loose = tmp_path / "loose"
    shutil.copytree(bundled, loose, ignore=shutil.ignore_patterns("dicomdirtests"))
    files = [p for p in loose.rglob("*") if p.is_file()]
    result = import_paths(home, [loose], _admin(home))
    assert result.imported + result.duplicates + len(result.rejected) == len(files)
    assert result.imported > 30
    assert all(r["reason"] for r in result.rejected)
    assert every_row_has_its_file(home)


def test_pydicom_dicomdir_media_are_followed(home):
    media = pydicom_test_files() / "dicomdirtests"
    records = [r for r in pydicom.dcmread(media / "DICOMDIR").DirectoryRecordSequence
               if r.get("ReferencedFileID")]
    result = import_paths(home, [media], _admin(home))
    assert result.imported + result.duplicates + len(result.rejected) == len(records)
    assert result.imported > 0
    assert every_row_has_its_file(home)


def test_a_failing_batch_leaves_no_row_and_no_file(home, tmp_path, monkeypatch):
    write_series(tmp_path / "in", count=4)
    calls = {"n": 0}
    real = catalog.insert_instance

    def failing(db, values):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        real(db, values)

    monkeypatch.setattr(catalog, "insert_instance", failing)
    with pytest.raises(OSError):
        import_paths(home, [tmp_path / "in"], _admin(home))
    assert rows(home, "SELECT count(*) FROM instances") == [(0,)]
    assert not [p for p in home.store.rglob("*") if p.is_file()]


def test_cancel_keeps_what_was_committed_consistent(home, tmp_path, monkeypatch):
    import app.importing.importer as importer

    monkeypatch.setattr(importer, "BATCH_FILES", 2)
    write_series(tmp_path / "in", count=6)
    token = CancelToken()

    def progress(fraction, message=""):
        if fraction and fraction >= 0.5:
            token.cancel()

    with pytest.raises(Cancelled):
        import_paths(home, [tmp_path / "in"], _admin(home), progress=progress, cancel=token)
    count = rows(home, "SELECT count(*) FROM instances")[0][0]
    assert 0 < count < 6
    assert every_row_has_its_file(home)
    assert rows(home, "SELECT instance_count FROM studies") == [(count,)]


def test_a_study_of_another_patient_is_refused(home, tmp_path):
    write(ct_dataset(patient_id="P1", number=1), tmp_path / "a" / "1.dcm")
    other = ct_dataset(patient_id="P1", number=2)
    other.PatientID = "P2"
    write(other, tmp_path / "b" / "2.dcm")
    import_paths(home, [tmp_path / "a"], _admin(home))
    result = import_paths(home, [tmp_path / "b"], _admin(home))
    assert result.imported == 0
    assert "belongs to patient 'P1'" in result.rejected[0]["reason"]


def test_import_needs_the_import_privilege(home, tmp_path):
    from app.accounts import accounts

    db = home.connect()
    admin = accounts.get_user(db, _admin(home))
    researcher = accounts.add_user(db, admin, "rita", ["researcher"])
    db.close()
    write_series(tmp_path / "in", count=1)
    with pytest.raises(NotAllowed, match="import privilege"):
        import_paths(home, [tmp_path / "in"], researcher)


def test_import_is_audited(home, tmp_path):
    write_series(tmp_path / "in", count=2)
    result = import_paths(home, [tmp_path / "in"], _admin(home))
    entry = rows(home, "SELECT action, event_code, outcome, objects FROM audit"
                 " WHERE action = 'import'")
    assert entry == [("import", "110107", "success", f'["{result.studies[0]}"]')]


@pytest.mark.parametrize("mode", ["copy", "link"])
def test_worker_processes_prepare_the_same_result(home, tmp_path, monkeypatch, mode):
    import app.importing.importer as importer

    monkeypatch.setattr(importer, "PARALLEL_MIN", 4)
    monkeypatch.setattr(importer, "CHUNK", 3)
    sources = write_series(tmp_path / "in", count=10)
    (tmp_path / "in" / "junk.txt").write_text("x")
    result = import_paths(home, [tmp_path / "in"], _admin(home), mode=mode, workers=2)
    assert (result.imported, len(result.rejected)) == (10, 1)
    assert rows(home, "SELECT count(*) FROM instances") == [(10,)]
    assert every_row_has_its_file(home)
    if mode == "copy":
        stored = sorted(p.read_bytes() for p in home.store.rglob("*.dcm"))
        assert stored == sorted(s.read_bytes() for s in sources)
    again = import_paths(home, [tmp_path / "in"], _admin(home), mode=mode, workers=2)
    assert (again.imported, again.duplicates) == (0, 10)
    assert not [p for p in home.tmp.rglob("*") if p.is_file()]
