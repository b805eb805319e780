"""A selection larger than the medium: spread over several discs at study
(else series) boundaries, each disc complete with its own DICOMDIR, README
and index; on a drive the caller is asked for every further blank disc."""

from __future__ import annotations

import shutil

import pydicom
import pytest

from app.accounts import audit
from app.errors import Cancelled, RuleRefused
from app.media import BurnOptions, burn, custom_medium, iso
from app.media.capacity import FIXED_OVERHEAD
from tests.media.conftest import extract, instances_of, needs_xorriso, referenced, study_uids

CAPACITY = FIXED_OVERHEAD + 4_500_000  # each series fits; some studies do not


def _check_set(images, home, uids, tmp_path) -> list[set[str]]:
    """Each disc complete and valid; every selected object on exactly one."""
    expected = instances_of(home, uids)
    per_disc = []
    for n, image in enumerate(images, 1):
        assert image.stat().st_size <= CAPACITY
        root = extract(image, tmp_path / f"disc{n}")
        assert {"DICOMDIR", "README.TXT", "INDEX.HTM", "MANIFEST.TXT"} <= {p.name for p in root.iterdir()}
        assert f"{n} of {len(images)}" in (root / "README.TXT").read_text(encoding="utf-8")
        files = referenced(root)
        assert files and all(files[sop].read_bytes() == expected[sop].read_bytes() for sop in files)
        ds = pydicom.dcmread(root / "DICOMDIR")
        assert ds.FileSetID.endswith(f"{n}OF{len(images)}")
        per_disc.append(set(files))
    union = set().union(*per_disc)
    assert union == set(expected)
    assert sum(len(s) for s in per_disc) == len(expected)  # none on two discs
    return per_disc


def _series_of(home) -> dict[str, str]:
    db = home.connect()
    try:
        return dict(db.execute("SELECT sop_instance_uid, series_instance_uid FROM instances").fetchall())
    finally:
        db.close()


def _study_of(home) -> dict[str, str]:
    db = home.connect()
    try:
        return dict(db.execute("SELECT i.sop_instance_uid, s.study_instance_uid FROM instances i"
                               " JOIN series s ON s.series_instance_uid = i.series_instance_uid"
                               ).fetchall())
    finally:
        db.close()


def test_a_set_of_iso_images(media_home, user, tmp_path):
    uids = study_uids(media_home)
    result = burn(media_home, user, uids, iso_path=tmp_path / "set.iso",
                  options=BurnOptions(label="set", medium=custom_medium(CAPACITY)))
    assert result.verified and result.complete and result.planned >= 3
    images = [tmp_path / f"set_{n}.iso" for n in range(1, result.planned + 1)]
    assert [d.target for d in result.discs] == [str(p) for p in images]
    assert [iso.volume_identifier(p) for p in images] == \
        [f"SET_{n}OF{result.planned}" for n in range(1, result.planned + 1)]
    per_disc = _check_set(images, media_home, uids, tmp_path)
    series, study = _series_of(media_home), _study_of(media_home)
    by_series = [{series[sop] for sop in disc} for disc in per_disc]
    by_study = [{study[sop] for sop in disc} for disc in per_disc]
    pairs = [(a, b) for a in range(len(per_disc)) for b in range(a + 1, len(per_disc))]
    # studies larger than a disc are split, at series boundaries (every series fits)
    assert any(by_study[a] & by_study[b] for a, b in pairs)
    assert not any(by_series[a] & by_series[b] for a, b in pairs)


@needs_xorriso
def test_the_caller_is_asked_for_each_next_blank_disc(media_home, user, tmp_path):
    uids = study_uids(media_home)
    drive = tmp_path / "drive.img"
    asked, written = [], []

    def next_disc(number: int, total: int) -> bool:
        asked.append((number, total))
        done = tmp_path / f"written_{number - 1}.img"
        shutil.move(drive, done)  # "eject" the verified disc: the drive is blank again
        written.append(done)
        return True

    result = burn(media_home, user, uids, device=f"stdio:{drive}", next_disc=next_disc,
                  options=BurnOptions(label="set", medium=custom_medium(CAPACITY)))
    total = result.planned
    assert total >= 3 and result.verified and result.complete
    assert asked == [(n, total) for n in range(2, total + 1)]
    _check_set(written + [drive], media_home, uids, tmp_path)


@needs_xorriso
def test_declining_the_next_disc_cancels_and_is_audited(media_home, user, tmp_path):
    uids = study_uids(media_home)
    drive = tmp_path / "drive.img"
    with pytest.raises(Cancelled):
        burn(media_home, user, uids, device=f"stdio:{drive}", next_disc=lambda n, total: False,
             options=BurnOptions(medium=custom_medium(CAPACITY)))
    assert drive.exists()  # disc 1 was written (and verified) before the question
    db = media_home.connect()
    try:
        entry = [e for e in audit.entries(db) if e["action"] == "burn"][-1]
    finally:
        db.close()
    assert entry["outcome"] == audit.SERIOUS_FAILURE and "cancelled" in entry["detail"]
    assert "on 1 of" in entry["detail"]


@needs_xorriso
def test_several_discs_need_someone_to_ask(media_home, user, tmp_path):
    drive = tmp_path / "drive.img"
    with pytest.raises(RuleRefused, match="discs"):
        burn(media_home, user, study_uids(media_home), device=f"stdio:{drive}",
             options=BurnOptions(medium=custom_medium(CAPACITY)))
    assert not drive.exists()
