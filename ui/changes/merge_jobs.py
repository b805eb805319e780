"""The merge drawer's background work: job bodies for the identity check, the merge,
the keep proposal and a study's series, and the default destination side."""

from __future__ import annotations

from app.worklist import query as worklist
from app.accounts.accounts import User
from app.changes import merge
from app.home import Home


def preflight_job(home: Home, user: User, mode: str, source: str, destination: str):
    """Job body: the identity check (forced, so a red check is returned, not raised),
    and for patients the number of studies each has."""

    def job(progress, cancel):
        db = home.connect()
        try:
            plan = merge.plan_merge_patients if mode == "patients" else merge.plan_merge_studies
            _plan, check = plan(db, user, source, destination, force=True)
            counts = {}
            if mode == "patients":
                counts = {pid: worklist.patient_card(db, pid)["study_count"]
                          for pid in (source, destination)}
            return check, counts
        finally:
            db.close()

    return job


def merge_job(home: Home, user: User, mode: str, source: str, destination: str, force: bool,
              reason: str):
    def job(progress, cancel):
        db = home.connect()
        try:
            run = merge.merge_patients if mode == "patients" else merge.merge_studies
            return run(home, db, user, source, destination, force=force, reason=reason,
                       progress=progress, cancel=cancel)
        finally:
            db.close()

    return job


def proposal_job(home: Home, first: str, second: str):
    """Job body: which of two patient records to keep, and why (app.changes.merge)."""
    settings = home.settings().get("merge", {})
    configured = settings.get("secondary_issuers", "") if isinstance(settings, dict) else ""
    issuers = configured if isinstance(configured, list) else str(configured or "").split(",")

    def job(progress, cancel):
        db = home.connect()
        try:
            return merge.propose_keep(db, first, second, issuers)
        finally:
            db.close()

    return job


def series_job(home: Home, study_uid: str):
    def job(progress, cancel):
        db = home.connect()
        try:
            return worklist.series_of(db, study_uid)
        finally:
            db.close()

    return job


def _default_destination(sides: list[list[dict]]) -> int:
    """Study merges: keep the side with more studies, then more images (ties:
    the first ticked). Patient merges start here and then follow the core's
    proposal (:func:`app.changes.merge.propose_keep`)."""
    def weight(rows: list[dict]) -> tuple[int, int]:
        return len(rows), sum(r.get("instance_count") or 0 for r in rows)
    return 1 if weight(sides[1]) > weight(sides[0]) else 0
