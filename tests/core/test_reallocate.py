"""Reallocating a series: attributes, empty sources, rules, dependents."""

from __future__ import annotations

import pydicom
import pytest

from app import store
from app.accounts import accounts
from app.changes import journal
from app.changes import ai, dependents
from app.changes.reallocate import reallocate
from app.errors import RuleRefused
from app.importing.importer import import_paths
from tests.factories import write_series


@pytest.fixture
def setup(home, tmp_path, admin):
    src = tmp_path / "src"
    write_series(src, 2, patient_id="P1", patient_name="DOE^JOHN", study="chest", series="ax",
                 accession="C1", description="CT CHEST")
    write_series(src, 3, patient_id="P1", patient_name="DOE^JOHN", study="chest", series="abd",
                 accession="C1", description="CT CHEST")
    write_series(src, 1, patient_id="P1", patient_name="DOE^JOHN", study="abdomen", series="x",
                 accession="B1", description="CT ABDOMEN", study_date="20240120")
    write_series(src, 1, patient_id="P2", patient_name="ROE^RICHARD", study="other", series="y",
                 accession="Z1", birth_date="19400101")
    import_paths(home, [src], admin)
    db = home.connect()
    admin_user = accounts.get_user(db, admin)
    user = accounts.add_user(db, admin_user, "carla", ["content-manager"])
    study = {a: u for a, u in db.execute("SELECT accession_number, study_instance_uid FROM studies")}
    series = {d: u for d, u in db.execute("SELECT series_description, series_instance_uid FROM series")}
    yield home, db, user, study, series
    db.close()


def test_series_takes_destination_attributes(setup):
    home, db, user, study, series = setup
    sid = series["CT CHEST abd"]
    originals = {sop: store.absolute(home, p).read_bytes() for sop, p in db.execute(
        "SELECT sop_instance_uid, path FROM instances WHERE series_instance_uid = ?", [sid])}
    change = reallocate(home, db, user, sid, study["B1"], reason="misfiled")
    assert db.execute("SELECT study_instance_uid FROM series WHERE series_instance_uid = ?",
                      [sid]).fetchone()[0] == study["B1"]
    counts = dict(db.execute("SELECT accession_number, instance_count FROM studies"))
    assert counts == {"C1": 2, "B1": 4, "Z1": 1}
    for sop, path in db.execute("SELECT sop_instance_uid, path FROM instances"
                                " WHERE series_instance_uid = ?", [sid]):
        ds = pydicom.dcmread(store.absolute(home, path))
        original = pydicom.dcmread(__import__("io").BytesIO(originals[sop]))
        assert (ds.StudyInstanceUID, ds.AccessionNumber, ds.StudyDescription, ds.StudyDate) == \
            (study["B1"], "B1", "CT ABDOMEN", "20240120")
        assert ds.PixelData == original.PixelData and ds.SeriesInstanceUID == sid
    journal.undo(home, db, change, user)
    assert {sop: store.absolute(home, p).read_bytes() for sop, p in db.execute(
        "SELECT sop_instance_uid, path FROM instances WHERE series_instance_uid = ?", [sid])} == originals


def test_a_source_left_empty_disappears_and_returns_on_undo(setup):
    home, db, user, study, series = setup
    change = reallocate(home, db, user, series["CT ABDOMEN x"], study["C1"])
    assert not db.execute("SELECT 1 FROM studies WHERE accession_number = 'B1'").fetchone()
    journal.undo(home, db, change, user)
    assert db.execute("SELECT instance_count FROM studies WHERE accession_number = 'B1'").fetchone() == (1,)


def test_across_patients_needs_force_and_migrated_refuses(setup):
    home, db, user, study, series = setup
    with pytest.raises(RuleRefused, match="different patients"):
        reallocate(home, db, user, series["CT HEAD y"], study["C1"])
    db.execute("UPDATE studies SET migrated = 1 WHERE accession_number = 'B1'")
    with pytest.raises(RuleRefused, match="migrated"):
        reallocate(home, db, user, series["CT CHEST abd"], study["B1"])


def test_dependents_of_a_planning_ct(home, tmp_path, admin):
    from app.demo import generate_demo

    generate_demo(tmp_path / "demo", patients=1)
    import_paths(home, [tmp_path / "demo"], admin)
    db = home.connect()
    rows = list(db.execute("SELECT series_instance_uid, modality FROM series ORDER BY series_number"))
    study = db.execute("SELECT study_instance_uid FROM series WHERE modality = 'RTPLAN'").fetchone()[0]

    def follow(series_uid: str) -> list[str]:
        found = dependents.find(home, db, [series_uid], [study], ai.config(home, db))
        return [m for uid in found.dependents for u, m in rows if u == uid]

    ct = [uid for uid, m in rows if m == "CT"][0]
    modalities = follow(ct)
    assert sorted(modalities) == ["RTDOSE", "RTDOSE", "RTPLAN", "RTPLAN", "RTSTRUCT"]
    assert modalities[0] == "RTSTRUCT"                  # in dependency order
    plan = [uid for uid, m in rows if m == "RTPLAN"][0]
    assert follow(plan) == ["RTDOSE"]
    db.close()
