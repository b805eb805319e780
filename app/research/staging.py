"""Staging: pseudonymised copies of clinical series into a project's store.

PatientID becomes the subject's PID and PatientName its StudySubjectID;
UIDs go through the project's persistent UID map (HMAC under the project's
secret, so staging again gives the same UIDs); dates move by one offset per
subject (or are kept, per project setting); the rest follows the project's
de-identification profile and options. Staging what is already staged
creates nothing. The copies are made by the one de-identification pipeline
(app/deid/pipeline.py), as for ZIP exports and discs: each is scanned for
the identifying values and original UIDs of its source; a hit fails that
series with the reason, and nothing of it is kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from app import store
from app.accounts import audit
from app.accounts.accounts import User
from app.clock import now_iso
from app.db import transaction
from app.errors import BadInput, Cancelled, NotFound, RuleRefused
from app.export.names import safe_component
from app.home import Home
from app.jobs import CancelToken, Progress, no_progress
from app.research import projects, rt_tree
from app.worklist.query import resolve_series_uid

DEFAULT_OPTIONS = ["retain-long-modified-dates"]


@dataclass
class StageResult:
    staged: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"staged": self.staged, "skipped": self.skipped, "failed": self.failed}


def project_folder(project: str) -> Path:
    """The project's store, relative to the home."""
    return Path("projects") / safe_component(project, "project")


def profile_options(settings: dict) -> list[str]:
    options = list(settings.get("options", DEFAULT_OPTIONS))
    dates = settings.get("dates", "shifted")
    options = [o for o in options if o not in ("retain-long-full-dates", "retain-long-modified-dates")]
    options.append("retain-long-full-dates" if dates == "kept" else "retain-long-modified-dates")
    return options


def _series_info(db, series_uid: str) -> tuple[str, str]:
    row = db.execute("SELECT s.study_instance_uid, p.patient_id FROM series s JOIN studies st"
                     " ON st.study_instance_uid = s.study_instance_uid JOIN patients p"
                     " ON p.id = st.patient_pk WHERE s.series_instance_uid = ?", [series_uid]).fetchone()
    if row is None:
        raise NotFound(f"series {series_uid}: not in the cache")
    return row[0], row[1]


def with_references(home: Home, db, series: list[str]) -> list[str]:
    """*series* and the ancestors each needs (plan, structure set, images)."""
    out: list[str] = []
    trees: dict[str, list] = {}
    for uid in series:
        study, _ = _series_info(db, uid)
        if study not in trees:
            trees[study] = rt_tree.build(home, db, study)
        for needed in rt_tree.ancestors(trees[study], uid) + [uid]:
            if needed not in out:
                out.append(needed)
    return out


PLAN_MODALITIES = {"RTPLAN", "RTION"}
APPROVED = "APPROVED"


def unapproved(home: Home, db, series: list[str], references: bool = False) -> list[dict]:
    """What the window's research dialog warns about before staging: each of
    *series* (UIDs or prefixes; with *references*, what they need too) that
    is, or belongs to, a plan whose ApprovalStatus is not APPROVED.
    [{series_uid, modality, label, plan, approval}] in the study's tree order."""
    uids = [resolve_series_uid(db, s) for s in series]
    if references:
        uids = with_references(home, db, uids)
    wanted = set(uids)
    out: list[dict] = []
    trees: dict[str, list] = {}
    for uid in uids:
        study, _ = _series_info(db, uid)
        if study in trees:
            continue
        trees[study] = rt_tree.build(home, db, study)
        stack = [(root, []) for root in reversed(trees[study])]
        while stack:
            node, above = stack.pop()
            stack += [(c, above + [node]) for c in reversed(node.children)]
            if node.series_uid not in wanted:
                continue
            plan = next((c for c in [node] + list(reversed(above))
                         if c.modality in PLAN_MODALITIES), None)
            if plan is not None and plan.approval.upper() != APPROVED:
                out.append({"series_instance_uid": node.series_uid, "modality": node.modality,
                            "label": node.label, "plan": plan.label,
                            "approval": plan.approval})
    return out


def stage(home: Home, db, user: User, project: str, series: list[str], references: bool = False,
          progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None) -> StageResult:
    """A job: stage *series* (UIDs or prefixes) into *project*."""
    from app.deid import Deidentifier, Profile
    from app.deid.pipeline import Incomplete

    progress = progress or no_progress
    cancel = cancel or CancelToken()
    projects.require_member(db, project, user)
    info = projects.get(db, project)
    uids = [resolve_series_uid(db, s) for s in series]
    if references:
        uids = with_references(home, db, uids)
    subjects = {r[0]: (r[1], r[2]) for r in db.execute(
        "SELECT patient_id, pid, subject FROM subjects WHERE project = ?", [project])}
    plan = []
    for uid in uids:
        study, patient_id = _series_info(db, uid)
        if patient_id not in subjects:
            raise RuleRefused(f"series {uid}: patient {patient_id} is not enrolled in project "
                              f"{project} (`studydesk project enrol`)")
        plan.append((uid, study, patient_id))
    pseudonyms = {pid: subjects[pid][0] for _, _, pid in plan}
    deid = Deidentifier(Profile(profile_options(info["settings"])), secret=info["secret"],
                        pseudonyms=pseudonyms,
                        names={pid: subjects[pid][1] for _, _, pid in plan})
    _queue(db, project, plan)
    result = StageResult()
    total = sum(_count(db, uid) for uid, _, _ in plan) or 1
    done = 0
    for uid, study, patient_id in plan:
        pid, subject = subjects[patient_id]
        try:
            cancel.check()
            written = _stage_series(home, db, project, uid, deid, pid, subject, cancel,
                                    lambda n: progress((done + n) / total, f"Staging {uid[-12:]}"))
        except (RuleRefused, Incomplete) as e:
            _state(db, project, uid, "failed", str(e))
            result.failed.append({"series_instance_uid": uid, "reason": str(e)})
            continue
        except BaseException as e:
            why = "cancelled" if isinstance(e, Cancelled) else f"interrupted: {type(e).__name__}"
            _state(db, project, uid, "failed", why)
            for later, _, _ in plan[plan.index((uid, study, patient_id)) + 1:]:
                _state(db, project, later, "failed", f"{why} before its turn")
            raise
        done += _count(db, uid)
        if written:
            result.staged.append(uid)
        else:
            result.skipped.append({"series_instance_uid": uid, "reason": "already staged"})
        with transaction(db):
            db.execute("UPDATE studies SET staged = 1 WHERE study_instance_uid = ?", [study])
    with transaction(db):
        audit.record(db, user.name, "stage", audit.EXPORT, objects=[project] + uids,
                     detail=f"{len(result.staged)} series staged, {len(result.skipped)} already "
                            f"staged, {len(result.failed)} failed into project {project}")
    progress(1.0, "Staged")
    return result


def _count(db, series_uid: str) -> int:
    return db.execute("SELECT count(*) FROM instances WHERE series_instance_uid = ?",
                      [series_uid]).fetchone()[0]


def _queue(db, project: str, plan: list[tuple[str, str, str]]) -> None:
    with transaction(db):
        for uid, study, patient_id in plan:
            db.execute(
                "INSERT INTO staging (project, series_instance_uid, study_instance_uid, patient_id,"
                " state, instances, staged_instances, updated) VALUES (?, ?, ?, ?, 'queued', ?,"
                " (SELECT count(*) FROM staged_instances WHERE project = ? AND series_instance_uid = ?), ?)"
                " ON CONFLICT (project, series_instance_uid) DO UPDATE SET state = 'queued',"
                " reason = '', instances = excluded.instances, updated = excluded.updated",
                [project, uid, study, patient_id, _count(db, uid), project, uid, now_iso()])


def _state(db, project: str, series_uid: str, state: str, reason: str = "") -> None:
    with transaction(db):
        db.execute("UPDATE staging SET state = ?, reason = ?, updated = ?, staged_instances ="
                   " (SELECT count(*) FROM staged_instances WHERE project = ? AND"
                   " series_instance_uid = ?) WHERE project = ? AND series_instance_uid = ?",
                   [state, reason, now_iso(), project, series_uid, project, series_uid])


_SOURCES = """
SELECT i.sop_instance_uid, i.path, st.accession_number, st.referring_physician_name,
       p.patient_id, p.patient_name, p.patient_birth_date, p.patient_telephone_numbers,
       p.issuer_of_patient_id
FROM instances i
JOIN series se ON se.series_instance_uid = i.series_instance_uid
JOIN studies st ON st.study_instance_uid = se.study_instance_uid
JOIN patients p ON p.id = st.patient_pk
WHERE i.series_instance_uid = ?
ORDER BY i.instance_number IS NULL, i.instance_number, i.sop_instance_uid
"""


def _sources(home: Home, db, series_uid: str, staged: set) -> list:
    """The series' instances not staged yet, as the pipeline's sources, with
    what the cache knows of the patient and study (searched in the copies)."""
    from app.deid.pipeline import Source, known_identifiers

    out = []
    for sop, path, accession, referring, patient_id, name, birth, phone, issuer in db.execute(
            _SOURCES, [series_uid]):
        if sop in staged:
            continue
        known = known_identifiers(name, patient_id, birth, phone, issuer, accession, referring)
        out.append(Source(len(out), str(store.absolute(home, path)), sop, known))
    return out


def _stage_series(home: Home, db, project: str, series_uid: str, deid, pid: str, subject: str,
                  cancel: CancelToken, progress) -> int:
    """Stage the series' instances not staged yet through the one
    de-identification pipeline (app/deid/pipeline.py): copies written to
    scratch, kept only when every copy passed the residual scan (a hit:
    RuleRefused, nothing of the series kept), then moved into the project's
    store with their rows in one transaction."""
    from app.deid import pipeline

    _state(db, project, series_uid, "running")
    staged = {s for (s,) in db.execute(
        "SELECT sop_instance_uid FROM staged_instances WHERE project = ? AND series_instance_uid = ?",
        [project, series_uid])}
    sources = _sources(home, db, series_uid, staged)
    scratch = store.scratch(home)
    rows, temps = [], []

    def write(source, data: bytes, outcome: dict) -> str:
        header = outcome["header"]
        staged_sop, staged_series, staged_study = (header["SOPInstanceUID"],
                                                   header["SeriesInstanceUID"],
                                                   header["StudyInstanceUID"])
        rel = (project_folder(project) / safe_component(pid, "subject") / staged_study
               / staged_series / f"{staged_sop}.dcm")
        tmp = scratch / f"stage-{staged_sop}.tmp"
        temps.append((tmp, home.root / rel))
        tmp.write_bytes(data)
        rows.append({"project": project, "sop_instance_uid": source.sop_instance_uid,
                     "series_instance_uid": series_uid, "staged_sop_instance_uid": staged_sop,
                     "staged_series_instance_uid": staged_series,
                     "staged_study_instance_uid": staged_study, "pid": pid,
                     "path": rel.as_posix(), "size": len(data),
                     "sha256": hashlib.sha256(data).hexdigest(), "staged_at": now_iso()})
        progress(len(staged) + len(rows))
        return f"{subject}/{staged_series}/{staged_sop}"

    try:
        if sources:
            run = pipeline.run(sources, deid, write, want=("header",), cancel=cancel,
                               what=f"series {series_uid}", message="Staging")
            run.verdict(what=f"series {series_uid}", overridable=False)
        store.make_durable([tmp for tmp, _ in temps])
        with transaction(db):
            for (tmp, final), row in zip(temps, rows):
                final.parent.mkdir(parents=True, exist_ok=True)
                tmp.replace(final)
                cols = ", ".join(row)
                db.execute(f"INSERT INTO staged_instances ({cols}) VALUES"
                           f" ({', '.join(':' + c for c in row)})", row)
            store.make_durable([final for _, final in temps])
    except BaseException:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        raise
    finally:
        deid.report.reset()
    _state(db, project, series_uid, "done")
    return len(rows)


def staging_state(db, user: User, project: str, patient_id: Optional[str] = None,
                  study: Optional[str] = None) -> list[dict]:
    """Per series of the project's subjects (or one clinical patient): staged
    or not, instance counts, state."""
    projects.require_member(db, project, user)
    sql = ("SELECT s.series_instance_uid, s.study_instance_uid, s.modality, s.series_description,"
           " s.instance_count, p.patient_id, st.state, st.reason,"
           " (SELECT count(*) FROM staged_instances si WHERE si.project = sub.project AND"
           "  si.series_instance_uid = s.series_instance_uid)"
           " FROM subjects sub JOIN patients p ON p.patient_id = sub.patient_id"
           " JOIN studies stu ON stu.patient_pk = p.id AND stu.state = 'active'"
           " JOIN series s ON s.study_instance_uid = stu.study_instance_uid"
           " LEFT JOIN staging st ON st.project = sub.project AND"
           "  st.series_instance_uid = s.series_instance_uid WHERE sub.project = ?")
    params: list = [project]
    if patient_id:
        sql += " AND p.patient_id = ?"
        params.append(patient_id)
    if study:
        sql += " AND stu.study_instance_uid = ?"
        params.append(study)
    sql += " ORDER BY p.patient_id, stu.study_date, s.series_number"
    out = []
    for uid, study, modality, description, count, pid, state, reason, staged in db.execute(sql, params):
        state = state or "not staged"
        if state == "done" and staged < count:
            state = "partial"
        out.append({"series_instance_uid": uid, "study_instance_uid": study, "patient_id": pid, "modality": modality,
                    "description": description, "staged": staged > 0 and staged == count,
                    "instances": count, "staged_instances": staged, "state": state,
                    "reason": reason or ""})
    return out


def export_project(home: Home, db, user: User, project: str, destination, subject: Optional[str] = None,
                   progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None) -> dict:
    """A job: the project's staged, pseudonymised files in a ZIP
    (SUBJECT/STUDY/SERIES/FILE), written under a temporary name and renamed
    when complete; a count check against the staged rows."""
    from app.export.target import ZipTarget

    progress = progress or no_progress
    cancel = cancel or CancelToken()
    projects.require_member(db, project, user)
    user.require("export", "export project data")
    sql = ("SELECT si.path, si.staged_study_instance_uid, si.staged_series_instance_uid,"
           " si.staged_sop_instance_uid, sub.subject FROM staged_instances si JOIN subjects sub"
           " ON sub.project = si.project AND sub.pid = si.pid WHERE si.project = ?")
    params: list = [project]
    if subject:
        if not db.execute("SELECT 1 FROM subjects WHERE project = ? AND subject = ?",
                          [project, subject]).fetchone():
            raise NotFound(f"project {project}: no subject {subject}")
        sql += " AND sub.subject = ?"
        params.append(subject)
    rows = db.execute(sql + " ORDER BY sub.subject, si.staged_study_instance_uid,"
                      " si.staged_series_instance_uid, si.staged_sop_instance_uid", params).fetchall()
    if not rows:
        raise BadInput(f"project {project}: nothing staged" + (f" for {subject}" if subject else ""))
    destination = Path(destination).expanduser().resolve()
    if destination.is_dir() or not destination.parent.is_dir():
        raise BadInput(f"--zip {destination}: not a file in an existing folder")
    try:
        target = ZipTarget(destination)
    except OSError as e:
        raise BadInput(f"--zip {destination}: cannot write there "
                       f"({e.strerror or type(e).__name__})") from None
    try:
        for n, (path, study, series, sop, subj) in enumerate(rows, start=1):
            cancel.check()
            name = "/".join([safe_component(subj, "subject"), safe_component(study, "study"),
                             safe_component(series, "series"), safe_component(sop, "image") + ".dcm"])
            target.add_file(name, store.absolute(home, path))
            progress(n / len(rows), f"Exporting {n} of {len(rows)}")
        if len(target.members) != len(rows):
            raise BadInput(f"project export: {len(rows)} staged files but {len(target.members)} written")
        written = target.commit()
    except BaseException:
        target.discard()
        raise
    with transaction(db):
        audit.record(db, user.name, "project-export", audit.EXPORT, objects=[project],
                     detail=f"{len(rows)} staged instances to {Path(destination).name}")
    return {"zip": str(written), "instances": len(rows)}


def send_staged(home: Home, db, user: User, project: str, series: list[str], node: str,
                progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None):
    """Send the staged copies of *series* (clinical series UIDs) to *node*
    (the project's research node): one association, per-instance status."""
    from app.net.send import send_files

    projects.require_member(db, project, user)
    paths = []
    for uid in series:
        paths += [store.absolute(home, p) for (p,) in db.execute(
            "SELECT path FROM staged_instances WHERE project = ? AND series_instance_uid = ?"
            " ORDER BY staged_sop_instance_uid", [project, uid])]
    if not paths:
        raise BadInput(f"project {project}: nothing staged to send")
    return send_files(home, user, paths, node, progress, cancel)
