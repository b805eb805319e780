"""Query by example matches like DICOM C-FIND; the patient card."""

from __future__ import annotations

from datetime import date

import pytest

from app.worklist import query as worklist
from app.errors import BadInput, NotFound
from app.worklist.query import Query


@pytest.fixture
def db(worklist_home):
    conn = worklist_home.connect()
    yield conn
    conn.close()


def names(db, **fields):
    return sorted({r["patient_name"] for r in worklist.studies(db, Query(**fields))})


def test_empty_query_lists_every_study_newest_first(db):
    rows = worklist.studies(db, Query())
    assert len(rows) == 5
    assert [r["study_date"] for r in rows][:3] == ["20240120", "20240115", "20230601"]


@pytest.mark.parametrize("pattern, expected", [
    ("doe*", ["DOE^JOHN"]),
    ("DOE^JOHN", ["DOE^JOHN"]),
    ("john", ["DOE^JOHN"]),                       # any component, whole
    ("john*", ["DOE^JOHN", "JOHNSON^PETER"]),     # any component, prefix
    ("*son", ["JOHNSON^PETER"]),
    ("?mith", ["SMITH^ANNA^MARIE"]),
    ("marie", ["SMITH^ANNA^MARIE"]),              # middle name
    ("o'brien", ["O'BRIEN^MARY"]),
    ("nobody*", []),
])
def test_person_name_matches_whole_or_any_component(db, pattern, expected):
    assert names(db, patient_name=pattern) == expected


def test_patient_id_exact_and_wildcards_case_insensitive(db):
    assert names(db, patient_id="p1") == ["DOE^JOHN"]
    assert names(db, patient_id="P*") == ["DOE^JOHN", "JOHNSON^PETER", "O'BRIEN^MARY", "SMITH^ANNA^MARIE"]
    assert names(db, patient_id="P[X]") == []          # '[' is literal, not a GLOB class
    assert names(db, patient_id="p3[x]") == ["O'BRIEN^MARY"]


def test_accession_modality_description(db):
    assert [r["accession"] for r in worklist.studies(db, Query(accession="acc1*"))] == ["ACC100", "ACC101"]
    assert names(db, modality="mr") == ["DOE^JOHN"]
    assert names(db, modality="U?") == ["JOHNSON^PETER"]
    assert names(db, description="*brain*") == ["DOE^JOHN"]


def test_date_ranges(db):
    rows = worklist.studies(db, Query(date_from="20240101", date_to="20240131"))
    assert sorted(r["accession"] for r in rows) == ["ACC100", "XY-7"]
    assert [r["accession"] for r in worklist.studies(db, Query(date_to="20221231"))] == ["ACC200"]
    combined = worklist.studies(db, Query(patient_name="doe*", date_from="20240101"))
    assert [r["accession"] for r in combined] == ["ACC100"]


@pytest.mark.parametrize("bad", ["2024-01-01", "20241301", "yesterday"])
def test_bad_dates_are_refused_naming_the_field(bad):
    with pytest.raises(BadInput, match="--date-from"):
        Query(date_from=bad)


def test_sorting_in_sql(db):
    uids = worklist.study_uids(db, Query(), sort="patient_name", descending=False)
    rows = worklist.study_rows(db, uids)
    assert [r["patient_name"] for r in rows][0] == "DOE^JOHN"
    assert [r["patient_name"] for r in rows][-1] == "SMITH^ANNA^MARIE"


def test_study_row_carries_the_contract_keys(db):
    row = worklist.studies(db, Query(accession="ACC100"))[0]
    for key in ("study_uid", "patient_id", "patient_name", "study_date", "accession", "modalities",
                "description", "series_count", "instance_count", "assigned_to", "locked_by", "staged"):
        assert key in row
    assert row["modalities"] == ["CT"] and row["instance_count"] == 2 and row["series_count"] == 1


def test_uid_prefixes_resolve_when_unambiguous(db):
    uid = worklist.studies(db, Query(accession="ACC100"))[0]["study_uid"]
    assert worklist.resolve_study_uid(db, uid[:len(uid) - 3]) == uid
    with pytest.raises(NotFound, match="at least 8"):
        worklist.resolve_study_uid(db, "1.2.3")
    with pytest.raises(BadInput, match="more than one"):
        worklist.resolve_study_uid(db, uid[:12])
    with pytest.raises(NotFound):
        worklist.resolve_study_uid(db, "9.9.9.9.9.9.9.9")


def test_series_of_a_study(db):
    uid = worklist.studies(db, Query(accession="ACC101"))[0]["study_uid"]
    series = worklist.series_of(db, uid)
    assert [(s["modality"], s["instance_count"]) for s in series] == [("MR", 1)]
    assert set(series[0]) >= {"series_uid", "modality", "number", "description", "instance_count"}


def test_patient_card(db):
    card = worklist.patient_card(db, "P1", today=date(2026, 3, 9))
    assert card["name"] == "DOE^JOHN" and card["sex"] == "M"
    assert card["phone"] == "+41 44 123 45 67" and card["confidentiality"] == "VIP"
    assert card["birth_date"] == "19800310" and card["age"] == 45
    assert card["study_count"] == 2 and card["appointments"] == []
    with pytest.raises(NotFound, match="patient NOPE"):
        worklist.patient_card(db, "NOPE")


def test_appointments_in_the_future_show_on_the_card(db):
    db.execute("INSERT INTO appointments (patient_id, date, time, description, modality, location,"
               " fetched_at) VALUES ('P1', '20990101', '0900', 'MR KNEE', 'MR', 'MR2', 'now'),"
               " ('P1', '20000101', '0900', 'OLD', 'CT', 'CT1', 'now')")
    card = worklist.patient_card(db, "P1")
    assert [a["description"] for a in card["appointments"]] == ["MR KNEE"]


def test_query_plan_uses_indexes(db):
    """Each QBE field is served by an index, not a scan of the studies."""
    for query in (Query(accession="ACC1*"), Query(date_from="20240101", date_to="20240201"),
                  Query(assigned_to="rad")):
        where, params = worklist.where_clause(query)
        plan = " ".join(str(r[3]) for r in db.execute(
            "EXPLAIN QUERY PLAN SELECT s.study_instance_uid FROM studies s JOIN patients p"
            f" ON p.id = s.patient_pk WHERE {where}", params))
        assert "SCAN s" not in plan, (query, plan)
