"""The change commands: merges, assignment, reallocation, study marks, trash, locks,
history and undo (CLI.md); each change is journalled and `undo` reverts it."""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from app.cli.context import (EXIT_PARTIAL, SERIES_UID_HELP, STUDY_UID_HELP, STUDY_UIDS_HELP, Context, run_job,
                             table)
from app.errors import NotAllowed, StudyDeskError


def changing(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reason", metavar="TEXT", help="kept in the journal and the audit trail")


def add_commands(command, common) -> None:
    p = command("merge-studies", cmd_merge_studies, "move every series of SOURCE into DEST")
    p.add_argument("source", metavar="SOURCE_UID", help="the study whose series move")
    p.add_argument("destination", metavar="DEST_UID", help="the study that receives them")
    p.add_argument("--force", action="store_true", help="merge even across patients")
    changing(p)
    p = command("merge-patients", cmd_merge_patients, "every study of SOURCE becomes DEST's")
    p.add_argument("source", metavar="SOURCE_PID", help="a patient ID or PID^^^ISSUER")
    p.add_argument("destination", metavar="DEST_PID", help="a patient ID or PID^^^ISSUER")
    p.add_argument("--force", action="store_true", help="merge even when name, birth date or sex differ")
    p.add_argument("--issuer", metavar="ISSUER", help="the issuer of both patient IDs")
    p.add_argument("--source-issuer", metavar="ISSUER", help="the issuer of SOURCE_PID")
    p.add_argument("--dest-issuer", metavar="ISSUER", help="the issuer of DEST_PID")
    changing(p)
    p = command("assign", cmd_assign, "assign studies to a reading physician")
    p.add_argument("study_uids", nargs="+", metavar="STUDY_UID", help=STUDY_UIDS_HELP)
    p.add_argument("--to", required=True, metavar="USER", help="an account with the radiologist role")
    p = command("unassign", cmd_assign, "clear the assignment of studies")
    p.add_argument("study_uids", nargs="+", metavar="STUDY_UID", help=STUDY_UIDS_HELP)
    p = command("reallocate", cmd_reallocate, "move one series into another study")
    p.add_argument("series_uid", metavar="SERIES_UID", help=SERIES_UID_HELP)
    p.add_argument("--to", required=True, metavar="STUDY_UID", help="the study it moves into")
    p.add_argument("--force", action="store_true", help="reallocate even across patients")
    p.add_argument("--with-dependents", action="store_true",
                   help="move along the series that refer to this one (RT, SEG, SR, KOS)")
    p.add_argument("--rejection-title", choices=("113038", "113037"), default="113038",
                   help="IOCM mode: the rejection note's title, 113038 Incorrect Modality "
                        "Worklist Entry (default) or 113037 Rejected for Patient Safety Reasons")
    changing(p)
    p = command("study", cmd_study, "study administration: migrated mark, AI rescan")
    ssub = p.add_subparsers(dest="study_command", metavar="mark-migrated|unmark-migrated|"
                            "request-ai-rescan", required=True)
    for name, text in (("mark-migrated", "an admin marks a study migrated (no change may touch it)"),
                       ("unmark-migrated", "an admin clears the migrated mark"),
                       ("request-ai-rescan", "ask the AI nodes to analyse the study again")):
        q = ssub.add_parser(name, parents=[common], help=text, description=text)
        q.add_argument("study_uid", metavar="STUDY_UID", help=STUDY_UID_HELP)
        changing(q)
    p = command("delete", cmd_delete, "move studies to the trash")
    p.add_argument("study_uids", nargs="+", metavar="STUDY_UID", help=STUDY_UIDS_HELP)
    changing(p)
    p = command("trash", cmd_trash, "the trash")
    tsub = p.add_subparsers(dest="trash_command", metavar="list|restore|empty", required=True)
    tsub.add_parser("list", parents=[common], help="the studies in the trash")
    r = tsub.add_parser("restore", parents=[common], help="put studies back on the worklist")
    r.add_argument("study_uids", nargs="+", metavar="STUDY_UID", help=STUDY_UIDS_HELP)
    changing(r)
    e = tsub.add_parser("empty", parents=[common], help="erase trashed studies for good (admin)")
    e.add_argument("--older-than", type=float, metavar="DAYS", help="only studies trashed more than DAYS ago")
    p = command("lock", cmd_lock, "lock a study against changes by others")
    p.add_argument("study_uid", metavar="STUDY_UID", help=STUDY_UID_HELP)
    p = command("unlock", cmd_unlock, "release a lock (the holder or an admin)")
    p.add_argument("study_uid", metavar="STUDY_UID", help=STUDY_UID_HELP)
    p = command("history", cmd_history, "the change journal")
    p.add_argument("--study", metavar="STUDY_UID", help="only the changes that touched this study")
    p = command("undo", cmd_undo, "apply the inverse of a change")
    p.add_argument("change_id", type=int, metavar="CHANGE_ID", help="the change to revert (see `history`)")
    changing(p)


def _change_done(ctx: Context, change_id: int, text: str) -> int:
    ctx.emit({"change_id": change_id}, f"{text} (change {change_id}; `studydesk undo {change_id}` reverts it)")
    return 0


def cmd_merge_studies(ctx: Context) -> int:
    from app.changes.merge import merge_studies

    change_id = run_job(ctx, lambda progress, cancel: merge_studies(
        ctx.home, ctx.db, ctx.user, ctx.args.source, ctx.args.destination, ctx.args.force,
        ctx.args.reason or "", progress, cancel))
    return _change_done(ctx, change_id, "studies merged")


def _patient_ref(patient_id: str, issuer: Optional[str]) -> str:
    """PID with an issuer given apart, as PID^^^ISSUER (one given inside wins)."""
    return patient_id if issuer is None or "^^^" in patient_id else f"{patient_id}^^^{issuer}"


def cmd_merge_patients(ctx: Context) -> int:
    from app.changes.merge import merge_patients

    source = _patient_ref(ctx.args.source, ctx.args.source_issuer or ctx.args.issuer)
    destination = _patient_ref(ctx.args.destination, ctx.args.dest_issuer or ctx.args.issuer)
    change_id = run_job(ctx, lambda progress, cancel: merge_patients(
        ctx.home, ctx.db, ctx.user, source, destination, ctx.args.force,
        ctx.args.reason or "", progress, cancel))
    return _change_done(ctx, change_id, "patients merged")


def _each(ctx: Context, uids: list[str], act, describe=lambda d: f"change {d.get('change_id')}") -> int:
    """Run *act(uid) -> dict* per input; exit 6 when some succeeded and some
    were refused, else the refusals' own code."""
    done, refused = [], []
    for uid in uids:
        try:
            done.append(dict({"study_uid": uid}, **act(uid)))
        except NotAllowed:
            raise
        except StudyDeskError as e:
            print(f"refused: {e}", file=sys.stderr)
            refused.append({"study_uid": uid, "reason": str(e), "exit_code": e.exit_code})
    ctx.emit({"done": done, "refused": refused},
             lambda: "\n".join(f"{d['study_uid']}: {describe(d)}" for d in done))
    if refused and done:
        return EXIT_PARTIAL
    codes = {r["exit_code"] for r in refused}
    if codes:
        return codes.pop() if len(codes) == 1 else 5
    return 0


def cmd_reallocate(ctx: Context) -> int:
    from app.changes.reallocate import reallocate_series

    outcome = run_job(ctx, lambda progress, cancel: reallocate_series(
        ctx.home, ctx.db, ctx.user, ctx.args.series_uid, ctx.args.to, ctx.args.force,
        ctx.args.reason or "", with_dependents=ctx.args.with_dependents,
        title=ctx.args.rejection_title, progress=progress, cancel=cancel))
    if outcome.left_behind:
        print("note: series referring to this one stay where they are (--with-dependents moves "
              "them along): " + ", ".join(outcome.left_behind), file=sys.stderr)
    measured = outcome.measurement_lines()
    for line in outcome.messages()[1:]:
        if not line.endswith("stayed where they were") and line not in measured:
            print(f"note: {line}", file=sys.stderr)
    document = outcome.to_json()
    if outcome.ai_cleared:  # the change is done: send the rescan request now, not someday
        from app.changes import ai

        sent = ai.send_rescans(ctx.home, ctx.user, outcome.destination)
        for result in sent:
            if not result["sent"]:
                print(f"warning: {ai.failure_message(result)}", file=sys.stderr)
        document["ai_rescan_sent"] = [{k: r[k] for k in ("id", "node", "sent", "error")} for r in sent]
    ctx.emit(document, f"{len(outcome.series)} series reallocated (change "
             f"{outcome.change_id}; `studydesk undo {outcome.change_id}` reverts it)"
             + "".join(f"\n{line}" for line in measured))
    return 0


def cmd_study(ctx: Context) -> int:
    """`study mark-migrated|unmark-migrated|request-ai-rescan STUDY_UID`."""
    from app.changes import ai
    from app.changes import migrated

    command = ctx.args.study_command
    if command == "request-ai-rescan":
        result = ai.request_rescan(ctx.home, ctx.db, ctx.user, ctx.args.study_uid,
                                   ctx.args.reason or "")
        ctx.emit(result, result["message"])
        return 0
    result = migrated.mark(ctx.db, ctx.user, ctx.args.study_uid, command == "mark-migrated")
    text = f"study {result['study_instance_uid']}: " + (
        f"migrated ({result['reason']})" if result["reason"] else "not migrated")
    ctx.emit(result, text)
    return 0


def cmd_assign(ctx: Context) -> int:
    from app.worklist.assignments import assign

    to = None if ctx.args.command == "unassign" else ctx.args.to
    return _each(ctx, ctx.args.study_uids,
                 lambda uid: {"study_uid": assign(ctx.db, ctx.user, uid, to), "assigned_to": to},
                 lambda d: f"assigned to {d['assigned_to']}" if d["assigned_to"] else "unassigned")


def cmd_delete(ctx: Context) -> int:
    from app.changes import trash

    return _each(ctx, ctx.args.study_uids, lambda uid: {"change_id": trash.delete(
        ctx.home, ctx.db, ctx.user, uid, ctx.args.reason or "")})


def cmd_trash(ctx: Context) -> int:
    from app.changes import trash

    if ctx.args.trash_command == "list":
        ctx.user.require("read")
        rows = trash.trashed(ctx.db)
        ctx.emit(rows, lambda: table(rows, [
            ("Patient", "patient_name", 24), ("Date", "study_date", 8), ("Accession", "accession", 12),
            ("Img", "instance_count", 5), ("Trashed", "trashed_at", 19), ("By", "trashed_by", 10),
            ("Study UID", "study_uid", 64)]))
        return 0
    if ctx.args.trash_command == "restore":
        return _each(ctx, ctx.args.study_uids, lambda uid: {"change_id": trash.restore(
            ctx.home, ctx.db, ctx.user, uid, ctx.args.reason or "")})
    erased = trash.empty(ctx.home, ctx.db, ctx.user, ctx.args.older_than)
    ctx.emit({"erased": erased}, f"{len(erased)} studies erased for good")
    return 0


def cmd_lock(ctx: Context) -> int:
    from app.changes import locks

    uid = locks.lock(ctx.db, ctx.user, ctx.args.study_uid)
    ctx.emit({"study_uid": uid, "locked_by": ctx.user.name}, f"locked {uid}")
    return 0


def cmd_unlock(ctx: Context) -> int:
    from app.changes import locks

    uid = locks.unlock(ctx.db, ctx.user, ctx.args.study_uid)
    ctx.emit({"study_uid": uid, "locked_by": None}, f"unlocked {uid}")
    return 0


def cmd_history(ctx: Context) -> int:
    from app.changes import journal
    from app.worklist.query import resolve_study_uid

    ctx.user.require("read")
    study = resolve_study_uid(ctx.db, ctx.args.study, include_trashed=True) if ctx.args.study else None
    rows = journal.history(ctx.db, study)
    ctx.emit(rows, lambda: "\n".join(
        f"{r['change_id']:>5}  {r['time'][:19]}  {r['user']:<12} {r['action']:<15}"
        f" {'(undone) ' if r['undone'] else ''}{r['reason']}" for r in rows))
    return 0


def cmd_undo(ctx: Context) -> int:
    from app.changes import journal

    change_id = run_job(ctx, lambda progress, cancel: journal.undo(
        ctx.home, ctx.db, ctx.args.change_id, ctx.user, ctx.args.reason or "", progress, cancel))
    ctx.emit({"change_id": change_id, "undone": ctx.args.change_id},
             f"change {ctx.args.change_id} undone (change {change_id})")
    return 0
