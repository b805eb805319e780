"""What the research window reads from the core beyond a single core call,
as plain functions of a connection for jobs.

Each function takes the connection its job was given (``runner.read``,
ui/jobs.py, opens and closes it), calls app.research and app.worklist.query,
and returns plain data. Single core calls (``projects.subjects``,
``staging.stage`` ...) run in the jobs as they are. No Qt here: these run on
pool threads and never touch a widget.
"""

from __future__ import annotations

from typing import Iterator

from app.accounts.accounts import User
from app.home import Home
from app.research import projects, rt_tree, staging
from app.worklist.query import Query, series_of, studies

APPROVED = "APPROVED"
PLAN_MODALITIES = {"RTPLAN", "RTION"}


def visible_projects(db, user: User) -> list[dict]:
    """The projects *user* may work in, each with the user's role in it
    ("admin", "member", or "" for a workstation admin who is not a member)."""
    out = []
    for row in projects.list_projects(db):
        role = projects.member_role(db, row["project"], user) or ""
        if role or "admin" in user.roles:
            out.append({**row, "role": role})
    return out


def subject_studies(db, user: User, project: str, patient_id: str) -> list[dict]:
    """A subject's studies in the cache with their staging summary:
    ``staged_series`` (series with at least one staged instance), ``series``,
    ``staged_instances``/``instances`` and ``pseudonymised``."""
    rows = [s for s in studies(db, Query(patient_id=patient_id)) if s["patient_id"] == patient_id]
    state = staging.staging_state(db, user, project, patient_id)
    out = []
    for study in rows:
        mine = [s for s in state if s["study_instance_uid"] == study["study_instance_uid"]]
        staged = [s for s in mine if s["staged_instances"] > 0]
        out.append({"study_instance_uid": study["study_instance_uid"], "patient_id": patient_id,
                    "study_date": study["study_date"], "description": study["description"],
                    "modalities": study["modalities"], "series": len(mine),
                    "staged_series": len(staged), "pseudonymised": bool(staged),
                    "instances": sum(s["instances"] for s in mine),
                    "staged_instances": sum(s["staged_instances"] for s in mine)})
    return out


def study_state(db, user: User, project: str, patient_id: str, study_uid: str) -> dict:
    """Staging state of one study's series, by Series Instance UID."""
    rows = staging.staging_state(db, user, project, patient_id)
    return {r["series_instance_uid"]: r for r in rows if r["study_instance_uid"] == study_uid}


def study_detail(home: Home, db, user: User, project: str, patient_id: str, study_uid: str) -> dict:
    """Everything the Edit dialog shows: the study's series (with their
    staging state) and the RT tree (radiotherapy-related series only; read
    from the files under *home*)."""
    return {"series": series_of(db, study_uid),
            "state": study_state(db, user, project, patient_id, study_uid),
            "tree": rt_tree.build(home, db, study_uid, rt_only=True)}


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
