"""Merging: two studies of one patient, or two patient records."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Optional

from app.accounts import audit
from app.accounts.accounts import User
from app.changes import journal, rules
from app.changes.journal import Plan
from app.changes.plans import (patient_attrs, rewrite_instances, rows_in, snapshot,
                               study_attrs)
from app.errors import BadInput, NotFound
from app.home import Home
from app.jobs import CancelToken, Progress
from app.worklist.query import parse_patient_ref, patient_records, resolve_study_uid


def plan_merge_studies(db, user: User, source: str, destination: str, force: bool = False,
                       reason: str = "") -> tuple[Plan, rules.Preflight]:
    rules.require(user, "content-management", "merge studies")
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
    with rules.audited_refusal(db, user, "merge-studies", [source, destination]):
        plan, _ = plan_merge_studies(db, user, source, destination, force, reason)
    return journal.apply(home, db, plan, progress, cancel)


def patient_row(db, patient_id: str) -> dict:
    """The one record *patient_id* names (``PID^^^ISSUER`` names the issuer;
    several records under a bare ID are a question back, not a guess)."""
    from app.worklist.query import one_patient_record

    return one_patient_record(db, patient_id)


def _side(patient: dict) -> dict:
    return {"pk": patient["id"], "patient_id": patient["patient_id"],
            "issuer": patient["issuer_of_patient_id"], "name": patient["patient_name"],
            "birth_date": patient["patient_birth_date"], "sex": patient["patient_sex"]}


def plan_merge_patients(db, user: User, source: str, destination: str, force: bool = False,
                        reason: str = "") -> tuple[Plan, rules.Preflight]:
    rules.require(user, "content-management", "merge patients")
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
    with rules.audited_refusal(db, user, "merge-patients", [source, destination],
                               audit.PATIENT_RECORD):
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


# -- which record to keep ----------------------------------------------------------------

# An ID that adds a short tag to another one is how a second registration of
# the same person is usually spelt: PID1001-2, PID1001_OLD, PID1001.DUP, PID1001 B
SECONDARY_TAGS = ("OLD", "DUP", "DUPL", "DUPLICATE", "TMP", "TEMP", "ALT", "COPY", "SEC", "SECONDARY",
                  "2ND", "LEGACY", "MERGED", "X")
SECONDARY_ISSUER_WORDS = ("SECONDARY", "OLD", "TEMP", "TMP", "LEGACY", "ALIAS", "OTHER")
_TAG_SEPARATED = r"[-_. /^](\d{1,2}|[A-Z]|" + "|".join(SECONDARY_TAGS) + r")"
_TAG_GLUED = r"([A-Z]|" + "|".join(SECONDARY_TAGS) + r")"
_SEPARATED = re.compile(r"^(?P<base>.+?)[-_. /^](?P<tag>\d{1,2}|[A-Z]|" + "|".join(SECONDARY_TAGS) + r")$",
                        re.IGNORECASE)


@dataclass
class KeepProposal:
    """Which of two patient records a merge should keep, and why (in words)."""

    keep: str                      # the patient ID to keep (the destination)
    merge: str                     # the patient ID whose studies move (the source)
    reason: str
    studies: dict = field(default_factory=dict)     # patient ID -> studies in the cache
    secondary: dict = field(default_factory=dict)   # patient ID -> why it looks secondary ('' if not)

    def to_json(self) -> dict:
        return {"keep": self.keep, "merge": self.merge, "reason": self.reason,
                "studies": self.studies, "secondary": self.secondary}


def looks_secondary(patient_id: str, other_id: str, issuer: str = "",
                    secondary_issuers: Iterable[str] = ()) -> str:
    """Why *patient_id* looks like a secondary ID beside *other_id* ('' when
    it does not): a tag added to the other ID (PID1001-2, PID1001_OLD), a
    separated tag such as _OLD or -DUP on its own, or an issuer configured
    (``merge.secondary_issuers``) or named as secondary."""
    pid, other = patient_id.strip(), other_id.strip()
    if other and len(pid) > len(other) and pid.upper().startswith(other.upper()):
        tag = pid[len(other):]
        separated = re.fullmatch(_TAG_SEPARATED, tag, re.IGNORECASE)
        # without a separator only letters count (PID1001B); PID10012 may be another patient
        glued = re.fullmatch(_TAG_GLUED, tag, re.IGNORECASE) and other[-1:].isdigit()
        if separated or glued:
            return f"{pid} is {other} with the suffix '{tag}', as a second registration is spelt"
    match = _SEPARATED.match(pid)
    if match and match.group("tag").upper() in SECONDARY_TAGS:
        return f"{pid} ends in '{pid[len(match.group('base')):]}', as a secondary ID does"
    wanted = {i.strip().upper() for i in secondary_issuers if i.strip()}
    if issuer and (issuer.strip().upper() in wanted
                   or any(w in re.split(r"[^A-Z0-9]+", issuer.upper()) for w in SECONDARY_ISSUER_WORDS)):
        return f"{pid} was issued by {issuer}, an issuer marked as secondary"
    return ""


def _record_counts(db, ref: str) -> tuple[int, int, str]:
    """(studies, images, issuer) of the records *ref* names: a patient ID
    (every record with it) or ``PID^^^ISSUER`` (that record)."""
    records = patient_records(db, ref)
    if not records:
        raise NotFound(f"patient {parse_patient_ref(ref)[0]}: not in the cache")
    marks = ",".join("?" * len(records))
    studies, images = db.execute(
        "SELECT count(*), coalesce(sum(instance_count), 0) FROM studies"
        f" WHERE patient_pk IN ({marks}) AND state = 'active'", [r["id"] for r in records]).fetchone()
    issuers = sorted({r["issuer_of_patient_id"] for r in records if r["issuer_of_patient_id"]})
    return studies, images, ", ".join(issuers)


def shown_ref(ref: str, other: str = "") -> str:
    """A patient reference as a person reads it: the ID, with its issuer
    (``PID (issuer X)``, ``PID (no issuer)``) when *other* has the same ID."""
    pid, issuer = parse_patient_ref(ref)
    if "^^^" not in ref or (other and parse_patient_ref(other)[0] != pid):
        return pid
    return f"{pid} (issuer {issuer})" if issuer else f"{pid} (no issuer)"


def propose_keep(db, first: str, second: str, secondary_issuers: Iterable[str] = ()) -> KeepProposal:
    """Which of two patients a merge should keep (each a patient ID or a
    record as ``PID^^^ISSUER``): never one whose ID looks secondary when the
    other does not (saying so), else the one with more studies in the cache
    overall (not only those ticked), then more images, then the first given.
    The reason says which rule decided."""
    secondary_issuers = list(secondary_issuers)
    count = {ref: _record_counts(db, ref) for ref in (first, second)}
    ids = {ref: parse_patient_ref(ref)[0] for ref in (first, second)}
    why_secondary = {first: looks_secondary(ids[first], ids[second], count[first][2], secondary_issuers),
                     second: looks_secondary(ids[second], ids[first], count[second][2], secondary_issuers)}
    shown = {first: shown_ref(first, second), second: shown_ref(second, first)}
    studies = {pid: count[pid][0] for pid in (first, second)}

    def n(pid: str) -> str:
        return f"{studies[pid]} stud{'ies' if studies[pid] != 1 else 'y'}"

    if bool(why_secondary[first]) != bool(why_secondary[second]):
        keep = second if why_secondary[first] else first
        drop = first if keep == second else second
        reason = f"Keep {shown[keep]}: {why_secondary[drop]}."
        if studies[drop] > studies[keep]:
            reason += f" It has more studies ({n(drop)} against {n(keep)}), but the primary ID is kept."
        else:
            reason += f" {shown[keep]} has {n(keep)} in the cache, {shown[drop]} {n(drop)}."
        return KeepProposal(keep, drop, reason, studies, why_secondary)
    if studies[first] != studies[second]:
        keep = first if studies[first] > studies[second] else second
        drop = second if keep == first else first
        reason = (f"Keep {shown[keep]}: it has more studies in the cache ({n(keep)} against {n(drop)}, "
                  "counting every study of each record, not only the ticked ones).")
    elif count[first][1] != count[second][1]:
        keep = first if count[first][1] > count[second][1] else second
        drop = second if keep == first else first
        reason = (f"Keep {shown[keep]}: both have {n(keep)}; it has more images "
                  f"({count[keep][1]:,} against {count[drop][1]:,}).")
    else:
        keep, drop = first, second
        reason = f"Keep {shown[keep]}: both records have {n(keep)} and as many images; the first one is proposed."
    if why_secondary[first] and why_secondary[second]:
        reason += f" Both IDs look secondary ({why_secondary[first]}; {why_secondary[second]})."
    return KeepProposal(keep, drop, reason, studies, why_secondary)
