"""Which patient record a merge proposes to keep: the one with more studies
overall (not the ticked ones), never an ID that looks secondary (suffixed,
or from an issuer marked secondary) without saying why."""

from __future__ import annotations

import pytest

from app.changes.merge import looks_secondary, propose_keep
from app.errors import NotFound
from app.importing.importer import import_paths
from tests.factories import write_series


@pytest.mark.parametrize("pid, other, secondary", [
    ("PID1001-2", "PID1001", True), ("PID1001_OLD", "PID1001", True), ("PID1001.DUP", "X", True),
    ("PID1001B", "PID1001", True), ("PID1001", "PID1001-2", False), ("PID10012", "PID1001", False),
    ("PID1002", "PID1001", False), ("2024-12", "2024", True), ("12345", "1234", False),
])
def test_secondary_looking_ids(pid, other, secondary):
    assert bool(looks_secondary(pid, other)) is secondary


def test_an_issuer_marked_secondary():
    assert "OLDHOSP" in looks_secondary("A1", "B1", "OLDHOSP", ["oldhosp"])
    assert looks_secondary("A1", "B1", "HOSP-SECONDARY")
    assert not looks_secondary("A1", "B1", "MAINHOSP", ["oldhosp"])


@pytest.fixture
def records(home, tmp_path, admin):
    src = tmp_path / "src"
    for n in range(3):   # PID1001: three small studies
        write_series(src, 1, patient_id="PID1001", study=f"s{n}", accession=f"A{n}")
    write_series(src, 6, patient_id="PID1001-2", study="big", accession="B1")   # one big study
    write_series(src, 1, patient_id="PID2001", study="c", accession="C1")
    write_series(src, 4, patient_id="PID2002", study="d", accession="D1")
    write_series(src, 1, patient_id="PID2002", study="e", accession="D2")
    import_paths(home, [src], admin)
    db = home.connect()
    yield db
    db.close()


def test_the_primary_id_is_kept_even_with_fewer_images(records):
    proposal = propose_keep(records, "PID1001-2", "PID1001")
    assert (proposal.keep, proposal.merge) == ("PID1001", "PID1001-2")
    assert "suffix '-2'" in proposal.reason and proposal.studies == {"PID1001-2": 1, "PID1001": 3}


def test_more_studies_overall_wins_and_the_reason_says_so(records):
    proposal = propose_keep(records, "PID2001", "PID2002")
    assert proposal.keep == "PID2002" and "2 studies against 1 study" in proposal.reason


def test_the_secondary_id_is_not_kept_though_it_has_more_studies(records, tmp_path, home, admin):
    src = tmp_path / "more"
    for n in range(4):
        write_series(src, 1, patient_id="PID1001-2", study=f"m{n}", accession=f"M{n}")
    import_paths(home, [src], admin)
    proposal = propose_keep(records, "PID1001", "PID1001-2")
    assert proposal.keep == "PID1001"
    assert "more studies (5 studies against 3 studies), but the primary ID is kept" in proposal.reason


def test_an_unknown_patient_is_not_found(records):
    with pytest.raises(NotFound, match="PID9"):
        propose_keep(records, "PID1001", "PID9")
