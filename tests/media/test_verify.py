"""Reading back proves a disc: a changed byte, a missing file or a stray
file is named; a burn whose disc does not match is not called verified."""

from __future__ import annotations

import pytest

from app.accounts import audit
from app.errors import Cancelled
from app.jobs import CancelToken
from app.media import BurnOptions, burn, manifest, selection
from app.media import iso as iso_writer
from app.media.stage import stage
from tests.media.conftest import study_uids


@pytest.fixture
def staged(media_home, tmp_path):
    db = media_home.connect()
    try:
        studies = selection.load(media_home, db, study_uids(media_home)[:1])
    finally:
        db.close()
    return stage(studies, tmp_path / "disc", label="verify")


def test_an_image_that_matches(staged, tmp_path):
    image = tmp_path / "ok.iso"
    iso_writer.write_iso(staged.folder, image, staged.volume)
    check = manifest.verify_image(image, staged.digests)
    assert check.ok and check.files == len(staged.digests) and not check.problems
    assert check.bytes == sum((staged.folder / rel).stat().st_size for rel in staged.digests)


def test_a_changed_byte_is_found(staged, tmp_path):
    image = tmp_path / "bad.iso"
    iso_writer.write_iso(staged.folder, image, staged.volume)
    data = bytearray(image.read_bytes())
    # flip one byte inside a file's data: find the README's text in the image
    at = data.index(b"MEDICAL IMAGES ON DISC")
    data[at] ^= 0x20
    image.write_bytes(bytes(data))
    check = manifest.verify_image(image, staged.digests)
    assert not check.ok and check.problems == ["README.TXT: content differs from the manifest"]


def test_missing_and_stray_files_are_named(staged):
    expected = dict(staged.digests)
    victim = next(rel for rel in expected if rel.startswith("DICOM/"))
    (staged.folder / victim).unlink()
    (staged.folder / "STRAY.TXT").write_text("x")
    check = manifest.verify_tree(staged.folder, expected)
    assert not check.ok
    assert f"{victim}: missing from the disc" in check.problems
    assert "STRAY.TXT: on the disc but not in the manifest" in check.problems


def test_not_an_image(tmp_path):
    junk = tmp_path / "junk.iso"
    junk.write_bytes(b"\0" * 100000)
    check = manifest.verify_image(junk, {"README.TXT": "0" * 64})
    assert not check.ok and "not a readable ISO 9660 image" in check.problems[0]


def test_a_store_file_changed_since_import_fails_the_burn(media_home, user, tmp_path):
    """The manifest holds the digests recorded at import: a store file that
    changed since then is caught when the disc is read back."""
    from app import store

    uid = study_uids(media_home)[0]
    db = media_home.connect()
    try:
        path = db.execute("SELECT i.path FROM instances i JOIN series s ON s.series_instance_uid ="
                          " i.series_instance_uid WHERE s.study_instance_uid = ? LIMIT 1",
                          [uid]).fetchone()[0]
    finally:
        db.close()
    stored = store.absolute(media_home, path)
    data = bytearray(stored.read_bytes())
    data[-1] ^= 0xFF
    stored.write_bytes(bytes(data))
    result = burn(media_home, user, [uid], iso_path=tmp_path / "x.iso")
    assert not result.verified
    (problem,) = result.discs[0].verification.problems
    assert problem.endswith("content differs from the manifest")
    db = media_home.connect()
    try:
        entry = [e for e in audit.entries(db) if e["action"] == "burn"][-1]
    finally:
        db.close()
    assert entry["outcome"] == audit.MINOR_FAILURE and "verification failed" in entry["detail"]


def test_cancel_leaves_no_image_and_no_temporary_files(media_home, user, tmp_path):
    token = CancelToken()

    def progress(fraction, message=""):
        if fraction and fraction > 0.5:
            token.cancel()

    with pytest.raises(Cancelled):
        burn(media_home, user, study_uids(media_home), iso_path=tmp_path / "c.iso",
             options=BurnOptions(), progress=progress, cancel=token)
    assert not (tmp_path / "c.iso").exists() and not list(tmp_path.glob("*.part"))
    assert not [p for p in media_home.tmp.rglob("*") if p.is_file()]
