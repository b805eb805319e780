"""Reallocating a series to another study (the Content Manager's drag), planned once.

The series' instances take the destination's Patient and Study module
attributes; the series leaves its study; a source study left empty
disappears (and comes back on undo). Series that refer to the moved one are
its *dependents* (app/changes/dependents.py): the user moves them along or
leaves them; AI results among them are not moved but cleared (files to the
trash, rows removed) with a rescan of the destination requested in the same
transaction (app/changes/ai.py). With the ``iocm`` setting on, the moved
instances are renewed (app/changes/iocm.py). The measurements drawn on the
moved images follow the Synapse rule (app/changes/reports.py): into an
Advanced Reporting destination they move, into any other they are removed;
either way they leave the source's reports.

Two steps, as the window runs them (the command line runs both at once,
:func:`reallocate_series`):

1. :func:`plan_reallocation` (a read): the rules that refuse outright, in
   this order: the content-management privilege (exit 3); a study in the
   trash, locks by another user and migrated studies (app.changes.migrated)
   on either side (exit 5). Then the pre-flight identity check, the
   dependents and AI results (each candidate file read once), the rows the
   change touches and their fingerprint (app/changes/touched.py). The
   result is what the confirmation shows and what the write applies.
2. :func:`apply_reallocation` (the write): different patients need
   ``force`` and a reason (exit 5); privilege, locks, migration and the
   fingerprint are checked again, before the files are written and once
   more inside the transaction that commits, and the confirmed plan is
   applied exactly, or refused naming what changed since the preview. One
   change in the journal, undoable; one audit entry (110103) naming source
   and destination; every refusal audited too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Optional

from app import store
from app.accounts.accounts import User
from app.changes import ai, dependents, iocm, journal, locks, migrated, reports, rules, touched
from app.changes.journal import FileOp, Plan
from app.changes.plans import patient_attrs, rewrite_instances, study_attrs
from app.errors import BadInput, RuleRefused
from app.home import Home
from app.jobs import CancelToken, Progress
from app.net.outbox import queue as outbox
from app.worklist.query import resolve_series_uid, resolve_study_uid

PRIVILEGE = "content-management"


@dataclass
class Reallocation:
    """A reallocation planned once: what the confirmation shows and what the write applies."""

    series: list[str]                       # asked to move
    destination: str
    sources: list[str]
    preflight: rules.Preflight
    dependents: list[str]                   # refer to them: moved along when the user says so
    ai_results: list[tuple[str, str]]       # (series, why): cleared, a rescan requested
    ai: ai.AiConfig
    iocm: bool                              # renew UIDs (the setting when planned)
    attrs: dict[str, str]                   # the destination's Patient and Study attributes
    rows: touched.Touched                   # as they were when planned
    fingerprint: dict[str, str] = field(default_factory=dict)
    reports: reports.Survey = field(default_factory=reports.Survey)  # the measurements on them

    def moving(self, with_dependents: bool) -> list[str]:
        return self.series + (self.dependents if with_dependents else [])

    def measurements(self, with_dependents: bool = True) -> int:
        """How many measurements are drawn on the images that move."""
        return self.reports.count(self.moving(with_dependents))


def plan_reallocation(home: Home, db, user: User, series: list[str] | str,
                      destination: str) -> Reallocation:
    """Check the rules that refuse outright (audited when they do) and plan the move."""
    asked = [series] if isinstance(series, str) else list(series)
    with rules.audited_refusal(db, user, "reallocate", asked + [destination]):
        rules.require(user, PRIVILEGE, "reallocate series")
        series_uids, destination, sources = _resolve(db, asked, destination)
        rules.check_locks(db, user, sources + [destination])
        migrated.check(db, sources + [destination])
    cfg = ai.config(home, db)
    found = dependents.find(home, db, series_uids, sources, cfg)
    cleared = [uid for uid, _ in found.ai_results]
    rows = touched.read(db, sources, destination, series_uids + found.dependents + cleared)
    dest_study = rows.studies[destination]
    attrs = dict(patient_attrs(rows.patients[dest_study["patient_pk"]]), **study_attrs(dest_study))
    planned = Reallocation(series_uids, destination, sources, _preflight(rows, sources, destination),
                           found.dependents, found.ai_results, cfg, bool(home.settings().get("iocm")),
                           attrs, rows)
    planned.fingerprint = rows.fingerprint()
    with rules.audited_refusal(db, user, "reallocate", asked + [destination]):
        planned.reports = reports.survey(home, db, sources, destination, rows.instances,
                                         series_uids + found.dependents)
    return planned


def _resolve(db, asked: list[str], destination: str) -> tuple[list[str], str, list[str]]:
    series_uids = [resolve_series_uid(db, s) for s in asked]
    destination = resolve_study_uid(db, destination, include_trashed=True)  # refused below
    sources = sorted({db.execute("SELECT study_instance_uid FROM series WHERE series_instance_uid = ?",
                                 [uid]).fetchone()[0] for uid in series_uids})
    if sources == [destination]:
        raise BadInput(f"reallocate: series {series_uids[0]} is already in study {destination}")
    for side, uid in [("destination", destination)] + [("source", s) for s in sources]:
        row = db.execute("SELECT state, accession_number FROM studies WHERE study_instance_uid = ?",
                         [uid]).fetchone()
        if row[0] == "trashed":
            named = f"{row[1]} ({uid})" if row[1] else uid
            raise RuleRefused(f"study {named}: in the trash; it can be neither source nor destination "
                              f"({side} here). Restore it first (View > Trash in the main window, or "
                              f"`studydesk trash restore {uid}`)")
    return series_uids, destination, sources


def _preflight(rows: touched.Touched, sources: list[str], destination: str) -> rules.Preflight:
    def side(uid: str) -> dict:
        study = rows.studies[uid]
        patient = rows.patients[study["patient_pk"]]
        return {"pk": patient["id"], "patient_id": patient["patient_id"],
                "issuer": patient["issuer_of_patient_id"], "name": patient["patient_name"],
                "birth_date": patient["patient_birth_date"], "sex": patient["patient_sex"],
                "study_date": study["study_date"]}

    result = rules.Preflight()
    for uid in sources:
        result.flags += rules.preflight(side(uid), side(destination), same_record_expected=True).flags
    return result


# -- the write ------------------------------------------------------------------------------


def recheck(db, user: User, planned: Reallocation) -> None:
    """Refuse (exit 3 or 5) when the plan no longer holds: the user's
    privilege, locks and migrated marks on either side, the touched rows."""
    rules.require(user, PRIVILEGE, "reallocate series")
    since = "since you opened the preview"
    for uid in planned.sources + [planned.destination]:
        label = touched.study_label(planned.rows.studies[uid])
        holder = locks.holder(db, uid)
        if holder and holder != user.name:
            raise RuleRefused(f"study {label} was locked by {holder} {since}; they or an admin "
                              "must unlock it. Nothing was changed")
        why = migrated.reason(db, uid)
        if why:
            raise RuleRefused(f"study {label} was marked migrated {since} ({why}): it can be neither "
                              "source nor destination. Nothing was changed")
    rows = planned.rows
    now = touched.read(db, planned.sources, planned.destination, list(rows.series))
    if now.fingerprint() != planned.fingerprint:
        said = touched.changes(rows, now) or [f"the rows it touches were changed {since}"]
        raise RuleRefused("the reallocation was not made: " + "; ".join(said)
                          + ". Nothing was changed; plan it again (a new preview) to move it as it is now")


def journal_plan(planned: Reallocation, user: User, moving: list[str], reason: str) -> Plan:
    """The change set of the confirmed plan, from the rows as planned (the
    fingerprint vouches that they still are)."""
    rows, destination = planned.rows, planned.destination
    clear = [uid for uid, _ in planned.ai_results]
    instances = [row for uid in moving for row in rows.instances[uid]]
    new_instances, ops = rewrite_instances(instances, planned.attrs, destination)
    series_rows = [rows.series[uid] for uid in moving]
    cleared = [row for uid in clear for row in rows.instances[uid]]
    leaving = moving + clear
    emptied = [uid for uid in planned.sources if set(rows.members[uid]) <= set(leaving)]
    source_rows = [rows.studies[uid] for uid in planned.sources]
    dest_study = rows.studies[destination]
    dest_after = dict(dest_study, ai_rescan_pending=1) if clear else dest_study
    objects = [("study", uid) for uid in planned.sources] + [("study", destination)] + \
        [("series", uid) for uid in leaving] + \
        [("instance", i["sop_instance_uid"]) for i in instances + cleared]
    flags = planned.preflight
    summary = (f"series {', '.join(moving)} ({len(instances)} instances) from source study "
               f"{', '.join(planned.sources)} to destination study {destination}"
               + (f"; source study {', '.join(emptied)} left empty and removed" if emptied else "")
               + (f"; pre-flight: {flags.describe()}" if flags.flags else "")
               + (f"; AI results cleared: series {', '.join(clear)}" if clear else "")
               + (f"; AI rescan requested: {ai.describe_rescan(planned.ai)}" if clear else ""))
    plan = Plan("reallocate", user.name, reason, objects,
                before={"studies": source_rows + [dest_study],
                        "series": series_rows + [rows.series[uid] for uid in clear],
                        "instances": instances + cleared},
                after={"studies": [r for r in source_rows if r["study_instance_uid"] not in emptied]
                       + [dest_after],
                       "series": [dict(s, study_instance_uid=destination) for s in series_rows],
                       "instances": new_instances},
                files=ops + _to_trash(cleared), summary=summary)
    if clear:
        plan.after["outbox"] = ai.rescan_entries(planned.ai, destination, "series reallocated into the study")
    return plan


def _to_trash(instances: list[dict]) -> list[FileOp]:
    """The files of cleared objects go to the trash (kept for undo)."""
    ops = []
    for row in instances:
        if not row["linked"]:
            name = PurePosixPath(row["path"]).name
            target = PurePosixPath("trash", "cleared", store.safe_uid(row["series_instance_uid"]), name)
            ops.append(FileOp("move", row["sop_instance_uid"], row["path"], str(target)))
    return ops


@dataclass
class Outcome:
    """What a reallocation did, for the user."""

    change_id: int
    series: list[str]
    destination: str
    left_behind: list[str] = field(default_factory=list)
    ai_cleared: list[tuple[str, str]] = field(default_factory=list)
    ai_rescan: str = ""
    renewal: Optional[iocm.Renewal] = None
    sources: list[str] = field(default_factory=list)
    measurements: Optional[reports.Followed] = None
    advanced_reporting: bool = False        # the destination

    def messages(self) -> list[str]:
        out = [f"{len(self.series)} series reallocated (change {self.change_id})"]
        if self.ai_cleared:
            out.append(f"AI results cleared: {len(self.ai_cleared)} series referring to the moved "
                       f"series ({'; '.join(why for _, why in self.ai_cleared)})")
            out.append(f"AI rescan of the destination study requested: {self.ai_rescan}")
        if self.left_behind:
            out.append(f"{len(self.left_behind)} series referring to it stayed where they were")
        if self.renewal:
            out.append(self.renewal.describe())
        return out + self.measurement_lines()

    def measurement_lines(self) -> list[str]:
        """What the Synapse rule did to the measurements on the moved images."""
        out: list[str] = []
        followed = self.measurements
        if followed and followed.moved:
            out.append(f"{_count(followed.moved)} moved with the series into this Advanced "
                       f"Reporting study (report {', '.join(followed.report_uids)})")
        if followed and followed.removed:
            why = "" if self.advanced_reporting else \
                ": the destination is not an Advanced Reporting study"
            out.append(f"{_count(followed.removed)} on these images removed from the source's "
                       f"reports{why} (undo brings them back)")
        return out

    def to_json(self) -> dict:
        renewal = self.renewal
        return {"change_id": self.change_id, "series": self.series, "destination": self.destination,
                "left_behind": self.left_behind,
                "ai_cleared": [{"series_instance_uid": s, "why": w} for s, w in self.ai_cleared],
                "ai_rescan": self.ai_rescan or None,
                "iocm": None if renewal is None else {
                    "uid_map": renewal.uid_map, "rejection_notes": [n[0] for n in renewal.notes],
                    "node": renewal.node, "queued": renewal.queued},
                "measurements": {"moved": self.measurements.moved if self.measurements else 0,
                                 "removed": self.measurements.removed if self.measurements else 0}}


def _count(n: int) -> str:
    return f"{n} measurement{'' if n == 1 else 's'}"


def apply_reallocation(home: Home, db, user: User, planned: Reallocation, *,
                       with_dependents: bool = False, force: bool = False, reason: str = "",
                       title: str = iocm.DEFAULT_TITLE, progress: Optional[Progress] = None,
                       cancel: Optional[CancelToken] = None) -> Outcome:
    """Apply the confirmed plan (moving the dependents along when asked), or
    refuse because something changed since it was planned, saying what."""
    moving = planned.moving(with_dependents)
    with rules.audited_refusal(db, user, "reallocate", moving + [planned.destination]):
        rules.require_force(planned.preflight, force, f"reallocation of series {', '.join(moving)} "
                                                      f"to study {planned.destination}")
        recheck(db, user, planned)
        iocm.sweep_staging(home, db)  # what undone IOCM changes left (see app.changes.iocm)
        plan = journal_plan(planned, user, moving, reason)
        outcome = Outcome(0, moving, planned.destination, [] if with_dependents else planned.dependents,
                          planned.ai_results, ai.describe_rescan(planned.ai) if planned.ai_results else "",
                          sources=planned.sources)
        apply_progress = progress
        if planned.iocm:
            outcome.renewal = iocm.renew(home, plan, planned.destination, title, progress, cancel)
            apply_progress = _scaled(progress, 0.8)
        outcome.advanced_reporting = planned.reports.destination_ar
        try:
            outcome.measurements = _follow(home, db, user, planned, plan, moving, outcome)
            if outcome.renewal:
                iocm.reject(home, plan, outcome.renewal, planned.rows.patients, title,
                            outcome.measurements.superseded, outcome.measurements.renewed)
            outcome.change_id = journal.apply(home, db, plan, apply_progress, cancel,
                                              check=lambda db: recheck(db, user, planned))
        except BaseException:
            for staged in (outcome.renewal, outcome.measurements):
                if staged:
                    staged.discard()
            raise
        finally:
            for staged in (outcome.renewal, outcome.measurements):
                if staged:
                    staged.release()
    return outcome


def _follow(home: Home, db, user: User, planned: Reallocation, plan: Plan, moving: list[str],
            outcome: Outcome) -> reports.Followed:
    """The Synapse rule on the plan (app.changes.reports); a source study
    that its report series' removal leaves empty disappears too."""
    followed = reports.follow_plan(home, db, plan, planned.reports, moving, planned.rows.instances,
                                   planned.destination, planned.attrs,
                                   outcome.renewal.uid_map if outcome.renewal else {}, user.name,
                                   renew=outcome.renewal is not None)
    if followed.removed_series:
        leaving = set(moving) | {uid for uid, _ in planned.ai_results} | set(followed.removed_series)
        emptied = {uid for uid in planned.sources if set(planned.rows.members[uid]) <= leaving}
        plan.after["studies"] = [r for r in plan.after["studies"]
                                 if r["study_instance_uid"] not in emptied]
        if emptied:
            plan.summary += f"; source study {', '.join(sorted(emptied))} left empty and removed"
    if outcome.renewal:  # IOCM: the archive gets them beside the corrected images
        plan.after.setdefault("outbox", []).extend(outbox.entry(
            outbox.STORE, outcome.renewal.node, planned.destination, sop=sop,
            reason="IOCM: measurements moved with the corrected instances")
            for sop in followed.report_uids)
        outcome.renewal.queued += len(followed.report_uids)
    said = followed.describe(planned.reports.destination_ar)
    if said:
        plan.summary += "; " + said
    return followed


def _scaled(progress: Optional[Progress], start: float) -> Optional[Progress]:
    if progress is None:
        return None
    return lambda fraction, message="": progress(
        None if fraction is None else start + (1 - start) * fraction, message)


def reallocate_series(home: Home, db, user: User, series: list[str] | str, destination: str,
                      force: bool = False, reason: str = "", *, with_dependents: bool = False,
                      use_iocm: Optional[bool] = None, title: str = iocm.DEFAULT_TITLE,
                      progress: Optional[Progress] = None,
                      cancel: Optional[CancelToken] = None) -> Outcome:
    """Plan and apply at once (the command line); *use_iocm* overrides the setting."""
    planned = plan_reallocation(home, db, user, series, destination)
    if use_iocm is not None:
        planned.iocm = use_iocm
    return apply_reallocation(home, db, user, planned, with_dependents=with_dependents, force=force,
                              reason=reason, title=title, progress=progress, cancel=cancel)


def reallocate(home: Home, db, user: User, series: list[str] | str, destination: str,
               force: bool = False, reason: str = "", progress: Optional[Progress] = None,
               cancel: Optional[CancelToken] = None) -> int:
    """:func:`reallocate_series` without the dependents; the change id."""
    return reallocate_series(home, db, user, series, destination, force, reason,
                             progress=progress, cancel=cancel).change_id
