"""Reallocating a series to another study (the Content Manager's drag).

The series' instances take the destination's Patient and Study module
attributes; the series leaves its study; a source study left empty
disappears (and comes back on undo). Series in the same study that refer
to the moved one (an RTSTRUCT on a CT, a plan on the structure set, a dose
on the plan, SEG/SR/KOS on images) are its *dependents*: the caller lists
them and may move them along, so references never point across patients.
"""

from __future__ import annotations

from typing import Optional

from app import store
from app.accounts import User
from app.changes import journal, rules
from app.changes.journal import Plan
from app.changes.plans import patient_attrs, rewrite_instances, rows_in, snapshot, study_attrs
from app.dicom.references import read_references
from app.errors import BadInput
from app.home import Home
from app.jobs import CancelToken, Progress
from app.worklist import resolve_series_uid, resolve_study_uid

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


def plan_reallocate(db, user: User, series: list[str] | str, destination: str,
                    force: bool = False, reason: str = "") -> tuple[Plan, rules.Preflight]:
    user.require("content-management", "reallocate series")
    series_uids = [resolve_series_uid(db, s) for s in ([series] if isinstance(series, str) else series)]
    destination = resolve_study_uid(db, destination)
    series_rows = rows_in(db, "series", "series_instance_uid", series_uids)
    sources = sorted({row["study_instance_uid"] for row in series_rows})
    if sources == [destination]:
        raise BadInput(f"reallocate: series {series_uids[0]} is already in study {destination}")
    for uid in sources:
        if db.execute("SELECT state FROM studies WHERE study_instance_uid = ?", [uid]).fetchone()[0] \
                != "active":
            raise BadInput(f"reallocate: study {uid} is in the trash")
    rules.check_locks(db, user, sources + [destination])
    rules.check_not_migrated(db, sources + [destination])
    dest_patient_side = rules.study_patient(db, destination)
    check = rules.Preflight()
    for uid in sources:
        check.flags += rules.preflight(rules.study_patient(db, uid), dest_patient_side,
                                       same_record_expected=True).flags
    rules.require_force(check, force, f"reallocation of series {', '.join(series_uids)} to study {destination}")
    dest_study = snapshot(db, "studies", "study_instance_uid = ?", [destination])[0]
    dest_patient = snapshot(db, "patients", "id = ?", [dest_study["patient_pk"]])[0]
    instances = rows_in(db, "instances", "series_instance_uid", series_uids)
    attrs = dict(patient_attrs(dest_patient), **study_attrs(dest_study))
    new_instances, ops = rewrite_instances(instances, attrs, destination)
    new_series = [dict(s, study_instance_uid=destination) for s in series_rows]
    source_rows = rows_in(db, "studies", "study_instance_uid", sources)
    emptied = [uid for uid in sources if not db.execute(
        f"SELECT 1 FROM series WHERE study_instance_uid = ? AND series_instance_uid NOT IN"
        f" ({','.join('?' * len(series_uids))}) LIMIT 1", [uid, *series_uids]).fetchone()]
    kept_sources = [row for row in source_rows if row["study_instance_uid"] not in emptied]
    objects = [("study", uid) for uid in sources] + [("study", destination)] + \
        [("series", uid) for uid in series_uids] + \
        [("instance", i["sop_instance_uid"]) for i in instances]
    summary = (f"series {', '.join(series_uids)} ({len(instances)} instances) from study "
               f"{', '.join(sources)} to study {destination}"
               + (f"; source study {', '.join(emptied)} left empty and removed" if emptied else "")
               + (f"; pre-flight: {check.describe()}" if check.flags else ""))
    plan = Plan("reallocate", user.name, reason, objects,
                before={"studies": source_rows + [dest_study], "series": series_rows,
                        "instances": instances},
                after={"studies": kept_sources + [dest_study], "series": new_series,
                       "instances": new_instances},
                files=ops, summary=summary)
    return plan, check


def reallocate(home: Home, db, user: User, series: list[str] | str, destination: str,
               force: bool = False, reason: str = "", progress: Optional[Progress] = None,
               cancel: Optional[CancelToken] = None) -> int:
    plan, _ = plan_reallocate(db, user, series, destination, force, reason)
    return journal.apply(home, db, plan, progress, cancel)
