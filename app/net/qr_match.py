"""C-FIND matching over the cache (PS3.4 C.2.2.2): an identifier becomes SQL.

The same rules as the local worklist (app/worklist/query.py): text matches
case-insensitively, ``*`` and ``?`` are wildcards (an SQLite GLOB on
upper-cased text, :func:`~app.worklist.query.glob_pattern`), a person name
matches when the pattern matches the whole name or any one component; dates
and times match single values or ranges (``A-B``, ``-B``, ``A-``), UIDs a
backslash-separated list; an empty key (or ``*``) matches everything.

Keys the cache indexes (:data:`KEYS`) are matched in SQL and returned from
the row; any other key is read from one file of the matching patient,
study, series or instance, only when the identifier holds it (and matched
there with the same rules when it has a value).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Optional

from app.dicom.columns import name_norm
from app.worklist.query import glob_pattern

LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")

# keyword -> (level, SQL expression, kind)
KEYS: dict[str, tuple[str, str, str]] = {
    "PatientID": ("PATIENT", "p.patient_id", "text"),
    "IssuerOfPatientID": ("PATIENT", "p.issuer_of_patient_id", "text"),
    "PatientName": ("PATIENT", "p.patient_name", "patient_name"),
    "PatientBirthDate": ("PATIENT", "p.patient_birth_date", "date"),
    "PatientSex": ("PATIENT", "p.patient_sex", "text"),
    "NumberOfPatientRelatedStudies": (
        "PATIENT", "(SELECT count(*) FROM studies x WHERE x.patient_pk = p.id AND x.state = 'active')", "int"),
    "NumberOfPatientRelatedSeries": (
        "PATIENT", "(SELECT coalesce(sum(x.series_count), 0) FROM studies x"
                   " WHERE x.patient_pk = p.id AND x.state = 'active')", "int"),
    "NumberOfPatientRelatedInstances": (
        "PATIENT", "(SELECT coalesce(sum(x.instance_count), 0) FROM studies x"
                   " WHERE x.patient_pk = p.id AND x.state = 'active')", "int"),
    "StudyInstanceUID": ("STUDY", "s.study_instance_uid", "uid"),
    "StudyDate": ("STUDY", "s.study_date", "date"),
    "StudyTime": ("STUDY", "s.study_time", "time"),
    "AccessionNumber": ("STUDY", "s.accession_number", "text"),
    "StudyID": ("STUDY", "s.study_id", "text"),
    "StudyDescription": ("STUDY", "s.study_description", "text"),
    "ReferringPhysicianName": ("STUDY", "s.referring_physician_name", "name"),
    "ModalitiesInStudy": ("STUDY", "s.modalities", "modalities"),
    "NumberOfStudyRelatedSeries": ("STUDY", "s.series_count", "int"),
    "NumberOfStudyRelatedInstances": ("STUDY", "s.instance_count", "int"),
    "SeriesInstanceUID": ("SERIES", "e.series_instance_uid", "uid"),
    "Modality": ("SERIES", "e.modality", "text"),
    "SeriesNumber": ("SERIES", "e.series_number", "int"),
    "SeriesDescription": ("SERIES", "e.series_description", "text"),
    "BodyPartExamined": ("SERIES", "e.body_part_examined", "text"),
    "SeriesDate": ("SERIES", "e.series_date", "date"),
    "FrameOfReferenceUID": ("SERIES", "e.frame_of_reference_uid", "uid"),
    "NumberOfSeriesRelatedInstances": ("SERIES", "e.instance_count", "int"),
    "SOPInstanceUID": ("IMAGE", "i.sop_instance_uid", "uid"),
    "SOPClassUID": ("IMAGE", "i.sop_class_uid", "uid"),
    "InstanceNumber": ("IMAGE", "i.instance_number", "int"),
    "Rows": ("IMAGE", "i.rows", "int"),
    "Columns": ("IMAGE", "i.columns", "int"),
    "NumberOfFrames": ("IMAGE", "i.number_of_frames", "int"),
}

_FROM = {
    "PATIENT": "patients p",
    "STUDY": "studies s JOIN patients p ON p.id = s.patient_pk",
    "SERIES": "series e JOIN studies s USING (study_instance_uid) JOIN patients p ON p.id = s.patient_pk",
    "IMAGE": "instances i JOIN series e USING (series_instance_uid)"
             " JOIN studies s ON s.study_instance_uid = e.study_instance_uid"
             " JOIN patients p ON p.id = s.patient_pk",
}
# one file of the entity: where the keys the cache does not hold are read
_A_FILE = {
    "PATIENT": "(SELECT i2.path FROM studies s2 JOIN series e2 USING (study_instance_uid) JOIN instances i2"
               " USING (series_instance_uid) WHERE s2.patient_pk = p.id AND s2.state = 'active' LIMIT 1)",
    "STUDY": "(SELECT i2.path FROM series e2 JOIN instances i2 USING (series_instance_uid)"
             " WHERE e2.study_instance_uid = s.study_instance_uid LIMIT 1)",
    "SERIES": "(SELECT i2.path FROM instances i2 WHERE i2.series_instance_uid = e.series_instance_uid LIMIT 1)",
    "IMAGE": "i.path",
}
_WHERE = {
    "PATIENT": "EXISTS (SELECT 1 FROM studies x WHERE x.patient_pk = p.id AND x.state = 'active')",
    "STUDY": "s.state = 'active'", "SERIES": "s.state = 'active'", "IMAGE": "s.state = 'active'",
}
_ORDER = {
    "PATIENT": "p.patient_name_norm, p.patient_id",
    "STUDY": "s.study_date, s.study_time, s.study_instance_uid",
    "SERIES": "s.study_instance_uid, e.series_number IS NULL, e.series_number, e.series_instance_uid",
    "IMAGE": "e.series_instance_uid, i.instance_number IS NULL, i.instance_number, i.sop_instance_uid",
}


def in_scope(keyword: str, level: str) -> bool:
    """A key the cache can answer at *level* (its own level or above)."""
    known = KEYS.get(keyword)
    return known is not None and LEVELS.index(known[0]) <= LEVELS.index(level)


def is_universal(value: str) -> bool:
    return value.strip() in ("", "*")


def _has_wildcard(value: str) -> bool:
    return "*" in value or "?" in value


def _range(value: str) -> Optional[tuple[str, str]]:
    if "-" not in value:
        return None
    low, _, high = value.partition("-")
    return low.strip(), high.strip()


def condition(keyword: str, value: str) -> tuple[str, list]:
    """The SQL condition (and parameters) that *value* of *keyword* asks for."""
    _, column, kind = KEYS[keyword]
    value = value.strip()
    if kind == "uid":
        uids = [u.strip() for u in value.split("\\") if u.strip()]
        return f"{column} IN ({','.join('?' * len(uids))})", uids
    if kind in ("date", "time"):
        bounds = _range(value)
        if bounds is None:
            return f"{column} = ?", [value]
        low, high = bounds
        parts, params = [f"{column} != ''"], []
        if low:
            parts.append(f"{column} >= ?")
            params.append(low)
        if high:  # a time bound '1200' takes in '120059.9' too
            parts.append(f"{column} <= ?")
            params.append(high + ("~" if kind == "time" else ""))
        return " AND ".join(parts), params
    if kind == "int":
        try:
            return f"{column} = ?", [int(value)]
        except ValueError:
            return "0", []
    if kind == "modalities":
        wanted = [m.strip().upper() for m in value.split("\\") if m.strip()]
        op = "GLOB" if any(_has_wildcard(m) for m in wanted) else "="
        ors = " OR ".join(f"upper(x.modality) {op} ?" for _ in wanted)
        return (f"s.study_instance_uid IN (SELECT x.study_instance_uid FROM series x WHERE {ors})",
                [glob_pattern(m) if op == "GLOB" else m for m in wanted])
    wild = _has_wildcard(value)
    pattern = glob_pattern(value) if wild else value.upper()
    op = "GLOB" if wild else "="
    if kind == "patient_name":  # the worklist's rule: the whole name or one component
        return (f"(p.patient_name_norm {op} ? OR p.id IN (SELECT patient_pk FROM patient_name_parts"
                f" WHERE part {op} ?))", [pattern, pattern])
    if kind == "name":
        whole = f"rtrim(replace(upper({column}), '=', '^'), '^')"
        return (f"({whole} {op} ? OR ('^' || {whole} || '^') GLOB ?)",
                [pattern, "*^" + (pattern if wild else pattern.replace("[", "[[]")) + "^*"])
    return f"upper({column}) {op} ?", [pattern]


@dataclass
class Plan:
    """The SQL of one C-FIND: the row columns are the :data:`KEYS` in
    ``columns`` order, then the path of one file of the entity."""

    sql: str
    params: list
    columns: list[str]


def plan(level: str, keys: dict[str, str], only_unique: bool = False) -> Plan:
    """*keys*: keyword -> value (text) from the identifier. Keys above the
    level are matched too (a relational answer is never narrower than the
    hierarchical one asked for). *only_unique* matches only the unique
    keys (C-GET and C-MOVE identifiers)."""
    where, params = [_WHERE[level]], []
    for keyword, value in keys.items():
        if not in_scope(keyword, level) or is_universal(value):
            continue
        if only_unique and keyword not in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID",
                                           "SOPInstanceUID"):
            continue
        sql, values = condition(keyword, value)
        where.append(sql)
        params += values
    columns = [k for k in KEYS if in_scope(k, level)]
    select = ", ".join(KEYS[k][1] for k in columns) + ", " + _A_FILE[level]
    sql = f"SELECT {select} FROM {_FROM[level]} WHERE {' AND '.join(where)} ORDER BY {_ORDER[level]}"
    return Plan(sql, params, columns)


# -- matching a value read from a file (keys the cache does not index) ----------------------


def value_matches(value: str, wanted: str, vr: str) -> bool:
    """*value* (from a file) against the identifier's *wanted*, by the rules above."""
    wanted, value = wanted.strip(), value.strip()
    if is_universal(wanted):
        return True
    if vr == "UI":
        return value in [u.strip() for u in wanted.split("\\")]
    if vr in ("DA", "TM", "DT") and _range(wanted) is not None:
        low, high = _range(wanted)
        return bool(value) and (not low or value >= low) and (not high or value <= high + "~")
    if vr == "PN":
        whole = name_norm(value)
        pattern = wanted.upper()
        return _text_matches(whole, pattern) or any(_text_matches(p, pattern) for p in whole.split("^"))
    return any(_text_matches(v.upper(), wanted.upper()) for v in value.split("\\") or [""])


def _text_matches(value: str, pattern: str) -> bool:
    if not _has_wildcard(pattern):
        return value == pattern
    return fnmatchcase(value, re.sub(r"([\[\]])", r"[\1]", pattern))
