"""Reallocating a series to another study (the Content Manager's drag).

The series' instances take the destination's Patient and Study module
attributes; the series leaves its study; a source study left empty
disappears (and comes back on undo). Series in the same study that refer
to the moved one (an RTSTRUCT on a CT, a plan on the structure set, a dose
on the plan, SEG/SR/KOS on images) are its *dependents*: the caller lists
them and may move them along, so references never point across patients.

The rules, in the order they are checked: the content-management privilege
(exit 3); locks by another user on either side, and migrated studies
(app.changes.migrated) on either side (exit 5); different patients need
``force`` and a reason (exit 5).

AI results among the dependents (app/changes/ai.py) are not moved: they are stale.
The change set clears them (files to the trash, rows removed) and requests a
rescan of the destination study in the same transaction, so an interrupted
job leaves neither half done; "Request AI rescan" on a study
(``ai.request_rescan``) asks again by hand. With the ``iocm`` setting on,
the moved instances are renewed (app.changes.iocm). One change in the
journal, undoable; one audit entry (110103) naming source and destination.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Optional

from app import store
from app.changes import ai
from app.accounts.accounts import User
from app.changes import iocm, journal, migrated, rules
from app.changes.journal import FileOp, Plan
from app.changes.plans import patient_attrs, rewrite_instances, rows_in, snapshot, study_attrs
from app.dicom.references import read_references
from app.errors import BadInput
from app.home import Home
from app.jobs import CancelToken, Progress
from app.worklist.query import resolve_series_uid, resolve_study_uid

IMAGE_LIKE_MODALITIES = {"CT", "MR", "PT", "NM", "US", "CR", "DX", "MG", "XA", "RF", "OT", "SC"}


def dependents(home: Home, db, series_uid: str) -> list[str]:
    """Series of the same study whose objects refer, directly or through
    each other, to *series_uid* (in dependency order)."""
    study = db.execute("SELECT study_instance_uid FROM series WHERE series_instance_uid = ?",
                       [series_uid]).fetchone()[0]
    others = [r for r in db.execute(
        "SELECT series_instance_uid, modality, frame_of_reference_uid FROM series"
        " WHERE study_instance_uid = ? AND series_instance_uid != ?", [study, series_uid])]
    refs: dict[str, tuple[set[str], set[str]]] = {}
    for uid, modality, _ in others:
        if modality in IMAGE_LIKE_MODALITIES:
            continue  # images refer to nothing we move along
        instances, series = set(), set()
        for (path,) in db.execute("SELECT path FROM instances WHERE series_instance_uid = ?", [uid]):
            found = read_references(store.absolute(home, path))
            instances |= found.instances
            series |= found.series
        refs[uid] = (instances, series)
    moving_series = {series_uid}
    moving_sops = {s for (s,) in db.execute(
        "SELECT sop_instance_uid FROM instances WHERE series_instance_uid = ?", [series_uid])}
    order: list[str] = []
    changed = True
    while changed:
        changed = False
        for uid, (inst, ser) in refs.items():
            if uid in moving_series:
                continue
            if inst & moving_sops or ser & moving_series:
                order.append(uid)
                moving_series.add(uid)
                moving_sops |= {s for (s,) in db.execute(
                    "SELECT sop_instance_uid FROM instances WHERE series_instance_uid = ?", [uid])}
                changed = True
    return order


@dataclass
class Followers:
    dependents: list[str] = field(default_factory=list)            # move along, or stay
    ai_results: list[tuple[str, str]] = field(default_factory=list)  # (series, why): cleared


def followers(home: Home, db, series_uids: list[str], cfg: Optional[ai.AiConfig] = None) -> Followers:
    """The dependents of all *series_uids*, AI results set apart."""
    cfg = cfg or ai.config(home, db)
    found: list[str] = []
    for uid in series_uids:
        found += [d for d in dependents(home, db, uid) if d not in found and d not in series_uids]
    out = Followers()
    for uid in found:
        why = ai.series_reason(home, db, uid, cfg)
        if why:
            out.ai_results.append((uid, why))
        else:
            out.dependents.append(uid)
    return out


def check(db, user: User, series: list[str] | str, destination: str) -> tuple[list[str], str, list[str]]:
    """The rules that refuse outright; returns (series, destination, sources)."""
    rules.require(user, "content-management", "reallocate series")
    series_uids = [resolve_series_uid(db, s) for s in ([series] if isinstance(series, str) else series)]
    destination = resolve_study_uid(db, destination)
    sources = sorted({row[0] for row in (db.execute(
        "SELECT study_instance_uid FROM series WHERE series_instance_uid = ?", [uid]).fetchone()
        for uid in series_uids)})
    if sources == [destination]:
        raise BadInput(f"reallocate: series {series_uids[0]} is already in study {destination}")
    for uid in sources:
        if db.execute("SELECT state FROM studies WHERE study_instance_uid = ?", [uid]).fetchone()[0] \
                != "active":
            raise BadInput(f"reallocate: study {uid} is in the trash")
    rules.check_locks(db, user, sources + [destination])
    migrated.check(db, sources + [destination])
    return series_uids, destination, sources


def preflight(db, sources: list[str], destination: str) -> rules.Preflight:
    dest_side = rules.study_patient(db, destination)
    result = rules.Preflight()
    for uid in sources:
        result.flags += rules.preflight(rules.study_patient(db, uid), dest_side,
                                        same_record_expected=True).flags
    return result


def plan_reallocate(db, user: User, series: list[str] | str, destination: str,
                    force: bool = False, reason: str = "", *, clear: list[str] = (),
                    rescan: Optional[ai.AiConfig] = None) -> tuple[Plan, rules.Preflight]:
    """The change set. *clear*: series (AI results) to remove; *rescan*: the
    AI configuration to request a rescan of the destination with."""
    series_uids, destination, sources = check(db, user, series, destination)
    flags = preflight(db, sources, destination)
    rules.require_force(flags, force, f"reallocation of series {', '.join(series_uids)} "
                                      f"to study {destination}")
    dest_study = snapshot(db, "studies", "study_instance_uid = ?", [destination])[0]
    dest_patient = snapshot(db, "patients", "id = ?", [dest_study["patient_pk"]])[0]
    series_rows = rows_in(db, "series", "series_instance_uid", series_uids)
    instances = rows_in(db, "instances", "series_instance_uid", series_uids)
    attrs = dict(patient_attrs(dest_patient), **study_attrs(dest_study))
    new_instances, ops = rewrite_instances(instances, attrs, destination)
    new_series = [dict(s, study_instance_uid=destination) for s in series_rows]
    cleared_series = rows_in(db, "series", "series_instance_uid", list(clear))
    cleared, trash_ops = _to_trash(rows_in(db, "instances", "series_instance_uid", list(clear)))
    leaving = series_uids + list(clear)
    emptied = [uid for uid in sources if not db.execute(
        f"SELECT 1 FROM series WHERE study_instance_uid = ? AND series_instance_uid NOT IN"
        f" ({','.join('?' * len(leaving))}) LIMIT 1", [uid, *leaving]).fetchone()]
    source_rows = rows_in(db, "studies", "study_instance_uid", sources)
    kept_sources = [row for row in source_rows if row["study_instance_uid"] not in emptied]
    dest_after = dict(dest_study, ai_rescan_pending=1) if clear and rescan else dest_study
    objects = [("study", uid) for uid in sources] + [("study", destination)] + \
        [("series", uid) for uid in leaving] + \
        [("instance", i["sop_instance_uid"]) for i in instances + cleared]
    summary = (f"series {', '.join(series_uids)} ({len(instances)} instances) from source study "
               f"{', '.join(sources)} to destination study {destination}"
               + (f"; source study {', '.join(emptied)} left empty and removed" if emptied else "")
               + (f"; pre-flight: {flags.describe()}" if flags.flags else "")
               + (f"; AI results cleared: series {', '.join(clear)}" if clear else "")
               + (f"; AI rescan requested: {ai.describe_rescan(rescan)}" if clear and rescan else ""))
    plan = Plan("reallocate", user.name, reason, objects,
                before={"studies": source_rows + [dest_study], "series": series_rows + cleared_series,
                        "instances": instances + cleared},
                after={"studies": kept_sources + [dest_after], "series": new_series,
                       "instances": new_instances},
                files=ops + trash_ops, summary=summary)
    if clear and rescan:
        plan.after["outbox"] = ai.rescan_entries(rescan, destination, "series reallocated into the study")
    return plan, flags


def _to_trash(instances: list[dict]) -> tuple[list[dict], list[FileOp]]:
    """The files of cleared objects go to the trash (kept for undo)."""
    ops = []
    for row in instances:
        if not row["linked"]:
            name = PurePosixPath(row["path"]).name
            target = PurePosixPath("trash", "cleared", store.safe_uid(row["series_instance_uid"]), name)
            ops.append(FileOp("move", row["sop_instance_uid"], row["path"], str(target)))
    return instances, ops


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
        return out

    def to_json(self) -> dict:
        renewal = self.renewal
        return {"change_id": self.change_id, "series": self.series, "destination": self.destination,
                "left_behind": self.left_behind,
                "ai_cleared": [{"series_uid": s, "why": w} for s, w in self.ai_cleared],
                "ai_rescan": self.ai_rescan or None,
                "iocm": None if renewal is None else {
                    "uid_map": renewal.uid_map, "rejection_notes": [n[0] for n in renewal.notes],
                    "node": renewal.node, "queued": renewal.queued}}


def reallocate_series(home: Home, db, user: User, series: list[str] | str, destination: str,
                      force: bool = False, reason: str = "", *, with_dependents: bool = False,
                      use_iocm: Optional[bool] = None, title: str = iocm.DEFAULT_TITLE,
                      progress: Optional[Progress] = None,
                      cancel: Optional[CancelToken] = None) -> Outcome:
    """Check, clear AI results, move (with the dependents when asked), renew
    in IOCM mode (default: the ``iocm`` setting), apply as one change."""
    with rules.audited_refusal(db, user, "reallocate",
                               ([series] if isinstance(series, str) else list(series)) + [destination]):
        series_uids, destination, _ = check(db, user, series, destination)
    iocm.sweep_staging(home, db)  # what undone IOCM changes left (see app.changes.iocm)
    cfg = ai.config(home, db)
    found = followers(home, db, series_uids, cfg)
    moving = series_uids + (found.dependents if with_dependents else [])
    clear = [uid for uid, _ in found.ai_results]
    with rules.audited_refusal(db, user, "reallocate", moving + [destination]):
        plan, _ = plan_reallocate(db, user, moving, destination, force, reason, clear=clear, rescan=cfg)
    outcome = Outcome(0, moving, destination, [] if with_dependents else found.dependents,
                      found.ai_results, ai.describe_rescan(cfg) if clear else "")
    if use_iocm if use_iocm is not None else bool(home.settings().get("iocm")):
        outcome.renewal = iocm.renew(home, db, plan, destination, title, progress, cancel)
        apply_progress = _scaled(progress, 0.8)
    else:
        apply_progress = progress
    try:
        outcome.change_id = journal.apply(home, db, plan, apply_progress, cancel)
    except BaseException:
        if outcome.renewal:
            outcome.renewal.discard()
        raise
    finally:
        if outcome.renewal:
            outcome.renewal.release()
    return outcome


def _scaled(progress: Optional[Progress], start: float) -> Optional[Progress]:
    if progress is None:
        return None
    return lambda fraction, message="": progress(
        None if fraction is None else start + (1 - start) * fraction, message)


def reallocate(home: Home, db, user: User, series: list[str] | str, destination: str,
               force: bool = False, reason: str = "", progress: Optional[Progress] = None,
               cancel: Optional[CancelToken] = None) -> int:
    """:func:`reallocate_series` without the dependents; the change id."""
    return reallocate_series(home, db, user, series, destination, force, reason,
                             progress=progress, cancel=cancel).change_id
