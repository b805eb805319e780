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
    assert [r["accession_number"] for r in worklist.studies(db, Query(accession="acc1*"))] == ["ACC100", "ACC101"]
    assert names(db, modality="mr") == ["DOE^JOHN"]
    assert names(db, modality="U?") == ["JOHNSON^PETER"]
    assert names(db, description="*brain*") == ["DOE^JOHN"]


def test_date_ranges(db):
    rows = worklist.studies(db, Query(date_from="20240101", date_to="20240131"))
    assert sorted(r["accession_number"] for r in rows) == ["ACC100", "XY-7"]
    assert [r["accession_number"] for r in worklist.studies(db, Query(date_to="20221231"))] == ["ACC200"]
    combined = worklist.studies(db, Query(patient_name="doe*", date_from="20240101"))
    assert [r["accession_number"] for r in combined] == ["ACC100"]


@pytest.mark.parametrize("bad", ["2024-01-01", "20241301", "yesterday"])
def test_bad_dates_are_refused_naming_the_field(bad):
    with pytest.raises(BadInput, match="--date-from"):
        Query(date_from=bad)


def test_sorting_in_sql(db):
    uids = worklist.study_uids(db, Query(), sort="patient_name", descending=False)
    rows = worklist.study_rows(db, uids)
    assert [r["patient_name"] for r in rows][0] == "DOE^JOHN"
    assert [r["patient_name"] for r in rows][-1] == "SMITH^ANNA^MARIE"


def test_study_row_carries_the_worklist_keys_and_the_command_line_renames_them(db):
    from app.cli.context import contract_keys

    row = worklist.studies(db, Query(accession="ACC100"))[0]
    contract = contract_keys(row)  # the command line's JSON keys (shared/CLI.md), at the border only
    assert {"study_uid", "accession"} <= set(contract) and not {"study_instance_uid", "accession_number"} & set(contract)
    assert contract["study_uid"] == row["study_instance_uid"] and contract["accession"] == row["accession_number"]
    for key in ("study_instance_uid", "patient_id", "patient_name", "study_date", "accession_number", "modalities",
                "description", "series_count", "instance_count", "assigned_to", "locked_by", "staged"):
        assert key in row
    assert row["modalities"] == ["CT"] and row["instance_count"] == 2 and row["series_count"] == 1


def test_uid_prefixes_resolve_when_unambiguous(db):
    uid = worklist.studies(db, Query(accession="ACC100"))[0]["study_instance_uid"]
    assert worklist.resolve_study_uid(db, uid[:len(uid) - 3]) == uid
    with pytest.raises(NotFound, match="at least 8"):
        worklist.resolve_study_uid(db, "1.2.3")
    with pytest.raises(BadInput, match="more than one"):
        worklist.resolve_study_uid(db, uid[:12])
    with pytest.raises(NotFound):
        worklist.resolve_study_uid(db, "9.9.9.9.9.9.9.9")


def test_series_of_a_study(db):
    uid = worklist.studies(db, Query(accession="ACC101"))[0]["study_instance_uid"]
    series = worklist.series_of(db, uid)
    assert [(s["modality"], s["instance_count"]) for s in series] == [("MR", 1)]
    assert set(series[0]) >= {"series_instance_uid", "modality", "number", "description", "instance_count"}


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


# -- the compact list and its refresh by what changed (app/worklist/ids.py, refresh.py) --

def _replayed(listed: list[int], steps: list[tuple]) -> list[int]:
    """The steps as a table model replays them, on a plain list."""
    rows = list(listed)
    for step in steps:
        if step[0] == "remove":
            del rows[step[1]]
        elif step[0] == "move":
            rowid = rows.pop(step[1])
            rows.insert(step[2] - 1 if step[2] > step[1] else step[2], rowid)
        elif step[0] == "insert":
            rows.insert(step[1], step[2])
    return rows


def test_rowids_list_what_the_uids_list(db):
    from app.worklist import ids

    for sort in worklist.SORT_COLUMNS:
        rowids = ids.study_rowids(db, Query(), sort, descending=False)
        assert ids.uids_of(db, rowids) == worklist.study_uids(db, Query(), sort, descending=False)


@pytest.mark.parametrize("sort", sorted(worklist.SORT_COLUMNS))
@pytest.mark.parametrize("descending", [True, False])
def test_refresh_by_what_changed_ends_where_a_new_search_would(db, sort, descending):
    import numpy as np

    from app.worklist import ids, refresh

    uids = {r["accession_number"]: r["study_instance_uid"] for r in worklist.studies(db, Query())}
    db.execute("UPDATE studies SET state = 'trashed' WHERE study_instance_uid = ?", [uids["ACC200"]])
    listed = ids.study_rowids(db, Query(), sort, descending)
    known = ids.rowids_of(db, [uids["XY-7"]])
    # one study changes its sort keys, one leaves the list, one comes back, one vanishes
    db.execute("UPDATE studies SET assigned_to = 'zed', series_count = 9, instance_count = 0,"
               " study_date = '20991231', modalities = 'ZZ', accession_norm = '0',"
               " description_norm = 'A' WHERE study_instance_uid = ?", [uids["ACC101"]])
    db.execute("UPDATE patients SET patient_name_norm = 'AAA' WHERE id = (SELECT patient_pk"
               " FROM studies WHERE study_instance_uid = ?)", [uids["ACC101"]])
    db.execute("UPDATE studies SET state = 'trashed' WHERE study_instance_uid = ?", [uids["ACC300"]])
    db.execute("UPDATE studies SET state = 'active' WHERE study_instance_uid = ?", [uids["ACC200"]])
    for sql in ("DELETE FROM instances WHERE series_instance_uid IN (SELECT series_instance_uid"
                " FROM series WHERE study_instance_uid = ?)",
                "DELETE FROM series WHERE study_instance_uid = ?",
                "DELETE FROM studies WHERE study_instance_uid = ?"):
        db.execute(sql, [uids["XY-7"]])
    named = [uids[a] for a in ("ACC101", "ACC300", "ACC200", "XY-7")]
    for hints in (known, {}):  # the vanished study's rowid known to the window, or found by a sweep
        plan = refresh.plan(db, np.frombuffer(listed, dtype=np.int64), Query(), sort, descending,
                            named, hints)
        fresh = ids.study_rowids(db, Query(), sort, descending)
        assert plan.rowids == fresh
        assert _replayed(list(listed), plan.steps) == list(fresh)
        assert sorted(r["study_instance_uid"] for r in plan.rows.values()) == sorted([uids["ACC101"], uids["ACC200"]])
        assert [s[0] for s in plan.steps].count("remove") == 2  # ACC300 (trashed) and XY-7 (gone)


def test_refresh_of_an_unchanged_study_is_an_update_in_place(db):
    import numpy as np

    from app.worklist import ids, refresh

    listed = ids.study_rowids(db, Query())
    uid = ids.uids_of(db, listed[2:3])[0]
    plan = refresh.plan(db, np.frombuffer(listed, dtype=np.int64), Query(), "study_date", True, [uid], {})
    assert plan.steps == [("update", 2)] and plan.rowids == listed


def test_refresh_of_a_list_the_table_contradicts_searches_again(db):
    import numpy as np

    from app.worklist import ids, refresh

    listed = ids.study_rowids(db, Query())
    stale = np.append(np.frombuffer(listed, dtype=np.int64), 10 ** 9)  # a row nobody announced
    uid = ids.uids_of(db, listed[:1])[0]
    db.execute("UPDATE studies SET study_date = '19000101' WHERE study_instance_uid = ?", [uid])
    plan = refresh.plan(db, stale, Query(), "study_date", True, [uid], {})
    assert plan.searched and plan.steps is None and plan.rowids == ids.study_rowids(db, Query())
