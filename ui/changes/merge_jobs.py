"""The merge drawer's work on the cache, each a function of ``(db, progress,
cancel)`` for ``runner.read`` / ``runner.write`` (ui/jobs.py: the runner
opens and closes the connection): the identity check, the keep proposal, a
study's series and the merge itself; and the default destination side."""

from __future__ import annotations

from app.accounts.accounts import User
from app.changes import merge
from app.home import Home
from app.worklist import query as worklist


def preflight_read(user: User, mode: str, source: str, destination: str):
    """The identity check (forced, so a red check is returned, not raised),
    and for patients the number of studies each has."""

    def read(db, progress, cancel):
        plan = merge.plan_merge_patients if mode == "patients" else merge.plan_merge_studies
        _plan, check = plan(db, user, source, destination, force=True)
        counts = {}
        if mode == "patients":
            counts = {pid: worklist.patient_card(db, pid)["study_count"]
                      for pid in (source, destination)}
        return check, counts

    return read


def merge_write(home: Home, user: User, mode: str, source: str, destination: str, force: bool,
                reason: str):
    """The merge (app.changes.merge); returns the change id."""

    def write(db, progress, cancel):
        run = merge.merge_patients if mode == "patients" else merge.merge_studies
        return run(home, db, user, source, destination, force=force, reason=reason,
                   progress=progress, cancel=cancel)

    return write


def proposal_read(home: Home, first: str, second: str):
    """Which of two patient records to keep, and why (app.changes.merge)."""
    settings = home.settings().get("merge", {})
    configured = settings.get("secondary_issuers", "") if isinstance(settings, dict) else ""
    issuers = configured if isinstance(configured, list) else str(configured or "").split(",")
    return lambda db, progress, cancel: merge.propose_keep(db, first, second, issuers)


def series_read(study_uid: str):
    return lambda db, progress, cancel: worklist.series_of(db, study_uid)


def default_destination(sides: list[list[dict]]) -> int:
    """Study merges: keep the side with more studies, then more images (ties:
    the first ticked). Patient merges start here and then follow the core's
    proposal (:func:`app.changes.merge.propose_keep`)."""
    def weight(rows: list[dict]) -> tuple[int, int]:
        return len(rows), sum(r.get("instance_count") or 0 for r in rows)
    return 1 if weight(sides[1]) > weight(sides[0]) else 0
