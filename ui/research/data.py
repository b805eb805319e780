"""What the research window asks of the core, as plain functions for jobs.

Each function opens its own connection (one per job, ARCHITECTURE.md), calls
app.research and app.worklist.query, and returns plain data. No Qt here: these run
on pool threads through ui/jobs.py and never touch a widget.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from app.accounts.accounts import User
from app.home import Home
from app.research import projects, rt_tree, staging
from app.worklist.query import Query, series_of, studies

APPROVED = "APPROVED"
PLAN_MODALITIES = {"RTPLAN", "RTION"}


@contextmanager
def connection(home: Home) -> Iterator:
    db = home.connect()
    try:
        yield db
    finally:
        db.close()


def visible_projects(home: Home, user: User) -> list[dict]:
    """The projects *user* may work in, each with the user's role in it
    ("admin", "member", or "" for a workstation admin who is not a member)."""
    with connection(home) as db:
        out = []
        for row in projects.list_projects(db):
            role = projects.member_role(db, row["project"], user) or ""
            if role or "admin" in user.roles:
                out.append({**row, "role": role})
        return out


def all_subjects(home: Home, user: User, project: str) -> list[dict]:
    with connection(home) as db:
        return projects.subjects(db, user, project)


def find_subjects(home: Home, user: User, project: str, text: str) -> list[dict]:
    with connection(home) as db:
        return projects.find(db, user, project, text)


def bulk_search(home: Home, user: User, project: str, text: str) -> projects.BulkResult:
    with connection(home) as db:
        return projects.bulk(db, user, project, text)


def subject_studies(home: Home, user: User, project: str, patient_id: str) -> list[dict]:
    """A subject's studies in the cache with their staging summary:
    ``staged_series`` (series with at least one staged instance), ``series``,
    ``staged_instances``/``instances`` and ``pseudonymised``."""
    with connection(home) as db:
        rows = [s for s in studies(db, Query(patient_id=patient_id)) if s["patient_id"] == patient_id]
        state = staging.staging_state(db, user, project, patient_id)
    out = []
    for study in rows:
        mine = [s for s in state if s["study_uid"] == study["study_uid"]]
        staged = [s for s in mine if s["staged_instances"] > 0]
        out.append({"study_uid": study["study_uid"], "patient_id": patient_id,
                    "study_date": study["study_date"], "description": study["description"],
                    "modalities": study["modalities"], "series": len(mine),
                    "staged_series": len(staged), "pseudonymised": bool(staged),
                    "instances": sum(s["instances"] for s in mine),
                    "staged_instances": sum(s["staged_instances"] for s in mine)})
    return out


def study_state(home: Home, user: User, project: str, patient_id: str, study_uid: str) -> dict:
    """Staging state of one study's series, by Series Instance UID."""
    with connection(home) as db:
        rows = staging.staging_state(db, user, project, patient_id)
    return {r["series_uid"]: r for r in rows if r["study_uid"] == study_uid}


def study_detail(home: Home, user: User, project: str, patient_id: str, study_uid: str) -> dict:
    """Everything the Edit dialog shows: the study's series (with their
    staging state) and the RT tree (radiotherapy-related series only)."""
    with connection(home) as db:
        series = series_of(db, study_uid)
        roots = rt_tree.build(home, db, study_uid, rt_only=True)
    return {"series": series, "state": study_state(home, user, project, patient_id, study_uid),
            "tree": roots}


def stage(home: Home, user: User, project: str, series_uids: list[str], references: bool,
          progress, cancel) -> staging.StageResult:
    with connection(home) as db:
        return staging.stage(home, db, user, project, series_uids, references, progress, cancel)


def create_project(home: Home, user: User, name: str) -> dict:
    with connection(home) as db:
        return projects.create(db, user, name)


def enrol(home: Home, user: User, project: str, patient_id: str, pid: str, subject: str) -> dict:
    with connection(home) as db:
        return projects.enrol(db, user, project, patient_id, pid, subject)


def reidentify(home: Home, user: User, project: str, pid: str, reason: str) -> dict:
    with connection(home) as db:
        return projects.reidentify(db, user, project, pid, reason)


# -- pure helpers over an RT tree (no disk: safe on the GUI thread) -----------------


def walk(roots: list[rt_tree.Node]) -> Iterator[tuple[rt_tree.Node, list[rt_tree.Node]]]:
    """Every node with its chain of ancestors (root first)."""
    stack = [(r, []) for r in reversed(roots)]
    while stack:
        node, above = stack.pop()
        yield node, above
        stack += [(c, above + [node]) for c in reversed(node.children)]


def governing_plan(node: rt_tree.Node, above: list[rt_tree.Node]) -> rt_tree.Node | None:
    """The plan a series is (or hangs under): a dose's plan, a record's plan."""
    for candidate in [node] + list(reversed(above)):
        if candidate.modality in PLAN_MODALITIES:
            return candidate
    return None


def unapproved(roots: list[rt_tree.Node], series_uids: set[str]) -> list[tuple[rt_tree.Node, rt_tree.Node]]:
    """(series, plan) for each of *series_uids* that is, or belongs to, a plan
    whose ApprovalStatus is not APPROVED."""
    out = []
    for node, above in walk(roots):
        if node.series_uid in series_uids:
            plan = governing_plan(node, above)
            if plan is not None and plan.approval.upper() != APPROVED:
                out.append((node, plan))
    return out


def needed(roots: list[rt_tree.Node], series_uids: set[str]) -> set[str]:
    """What "With references" adds to *series_uids*: their ancestors."""
    out: set[str] = set()
    for uid in series_uids:
        out.update(rt_tree.ancestors(roots, uid))
    return out - set(series_uids)


def verdict(states: list[dict]) -> tuple[str, str]:
    """"Is staging finished?" at one glance, over the series ever queued:
    (level, line) with level one of none, done, running, partial, failed."""
    tracked = [s for s in states if s["state"] != "not staged"]
    if not tracked:
        return "none", "Nothing staged from this study yet"
    n = len(tracked)
    staged = sum(s["staged_instances"] for s in tracked)
    total = sum(s["instances"] for s in tracked)
    done = [s for s in tracked if s["state"] == "done" and s["staged_instances"] == s["instances"]]
    failed = [s for s in tracked if s["state"] == "failed"]
    counts = f"{staged} of {total} instances staged"
    if failed:
        first = failed[0]["reason"] or "no reason given"
        return "failed", f"{len(failed)} of {n} series failed ({first}); {counts}"
    if any(s["state"] in ("queued", "running") for s in tracked):
        return "running", f"Staging: {len(done)} of {n} series done, {counts}"
    if len(done) == n:
        return "done", f"\u2713 Staging finished: {n} of {n} series done, {counts}"
    return "partial", f"{n - len(done)} of {n} series incomplete; {counts}"
