"""The worklist: query by example over the cache, a study's series, the patient card.

Text values match like DICOM C-FIND (PS3.4 C.2.2.2): ``*`` any run of
characters, ``?`` one character, case-insensitive; a person name matches when
the pattern matches the whole name or any one of its components. Matching
is a GLOB on upper-cased, indexed columns, so SQL filters and sorts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date
from typing import Optional

from app.errors import BadInput, NotFound

SORT_COLUMNS = {
    "patient_name": "p.patient_name_norm",
    "patient_id": "p.patient_id_norm",
    "birth_date": "p.patient_birth_date",
    "study_date": ("s.study_date", "s.study_time"),
    "accession": "s.accession_norm",
    "modalities": "s.modalities",
    "description": "s.description_norm",
    "series_count": "s.series_count",
    "instance_count": "s.instance_count",
    "assigned_to": "s.assigned_to",
}


@dataclass
class Query:
    """Query by example; every field optional, combined with AND."""

    patient_id: str = ""
    patient_name: str = ""
    accession: str = ""
    modality: str = ""
    description: str = ""
    date_from: str = ""
    date_to: str = ""
    assigned_to: str = ""
    shared_with: str = ""   # a user name: the studies shared with them (app/worklist/sharing.py)

    def __post_init__(self) -> None:
        for name in ("date_from", "date_to"):
            value = getattr(self, name).strip()
            if value and not _valid_date(value):
                raise BadInput(f"--{name.replace('_', '-')} {value!r}: expected a date YYYYMMDD")
            setattr(self, name, value)

    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))


def _valid_date(text: str) -> bool:
    if not re.fullmatch(r"\d{8}", text):
        return False
    try:
        date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return False
    return True


def glob_pattern(text: str) -> str:
    """DICOM wildcards to an SQLite GLOB on upper-cased text ('[' escaped)."""
    return text.strip().upper().replace("[", "[[]")


def _has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def _only_unindexed_text(q: Query) -> bool:
    """True when some text filter starts with a wildcard and nothing else
    narrows the search through an index."""
    texts = (q.patient_id, q.patient_name, q.accession, q.description)
    leading = any(t.strip()[:1] in ("*", "?") and t.strip() != "*" for t in texts)
    indexed = any(t.strip() and t.strip()[:1] not in ("*", "?") for t in texts)
    return leading and not indexed and not (q.date_from or q.date_to or q.assigned_to or q.shared_with)


def where_clause(q: Query, any_state: bool = False) -> tuple[str, list]:
    """*any_state*: trashed studies match too (the Content Manager's Admin scope)."""
    where = ["1" if any_state else "s.state = 'active'"]
    params: list = []

    def text(column: str, value: str) -> None:
        if not value.strip() or value.strip() == "*":
            return
        if _has_wildcard(value):
            where.append(f"{column} GLOB ?")
            params.append(glob_pattern(value))
        else:
            where.append(f"{column} = ?")
            params.append(value.strip().upper())

    text("p.patient_id_norm", q.patient_id)
    text("s.accession_norm", q.accession)
    text("s.description_norm", q.description)
    if q.patient_name.strip() and q.patient_name.strip() != "*":
        # the whole name, or any one component (family, given, middle...)
        wild = _has_wildcard(q.patient_name)
        pattern = glob_pattern(q.patient_name) if wild else q.patient_name.strip().upper()
        op = "GLOB" if wild else "="
        where.append(f"(p.patient_name_norm {op} ? OR p.id IN (SELECT patient_pk FROM"
                     f" patient_name_parts WHERE part {op} ?))")
        params += [pattern, pattern]
    if q.modality.strip() and q.modality.strip() != "*":
        wild = _has_wildcard(q.modality)
        where.append("s.study_instance_uid IN (SELECT study_instance_uid FROM series"
                     f" WHERE upper(modality) {'GLOB' if wild else '='} ?)")
        params.append(glob_pattern(q.modality) if wild else q.modality.strip().upper())
    if q.date_from:
        where.append("s.study_date >= ?")
        params.append(q.date_from)
    if q.date_to:
        where.append("s.study_date != '' AND s.study_date <= ?")
        params.append(q.date_to)
    if q.assigned_to:
        where.append("s.assigned_to = ?")
        params.append(q.assigned_to)
    if q.shared_with:
        where.append("s.study_instance_uid IN (SELECT study_instance_uid FROM shares"
                     " WHERE shared_with = ?)")
        params.append(q.shared_with)
    return " AND ".join(where), params


def ids_sql(q: Query, sort: str = "study_date", descending: bool = True,
            limit: Optional[int] = None, any_state: bool = False,
            select: str = "s.study_instance_uid") -> tuple[str, list]:
    """The sorted search as SQL selecting *select* (UIDs, or rowids: app/worklist/ids.py)."""
    if sort not in SORT_COLUMNS:
        raise BadInput(f"sort {sort!r}: one of {', '.join(SORT_COLUMNS)}")
    where, params = where_clause(q, any_state)
    direction = "DESC" if descending else "ASC"
    keys = sort_keys(sort)
    if _only_unindexed_text(q):
        # '*text*' is checked row by row: filter first, then sort what is left
        keys = tuple("+" + k for k in keys)
    order = ", ".join(f"{k} {direction}" for k in keys)
    join = " JOIN patients p ON p.id = s.patient_pk" if "p." in where + order else ""
    sql = f"SELECT {select} FROM studies s{join} WHERE {where} ORDER BY {order}"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return sql, params


def sort_keys(sort: str) -> tuple[str, ...]:
    """The columns a sort orders by, the Study Instance UID last (ties)."""
    columns = SORT_COLUMNS[sort]
    return (columns if isinstance(columns, tuple) else (columns,)) + ("s.study_instance_uid",)


def study_uids(db, q: Query, sort: str = "study_date", descending: bool = True,
               limit: Optional[int] = None, any_state: bool = False) -> list[str]:
    """The ids of matching studies, sorted in SQL (for lazy table models)."""
    sql, params = ids_sql(q, sort, descending, limit, any_state)
    return [uid for (uid,) in db.execute(sql, params)]


_STUDY_SELECT = """
SELECT s.study_instance_uid, p.patient_id, p.patient_name, s.study_date, s.study_time,
       s.accession_number, s.modalities, s.study_description, s.series_count,
       s.instance_count, s.assigned_to, l.user, s.staged, p.patient_birth_date,
       p.patient_sex, s.size_bytes, s.migrated, s.ai_rescan_pending, p.confidentiality,
       s.referring_physician_name, s.study_id, p.issuer_of_patient_id
FROM studies s JOIN patients p ON p.id = s.patient_pk
LEFT JOIN locks l ON l.study_instance_uid = s.study_instance_uid
"""


def _study_dict(row) -> dict:
    return {
        "study_instance_uid": row[0], "patient_id": row[1], "patient_name": row[2],
        "study_date": row[3], "study_time": row[4], "accession_number": row[5],
        "modalities": [m for m in row[6].split("\\") if m], "description": row[7],
        "series_count": row[8], "instance_count": row[9], "assigned_to": row[10],
        "locked_by": row[11], "staged": bool(row[12]), "patient_birth_date": row[13],
        "patient_sex": row[14], "size_bytes": row[15], "migrated": bool(row[16]),
        "ai_rescan_pending": bool(row[17]), "confidentiality": row[18],
        "referring_physician": row[19], "study_id": row[20], "issuer": row[21] or "",
    }


def study_rows(db, uids: list[str]) -> list[dict]:
    """Rows for the given ids, in the given order (missing ids are left out)."""
    found: dict[str, dict] = {}
    for start in range(0, len(uids), 500):
        chunk = uids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for row in db.execute(_STUDY_SELECT + f" WHERE s.study_instance_uid IN ({marks})", chunk):
            found[row[0]] = _study_dict(row)
    return [found[u] for u in uids if u in found]


def studies(db, q: Query, sort: str = "study_date", descending: bool = True,
            limit: Optional[int] = None) -> list[dict]:
    return study_rows(db, study_uids(db, q, sort, descending, limit))


def resolve_study_uid(db, text: str, include_trashed: bool = False) -> str:
    """A whole Study Instance UID or an unambiguous prefix of >= 8 characters."""
    return _resolve(db, "studies", "study_instance_uid", "study", text,
                    "" if include_trashed else " AND state = 'active'")


def resolve_series_uid(db, text: str) -> str:
    return _resolve(db, "series", "series_instance_uid", "series", text, "")


def _resolve(db, table: str, column: str, kind: str, text: str, extra: str) -> str:
    text = text.strip()
    if db.execute(f"SELECT 1 FROM {table} WHERE {column} = ?{extra}", [text]).fetchone():
        return text
    if len(text) < 8:
        raise NotFound(f"{kind} {text}: not in the cache (a UID prefix needs at least 8 characters)")
    matches = [u for (u,) in db.execute(
        f"SELECT {column} FROM {table} WHERE {column} GLOB ?{extra} LIMIT 3",
        [glob_pattern(text) + "*"])]
    if not matches:
        raise NotFound(f"{kind} {text}: not in the cache")
    if len(matches) > 1:
        raise BadInput(f"{kind} {text}: prefix matches more than one {kind} "
                       f"({', '.join(matches[:2])}, ...): give more characters")
    return matches[0]


def series_of(db, study_uid: str) -> list[dict]:
    uid = resolve_study_uid(db, study_uid)
    out = []
    for row in db.execute(
            "SELECT series_instance_uid, modality, series_number, series_description,"
            " instance_count, body_part_examined, series_date FROM series"
            " WHERE study_instance_uid = ? ORDER BY series_number IS NULL, series_number,"
            " series_instance_uid", [uid]):
        out.append({"series_instance_uid": row[0], "modality": row[1], "number": row[2],
                    "description": row[3], "instance_count": row[4],
                    "body_part": row[5], "series_date": row[6]})
    return out


def instances_of(db, series_uid: str) -> list[dict]:
    """A series' instances in InstanceNumber order (paths as stored)."""
    return [{"sop_instance_uid": r[0], "instance_number": r[1], "path": r[2],
             "sop_class_uid": r[3], "transfer_syntax_uid": r[4], "number_of_frames": r[5]}
            for r in db.execute(
                "SELECT sop_instance_uid, instance_number, path, sop_class_uid,"
                " transfer_syntax_uid, number_of_frames FROM instances"
                " WHERE series_instance_uid = ? ORDER BY instance_number IS NULL,"
                " instance_number, sop_instance_uid", [series_uid])]


def parse_patient_ref(text: str, issuer: Optional[str] = None) -> tuple[str, Optional[str]]:
    """A patient named on the command line: ``PID``, or ``PID^^^ISSUER`` (the
    HL7 CX form: ID, check digit, its scheme, assigning authority; ``PID^^^``
    names the record without an issuer), or ``PID`` with *issuer* given
    apart (``--issuer``). Returns (patient ID, issuer or None for any)."""
    text = text.strip()
    if issuer is not None:
        return text, issuer.strip()
    if "^^^" in text:
        pid, _, rest = text.partition("^^^")
        return pid.strip(), rest.split("^")[0].strip()
    return text, None


def patient_records(db, text: str, issuer: Optional[str] = None) -> list[dict]:
    """Every patient record the reference names (see :func:`parse_patient_ref`),
    each as its whole row; [] when none. A patient ID spelt exactly as
    given wins over reading it as ``PID^^^ISSUER``."""

    def rows(where: str, params: list) -> list[dict]:
        cur = db.execute(f"SELECT * FROM patients WHERE {where} ORDER BY issuer_of_patient_id, id",
                         params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    if issuer is None and "^^^" in text:
        exact = rows("patient_id = ?", [text.strip()])
        if exact:
            return exact
    pid, wanted = parse_patient_ref(text, issuer)
    found = rows("patient_id = ?", [pid]) or rows("patient_id_norm = ?", [pid.upper()])
    if wanted is None:
        return found
    same = [r for r in found if (r["issuer_of_patient_id"] or "") == wanted]
    if not same and "&" in wanted:  # HL7 namespace&universal id&type: the namespace
        same = [r for r in found if (r["issuer_of_patient_id"] or "") == wanted.split("&")[0]]
    return same


def issuers_text(records: list[dict]) -> str:
    return ", ".join(r["issuer_of_patient_id"] or "(none)" for r in records)


def issuers_text_of_cards(cards: list[dict]) -> str:
    return ", ".join(c["issuer"] or "(none)" for c in cards)


def _not_found(db, text: str, issuer: Optional[str]) -> NotFound:
    pid, wanted = parse_patient_ref(text, issuer)
    others = patient_records(db, pid) if wanted is not None else []
    if others:
        return NotFound(f"patient {pid} with issuer {wanted or '(none)'}: not in the cache "
                        f"(its records have issuers {issuers_text(others)})")
    return NotFound(f"patient {pid}: not in the cache")


def one_patient_record(db, text: str, issuer: Optional[str] = None) -> dict:
    """The one record a reference names; several records with the ID are a
    question back (name the issuer), not a guess."""
    records = patient_records(db, text, issuer)
    if not records:
        raise _not_found(db, text, issuer)
    if len(records) > 1:
        pid = records[0]["patient_id"]
        raise BadInput(f"patient {pid}: several records with this ID (issuers "
                       f"{issuers_text(records)}); name one as {pid}^^^ISSUER "
                       f"(or {pid}^^^ for the record without an issuer)")
    return records[0]


def patient_card(db, patient_id: str, today: Optional[date] = None,
                 issuer: Optional[str] = None) -> dict:
    """The card of a patient ID (``PID^^^ISSUER`` or *issuer* names one
    record). Several records under one ID (different issuers) are all on
    the card: ``records`` lists each record's own card; the top-level keys
    are those of the record with the most studies (the contract's shape
    for scripts that expect one record)."""
    records = patient_records(db, patient_id, issuer)
    if not records:
        raise _not_found(db, patient_id, issuer)
    today = today or date.today()
    cards = [_record_card(db, r, today) for r in records]
    cards.sort(key=lambda c: (-c["study_count"], not c["confidentiality"], not c["issuer"],
                              c["issuer"] or ""))
    return dict(cards[0], records=cards)


def _record_card(db, row: dict, today: date) -> dict:
    pid, birth = row["patient_id"], row["patient_birth_date"]
    study_count = db.execute("SELECT count(*) FROM studies WHERE patient_pk = ? AND state = 'active'",
                             [row["id"]]).fetchone()[0]
    appointments = [
        {"date": r[0], "time": r[1], "description": r[2], "modality": r[3], "location": r[4]}
        for r in db.execute(
            "SELECT date, time, description, modality, location FROM appointments"
            " WHERE patient_id = ? AND date >= ? ORDER BY date, time",
            [pid, today.strftime("%Y%m%d")])]
    return {"patient_id": pid, "issuer": row["issuer_of_patient_id"], "name": row["patient_name"],
            "sex": row["patient_sex"], "birth_date": birth, "age": age_of(birth, today),
            "phone": row["patient_telephone_numbers"], "confidentiality": row["confidentiality"],
            "appointments": appointments, "study_count": study_count}


def age_of(birth_date: str, today: date) -> Optional[int]:
    if not _valid_date(birth_date or ""):
        return None
    born = date(int(birth_date[:4]), int(birth_date[4:6]), int(birth_date[6:]))
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def search(db, user: str, q: Query, sort: str = "study_date", descending: bool = True,
           limit: Optional[int] = None) -> list[str]:
    """:func:`study_uids` with its Query audit entry (PS3.15 A.5.3.10)."""
    uids = study_uids(db, q, sort, descending, limit)
    record_search(db, user, q, len(uids))
    return uids


def record_search(db, user: str, q: Query, found: int) -> None:
    """The Query audit entry of a search that found *found* studies."""
    from app.accounts import audit
    from app.db import transaction

    asked = {f.name: getattr(q, f.name) for f in fields(q) if getattr(q, f.name)}
    with transaction(db):
        audit.record(db, user, "query", audit.QUERY, objects=[],
                     detail=f"local worklist {asked or 'all'}: {found} studies")


def open_patient_card(db, user: str, patient_id: str, issuer: Optional[str] = None) -> dict:
    """:func:`patient_card` with its Patient Record audit entry."""
    from app.accounts import audit
    from app.db import transaction

    card = patient_card(db, patient_id, issuer=issuer)
    shown = len(card["records"])
    with transaction(db):
        audit.record(db, user, "patient-card", audit.PATIENT_RECORD,
                     objects=[card["patient_id"]],
                     detail="patient card viewed" + (f" ({shown} records, issuers "
                                                     f"{issuers_text_of_cards(card['records'])})"
                                                     if shown > 1 else ""))
    return card
