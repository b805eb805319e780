"""Research projects: subjects, autocomplete, bulk search, the RT tree."""

from __future__ import annotations

import shutil

import pytest

from app.accounts import accounts
from app.errors import BadInput, NotAllowed, NotFound
from app.importing.importer import import_paths
from app.research import projects, rt_tree
from tests.factories import pydicom_test_files


@pytest.fixture
def db(home):
    conn = home.connect()
    yield conn
    conn.close()


@pytest.fixture
def users(db, admin):
    boss = accounts.get_user(db, admin)
    return {"admin": boss,
            "rita": accounts.add_user(db, boss, "rita", ["researcher"]),
            "rex": accounts.add_user(db, boss, "rex", ["researcher"]),
            "rob": accounts.add_user(db, boss, "rob", ["radiologist"])}


@pytest.fixture
def trial(db, users):
    projects.create(db, users["rita"], "LUNG-01")
    for n in range(1, 16):
        projects.enrol(db, users["rita"], "LUNG-01", f"CLIN{n:03d}", f"xId{n:02d}", f"yId{n:02d}")
    return "LUNG-01"


def test_autocomplete_shows_at_most_ten_prefix_first(db, users, trial):
    hits = projects.find(db, users["rita"], trial, "id")
    assert len(hits) == 10
    assert projects.find(db, users["rita"], trial, "yid07") == \
        [{"pid": "xId07", "subject": "yId07", "patient_id": "CLIN007"}]
    ones = projects.find(db, users["rita"], trial, "1")
    assert [h["pid"] for h in ones][:2] == ["xId01", "xId10"]


def test_bulk_search_with_partial_ids(db, users, trial):
    result = projects.bulk(db, users["rita"], trial, "yId01, yId02 ; xId1 nothing, 07")
    pids = [s["pid"] for s in result.subjects]
    assert pids[:2] == ["xId01", "xId02"] and "xId07" in pids
    assert {"xId10", "xId15"} <= set(pids)               # 'xId1' is partial: several subjects
    assert result.unmatched == ["nothing"]
    assert [a["id"] for a in result.ambiguous] == ["xId1"]


def test_membership_and_enrolment_rules(db, users, trial):
    with pytest.raises(NotAllowed, match="not a member"):
        projects.find(db, users["rex"], trial, "x")
    with pytest.raises(NotAllowed, match="research privilege"):
        projects.create(db, users["rob"], "OTHER")
    with pytest.raises(BadInput, match="already enrolled"):
        projects.enrol(db, users["rita"], trial, "CLIN001", "new", "new")
    projects.add_member(db, users["rita"], trial, "rex")
    assert projects.find(db, users["rex"], trial, "xId15")[0]["patient_id"] == "CLIN015"
    with pytest.raises(NotAllowed, match="not an admin"):
        projects.reidentify(db, users["rex"], trial, "xId01", "curious")
    with pytest.raises(BadInput, match="reason"):
        projects.reidentify(db, users["rita"], trial, "xId01", "")
    assert projects.reidentify(db, users["rita"], trial, "xId01", "adverse event")["patient_id"] == "CLIN001"
    with pytest.raises(NotFound):
        projects.reidentify(db, users["rita"], trial, "nope", "x")


def test_rt_tree_of_a_generated_chain(home, db, tmp_path, admin):
    from app.demo import generate_demo

    generate_demo(tmp_path / "demo", patients=1)
    import_paths(home, [tmp_path / "demo"], admin)
    study = db.execute("SELECT study_instance_uid FROM studies").fetchone()[0]
    (ct,) = rt_tree.build(home, db, study)
    assert ct.modality == "CT"
    (struct,) = ct.children
    assert struct.modality == "RTSTRUCT" and struct.warnings == []
    plans = {p.label: p for p in struct.children}
    assert {label: p.approval for label, p in plans.items()} == \
        {"Plan A 60Gy": "APPROVED", "Plan B 66Gy": "UNAPPROVED"}
    assert all([c.modality for c in p.children] == ["RTDOSE"] for p in plans.values())
    dose = plans["Plan B 66Gy"].children[0]
    assert rt_tree.ancestors([ct], dose.series_uid) == \
        [ct.series_uid, struct.series_uid, plans["Plan B 66Gy"].series_uid]


def test_rt_tree_of_unrelated_bundled_rt_files_warns(home, db, tmp_path, admin):
    folder = tmp_path / "rt"
    folder.mkdir()
    for name in ("rtplan.dcm", "rtstruct.dcm", "rtdose.dcm"):
        shutil.copy(pydicom_test_files() / name, folder / name)
    import_paths(home, [folder], admin)
    warned = {}
    for (study,) in db.execute("SELECT study_instance_uid FROM studies").fetchall():
        (root,) = rt_tree.build(home, db, study)            # three patients: nothing links
        assert not root.children
        warned[root.modality] = root.warnings
    assert set(warned) == {"RTPLAN", "RTSTRUCT", "RTDOSE"}
    assert warned["RTPLAN"] and warned["RTDOSE"]           # their plan / structure set are elsewhere
    assert all("not in this study" in w for w in warned["RTPLAN"] + warned["RTDOSE"])
