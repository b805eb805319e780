"""Merging: two studies of one patient, or two patient records."""

from __future__ import annotations

from typing import Optional

from app.accounts import User
from app.changes import journal, rules
from app.changes.journal import Plan
from app.changes.plans import (patient_attrs, rewrite_instances, rows_in, snapshot,
                               study_attrs)
from app.errors import BadInput, NotFound
from app.home import Home
from app.jobs import CancelToken, Progress
from app.worklist import resolve_study_uid


def plan_merge_studies(db, user: User, source: str, destination: str, force: bool = False,
                       reason: str = "") -> tuple[Plan, rules.Preflight]:
    user.require("content-management", "merge studies")
    source = resolve_study_uid(db, source)
    destination = resolve_study_uid(db, destination)
    if source == destination:
        raise BadInput(f"merge-studies: source and destination are the same study {source}")
    rules.check_locks(db, user, [source, destination])
    rules.check_not_migrated(db, [source, destination])
    check = rules.preflight(rules.study_patient(db, source), rules.study_patient(db, destination),
                            same_record_expected=True)
    rules.require_force(check, force, f"merge of study {source} into {destination}")
    dest_study = snapshot(db, "studies", "study_instance_uid = ?", [destination])[0]
    dest_patient = snapshot(db, "patients", "id = ?", [dest_study["patient_pk"]])[0]
    src_study = snapshot(db, "studies", "study_instance_uid = ?", [source])[0]
    series = snapshot(db, "series", "study_instance_uid = ?", [source])
    instances = rows_in(db, "instances", "series_instance_uid",
                        [s["series_instance_uid"] for s in series])
    attrs = dict(patient_attrs(dest_patient), **study_attrs(dest_study))
    new_instances, ops = rewrite_instances(instances, attrs, destination)
    new_series = [dict(s, study_instance_uid=destination) for s in series]
    objects = [("study", source), ("study", destination)] + \
        [("series", s["series_instance_uid"]) for s in series] + \
        [("instance", i["sop_instance_uid"]) for i in instances]
    plan = Plan("merge-studies", user.name, reason, objects,
                before={"studies": [src_study, dest_study], "series": series, "instances": instances},
                after={"studies": [dest_study], "series": new_series, "instances": new_instances},
                files=ops,
                summary=f"study {source} merged into {destination} ({len(series)} series, "
                        f"{len(instances)} instances)"
                        + (f"; pre-flight: {check.describe()}" if check.flags else ""))
    return plan, check


def merge_studies(home: Home, db, user: User, source: str, destination: str, force: bool = False,
                  reason: str = "", progress: Optional[Progress] = None,
                  cancel: Optional[CancelToken] = None) -> int:
    plan, _ = plan_merge_studies(db, user, source, destination, force, reason)
    return journal.apply(home, db, plan, progress, cancel)


def patient_row(db, patient_id: str) -> dict:
    rows = snapshot(db, "patients", "patient_id = ?", [patient_id])
    if not rows:
        raise NotFound(f"patient {patient_id}: not in the cache")
    if len(rows) > 1:
        issuers = ", ".join(r["issuer_of_patient_id"] or "(none)" for r in rows)
        raise BadInput(f"patient {patient_id}: several records with this ID (issuers {issuers})")
    return rows[0]


def _side(patient: dict) -> dict:
    return {"pk": patient["id"], "patient_id": patient["patient_id"],
            "issuer": patient["issuer_of_patient_id"], "name": patient["patient_name"],
            "birth_date": patient["patient_birth_date"], "sex": patient["patient_sex"]}


def plan_merge_patients(db, user: User, source: str, destination: str, force: bool = False,
                        reason: str = "") -> tuple[Plan, rules.Preflight]:
    user.require("content-management", "merge patients")
    src = patient_row(db, source)
    dest = patient_row(db, destination)
    if src["id"] == dest["id"]:
        raise BadInput(f"merge-patients: source and destination are the same patient {source}")
    studies = snapshot(db, "studies", "patient_pk = ?", [src["id"]])
    uids = [s["study_instance_uid"] for s in studies]
    rules.check_locks(db, user, uids)
    rules.check_not_migrated(db, uids)
    check = rules.preflight(_side(src), _side(dest), same_record_expected=False)
    if check.different_patients and not force:
        from app.errors import RuleRefused

        raise RuleRefused(f"merge of patient {source} into {destination}: name, birth date or "
                          f"sex differ ({check.describe()}); use --force with --reason")
    series = rows_in(db, "series", "study_instance_uid", uids)
    instances = rows_in(db, "instances", "series_instance_uid",
                        [s["series_instance_uid"] for s in series])
    study_of_series = {s["series_instance_uid"]: s["study_instance_uid"] for s in series}
    attrs = patient_attrs(dest)
    new_instances, ops = [], []
    for row in instances:
        rows_after, row_ops = rewrite_instances([row], attrs, study_of_series[row["series_instance_uid"]])
        new_instances += rows_after
        ops += row_ops
    new_studies = [dict(s, patient_pk=dest["id"]) for s in studies]
    objects = [("patient", src["patient_id"]), ("patient", dest["patient_id"])] + \
        [("study", u) for u in uids] + [("instance", i["sop_instance_uid"]) for i in instances]
    plan = Plan("merge-patients", user.name, reason, objects,
                before={"patients": [src, dest], "studies": studies, "instances": instances},
                after={"patients": [dest], "studies": new_studies, "instances": new_instances},
                files=ops,
                summary=f"patient {source} merged into {destination} ({len(studies)} studies, "
                        f"{len(instances)} instances)"
                        + (f"; pre-flight: {check.describe()}" if check.flags else ""))
    return plan, check


def merge_patients(home: Home, db, user: User, source: str, destination: str, force: bool = False,
                   reason: str = "", progress: Optional[Progress] = None,
                   cancel: Optional[CancelToken] = None) -> int:
    plan, _ = plan_merge_patients(db, user, source, destination, force, reason)
    return journal.apply(home, db, plan, progress, cancel)


def preflight_studies(db, source: str, destination: str) -> rules.Preflight:
    """The identity check of a study merge, without planning it (for a
    confirmation shown before the user decides)."""
    source = resolve_study_uid(db, source)
    destination = resolve_study_uid(db, destination)
    return rules.preflight(rules.study_patient(db, source), rules.study_patient(db, destination),
                           same_record_expected=True)


def preflight_patients(db, source: str, destination: str) -> rules.Preflight:
    return rules.preflight(_side(patient_row(db, source)), _side(patient_row(db, destination)),
                           same_record_expected=False)
