"""The rows a reallocation touches, as they were when it was planned, and
their fingerprint: what the write job compares, inside its transaction, to
refuse a plan that something changed since the user confirmed it.

One digest per object (a study, a patient, a series, a series' instances, a
source study's list of series, the measurement reports of the studies), so a
refusal can say what changed: "series CT #2 Lung 1mm had 2 instances when
you opened the preview and has 3 now".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from app.changes.plans import rows_in
from app.changes.reports import report_rows


# Counts the cache derives from the rows below a study or series; the commit
# recomputes them (catalog.refresh_counts), so an instance added to a series
# that does not move changes nothing the plan relies on. Whatever changes them
# in a series that moves shows in its instances' digest.
COUNTS = frozenset({"series_count", "instance_count", "size_bytes", "modalities"})


@dataclass
class Touched:
    studies: dict[str, dict] = field(default_factory=dict)          # sources and destination
    patients: dict[int, dict] = field(default_factory=dict)         # of those studies
    series: dict[str, dict] = field(default_factory=dict)           # moved, dependents, AI results
    instances: dict[str, list[dict]] = field(default_factory=dict)  # by series
    members: dict[str, list[str]] = field(default_factory=dict)     # source study -> its series
    reports: list[dict] = field(default_factory=list)               # candidate reports of the studies

    def fingerprint(self) -> dict[str, str]:
        out = {f"study {uid}": _digest(row, COUNTS) for uid, row in self.studies.items()}
        out.update({f"patient {pk}": _digest(row) for pk, row in self.patients.items()})
        out.update({f"series {uid}": _digest(row, COUNTS) for uid, row in self.series.items()})
        out.update({f"instances {uid}": _digest(sorted(rows, key=lambda r: r["sop_instance_uid"]))
                    for uid, rows in self.instances.items()})
        out.update({f"members {uid}": _digest(sorted(uids)) for uid, uids in self.members.items()})
        out["reports"] = _digest(sorted(self.reports, key=lambda r: r["sop_instance_uid"]))
        return out


def _digest(value, leave_out: frozenset = frozenset()) -> str:
    if leave_out:
        value = {k: v for k, v in value.items() if k not in leave_out}
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def read(db, sources: list[str], destination: str, series: list[str]) -> Touched:
    """The rows as they are now: the studies, their patients, the *series* and
    their instances, the series of each source study, the instance rows of
    the measurement reports (candidates) of sources and destination: a
    report added, rewritten or removed changes what the rule does."""
    touched = Touched()
    studies = rows_in(db, "studies", "study_instance_uid", list(dict.fromkeys(sources + [destination])))
    touched.studies = {row["study_instance_uid"]: row for row in studies}
    touched.patients = {row["id"]: row for row in rows_in(
        db, "patients", "id", sorted({row["patient_pk"] for row in studies}))}
    touched.series = {row["series_instance_uid"]: row for row in rows_in(
        db, "series", "series_instance_uid", series)}
    touched.instances = {uid: [] for uid in series}
    for row in rows_in(db, "instances", "series_instance_uid", series):
        touched.instances.setdefault(row["series_instance_uid"], []).append(row)
    for uid in sources:
        touched.members[uid] = [s for (s,) in db.execute(
            "SELECT series_instance_uid FROM series WHERE study_instance_uid = ?", [uid])]
    touched.reports = report_rows(db, list(dict.fromkeys(sources + [destination])))
    return touched


def changes(planned: Touched, now: Touched) -> list[str]:
    """What differs between the rows as planned and as they are now, in words."""
    before, after = planned.fingerprint(), now.fingerprint()
    said = []
    for key in [k for k in before if before[k] != after.get(k)]:
        kind, _, uid = key.partition(" ")
        said.append(_describe(kind, uid, planned, now))
    return said


def _describe(kind: str, uid: str, planned: Touched, now: Touched) -> str:
    since = "since you opened the preview"
    if kind == "study":
        if uid not in now.studies:
            return f"study {study_label(planned.studies[uid])} no longer exists"
        if now.studies[uid]["state"] != planned.studies[uid]["state"]:
            where = "to the trash" if now.studies[uid]["state"] == "trashed" else "out of the trash"
            return f"study {study_label(planned.studies[uid])} was moved {where} {since}"
        return f"study {study_label(planned.studies[uid])} was changed {since}"
    if kind == "patient":
        return f"the patient record {planned.patients[int(uid)]['patient_id']} was changed {since}"
    if kind == "series":
        label = series_label(planned.series[uid])
        if uid not in now.series:
            return f"series {label} no longer exists"
        return f"series {label} was changed or moved {since}"
    if kind == "instances":
        label = series_label(planned.series.get(uid) or {"series_instance_uid": uid})
        old, new = len(planned.instances.get(uid, [])), len(now.instances.get(uid, []))
        if old != new:
            return f"series {label} had {old} instances when you opened the preview and has {new} now"
        return f"the instances of series {label} were changed {since}"
    if kind == "members":
        label = study_label(planned.studies[uid])
        added = sorted(set(now.members.get(uid, [])) - set(planned.members[uid]))
        if added:
            return f"study {label} received {len(added)} new series {since} ({', '.join(added)})"
        return f"series left study {label} {since}"
    return f"measurement reports of these studies were added, changed or removed {since}"


def study_label(row: dict) -> str:
    return f"{row['accession_number']} ({row['study_instance_uid']})" if row.get("accession_number") \
        else row["study_instance_uid"]


def series_label(row: dict) -> str:
    number = f" #{row['series_number']}" if row.get("series_number") is not None else ""
    words = f"{row.get('modality') or ''}{number} {row.get('series_description') or ''}".strip()
    return f"{words} ({row['series_instance_uid']})" if words else row["series_instance_uid"]
