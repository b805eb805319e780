"""What the Content Manager shows, as plain data: a query-by-example search as
a tree (patient -> study -> series), the preview a reallocation's
confirmation shows. The change history in words is the history panel's
(ui/changes/history_words.py).

Scopes: ``patients`` ("All patients") shows every study of each patient the
query finds, so a series can be dragged onto another study of the same
patient; ``studies`` ("All studies") shows only the studies that match.
``admin`` ("Admin", content managers only) is "All patients" over every
study in the cache whatever its state: trashed ones too, beside those locked
by others and the migrated ones, each study carrying its state (``state``,
``locked_by``, ``migrated``), so misfiled data can be found wherever it is.
Dragging still obeys the rules (app.changes.reallocate): a locked or
migrated study refuses with its reason, a trashed one must be restored first.
Asking for the Admin scope without the content-management privilege is
refused, and the refusal audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from app.changes import ai
from app.accounts.accounts import User
from app.changes import iocm, migrated, reallocate, rules
from app.home import Home
from app.errors import NotAllowed
from app.worklist.query import Query, search, study_uids

PATIENTS, STUDIES, ADMIN = "patients", "studies", "admin"
ADMIN_PRIVILEGE = "content-management"
LIMIT = 200   # studies a search shows; narrow the query for more

_STUDY = """
SELECT s.study_instance_uid, s.patient_pk, p.patient_id, p.issuer_of_patient_id, p.patient_name,
       p.patient_birth_date, p.patient_sex, s.study_date, s.study_time, s.accession_number,
       s.study_description, s.modalities, s.series_count, s.instance_count,
       s.ai_rescan_pending, s.source_node, l.user, s.state
FROM studies s JOIN patients p ON p.id = s.patient_pk
LEFT JOIN locks l ON l.study_instance_uid = s.study_instance_uid
"""


def admin_search(db, user: User, q: Query, limit: Optional[int] = None) -> list[str]:
    """The Admin scope's search: studies of any state (trashed too) that match
    *q*, for a user with the content-management privilege; audited as a Query,
    a refusal as a failed one."""
    from app.accounts import audit
    from app.db import transaction

    asked = {f: v for f, v in vars(q).items() if v}
    if not isinstance(user, User) or not user.can(ADMIN_PRIVILEGE):
        name = getattr(user, "name", str(user))
        why = (f"user {name}: the Content Manager's Admin scope (every study, trashed, locked and "
               f"migrated ones too) needs the {ADMIN_PRIVILEGE} privilege")
        if isinstance(user, User):
            why += f"; has roles {', '.join(sorted(user.roles)) or 'none'}"
        with transaction(db):
            audit.record(db, name, "query", audit.QUERY, outcome=rules.REFUSED_NO_PRIVILEGE, objects=[],
                         detail=f"Content Manager Admin scope refused: {asked or 'all'}")
        raise NotAllowed(why)
    uids = study_uids(db, q, limit=limit, any_state=True)
    with transaction(db):
        audit.record(db, user.name, "query", audit.QUERY, objects=[],
                     detail=f"Content Manager Admin scope (all states) {asked or 'all'}: "
                            f"{len(uids)} studies")
    return uids


def search_tree(db, user, q: Query, scope: str = PATIENTS, limit: int = LIMIT) -> dict:
    """``{"patients": [{..., "studies": [{..., "series": [...]}]}], "studies": n,
    "truncated": bool}``; studies newest first, patients in order of their newest.
    *user*: the :class:`User` (a name is enough for the two ordinary scopes;
    the Admin scope checks the User's privilege)."""
    if scope == ADMIN:
        uids = admin_search(db, user, q, limit=limit + 1)
    else:
        uids = search(db, getattr(user, "name", user), q, limit=limit + 1)
    truncated = len(uids) > limit
    uids = uids[:limit]
    if scope in (PATIENTS, ADMIN) and uids:
        found = set(uids)
        states = "" if scope == ADMIN else "state = 'active' AND "
        pks = _chunked_rows(db, "SELECT DISTINCT patient_pk FROM studies WHERE study_instance_uid IN ({})", uids)
        uids += [u for (u,) in _chunked_rows(
            db, f"SELECT study_instance_uid FROM studies WHERE {states}patient_pk IN ({{}})"
            " ORDER BY study_date DESC, study_time DESC", [pk for (pk,) in pks]) if u not in found]
    studies = {row[0]: row for row in _chunked_rows(db, _STUDY + " WHERE s.study_instance_uid IN ({})", uids)}
    series: dict[str, list[dict]] = {}
    for row in _chunked_rows(db, "SELECT study_instance_uid, series_instance_uid, modality, series_number,"
                             " series_description, instance_count FROM series WHERE study_instance_uid"
                             " IN ({}) ORDER BY series_number IS NULL, series_number, series_instance_uid", uids):
        series.setdefault(row[0], []).append({
            "series_instance_uid": row[1], "modality": row[2], "number": row[3], "description": row[4],
            "instance_count": row[5], "study_instance_uid": row[0]})
    patients: dict[int, dict] = {}
    ordered = sorted((studies[u] for u in uids if u in studies), key=lambda r: (r[7], r[8]), reverse=True)
    for row in ordered:
        patient = patients.setdefault(row[1], {
            "pk": row[1], "patient_id": row[2], "issuer": row[3], "name": row[4],
            "birth_date": row[5], "sex": row[6], "studies": []})
        patient["studies"].append({
            "study_instance_uid": row[0], "patient_pk": row[1], "date": row[7], "time": row[8],
            "accession_number": row[9], "description": row[10],
            "modalities": [m for m in row[11].split("\\") if m], "series_count": row[12],
            "instance_count": row[13], "ai_rescan_pending": bool(row[14]), "source_node": row[15],
            "locked_by": row[16], "migrated": migrated.reason(db, row[0]),
            "trashed": row[17] == "trashed", "state": row[17],
            "series": series.get(row[0], [])})
    return {"patients": list(patients.values()), "studies": len(ordered), "truncated": truncated}


def _chunked_rows(db, sql: str, values: list) -> list[tuple]:
    out: list[tuple] = []
    for start in range(0, len(values), 500):
        chunk = values[start:start + 500]
        out += db.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall()
    return out



# -- the confirmation --------------------------------------------------------------------


def study_card(db, study_uid: str) -> dict:
    row = db.execute(_STUDY + " WHERE s.study_instance_uid = ?", [study_uid]).fetchone()
    return {"study_instance_uid": row[0], "patient_id": row[2], "issuer": row[3], "patient_name": row[4],
            "birth_date": row[5], "sex": row[6], "date": row[7], "accession_number": row[9],
            "description": row[10], "source_node": row[15], "locked_by": row[16]}


def series_card(db, series_uid: str) -> dict:
    row = db.execute("SELECT series_instance_uid, modality, series_number, series_description,"
                     " instance_count, study_instance_uid FROM series WHERE series_instance_uid = ?",
                     [series_uid]).fetchone()
    return {"series_instance_uid": row[0], "modality": row[1], "number": row[2], "description": row[3],
            "instance_count": row[4], "study_instance_uid": row[5]}


@dataclass
class Preview:
    """Everything the confirmation shows before a reallocation, and the plan
    it confirms (``plan``: what the write job applies, app.changes.reallocate)."""

    series: list[dict]
    sources: list[dict]
    destination: dict
    preflight: rules.Preflight
    dependents: list[dict] = field(default_factory=list)
    ai_results: list[dict] = field(default_factory=list)
    ai_rescan: str = ""
    iocm: bool = False
    node: Optional[str] = None
    plan: Optional[reallocate.Reallocation] = None
    advanced_reporting: bool = False    # the destination holds a measurement report

    @property
    def different_patients(self) -> bool:
        return self.preflight.different_patients

    def measurements(self, with_dependents: bool = True) -> int:
        """Measurements drawn on the images that move."""
        return self.plan.measurements(with_dependents) if self.plan else 0

    def measurements_text(self, with_dependents: bool = True) -> str:
        """What the Synapse rule will do to them, in words ('' when there are none)."""
        return measurements_text(self.measurements(with_dependents), self.advanced_reporting)


def preview(home: Home, db, user: User, series: list[str], destination: str) -> Preview:
    """Plan the reallocation (the rules that refuse outright raise, audited,
    as the move would) and describe it: the pre-flight identity check, the
    dependents and the AI results, as cards."""
    planned = reallocate.plan_reallocation(home, db, user, series, destination)
    result = Preview([series_card(db, s) for s in planned.series],
                     [study_card(db, s) for s in planned.sources],
                     study_card(db, planned.destination), planned.preflight,
                     [series_card(db, s) for s in planned.dependents],
                     [dict(series_card(db, s), why=why) for s, why in planned.ai_results],
                     ai.describe_rescan(planned.ai) if planned.ai_results else "",
                     planned.iocm, plan=planned,
                     advanced_reporting=planned.reports.destination_ar)
    result.node = next((s["source_node"] for s in result.sources if s["source_node"]),
                       result.destination["source_node"])
    return result


def measurements_text(count: int, advanced_reporting: bool) -> str:
    """The confirmation's sentence on the measurements (shared/CLI.md's rule)."""
    if not count:
        return ""
    noun = "measurement" if count == 1 else "measurements"
    if advanced_reporting:
        verb = "moves" if count == 1 else "move"
        return f"{count} {noun} {verb} with the series into this Advanced Reporting study"
    return (f"{count} {noun} on these images will be removed: the destination is not an "
            "Advanced Reporting study")


TITLES = iocm.REJECTION_TITLES
