"""The `studydesk` command: a thin face over app/ (contract: shared/CLI.md)."""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import os
import sys
from typing import Any, Callable, Optional

from app import __version__
from app.errors import BadInput, Cancelled, NotAllowed, StudyDeskError

EXIT_PARTIAL = 6

# Areas that add their own commands: each module has
# ``add_commands(command, common)``, where ``command(name, func, help)``
# returns the subparser and ``func(ctx: Context) -> int`` runs the command.
# Keep those modules light to import: heavy imports go inside the functions.
COMMAND_MODULES: list[str] = ["app.research_commands", "app.media_commands", "app.net_commands", "app.deid_commands"]


class Context:
    """What every command gets: the home, the acting user, output helpers."""

    def __init__(self, args: argparse.Namespace):
        from app.home import Home, os_login

        self.args = args
        self.json = getattr(args, "json", False)
        self.home = Home.open(getattr(args, "home", None))
        self.user_name = getattr(args, "user", None) or os.environ.get("STUDYDESK_USER") or os_login()
        self._db = None
        self._user = None

    @property
    def db(self):
        if self._db is None:
            self._db = self.home.connect()
        return self._db

    @property
    def user(self):
        if self._user is None:
            from app import accounts

            self._user = accounts.authenticate(self.db, self.user_name, _password_from_env_or_prompt)
        return self._user

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    def emit(self, document: Any, text: Callable[[], str] | str | None = None) -> None:
        if self.json:
            json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
            sys.stdout.write("\n")
        elif text is not None:
            out = text() if callable(text) else text
            if out:
                print(out)

    def progress(self):
        return TerminalProgress() if sys.stderr.isatty() else None


def _password_from_env_or_prompt() -> Optional[str]:
    if "STUDYDESK_PASSWORD" in os.environ:
        return os.environ["STUDYDESK_PASSWORD"]
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    return None


class TerminalProgress:
    """A one-line progress bar on stderr."""

    def __init__(self) -> None:
        self._shown = False

    def __call__(self, fraction, message: str = "") -> None:
        width = 30
        if fraction is None:
            bar = " " * width
            pct = "   "
        else:
            filled = int(width * max(0.0, min(1.0, fraction)))
            bar = "#" * filled + "." * (width - filled)
            pct = f"{int(fraction * 100):3d}%"
        sys.stderr.write(f"\r[{bar}] {pct} {message[:60]:<60}")
        sys.stderr.flush()
        self._shown = True

    def done(self) -> None:
        if self._shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _run_job(ctx: Context, job: Callable):
    """Run a job inline; Ctrl+C cancels it like the window's Cancel button."""
    from app.jobs import CancelToken

    bar = ctx.progress()
    cancel = CancelToken()
    try:
        return job(bar, cancel)
    except KeyboardInterrupt:
        cancel.cancel()
        raise Cancelled("cancelled by the user")
    finally:
        if bar:
            bar.done()


# -- commands ---------------------------------------------------------------------------


def cmd_init(ctx: Context) -> int:
    ctx.emit({"home": str(ctx.home.root)}, f"StudyDesk home: {ctx.home.root}")
    return 0


def _import_exit(ctx: Context, result) -> int:
    for item in result.rejected:
        print(f"refused: {item['path']}: {item['reason']}", file=sys.stderr)
    ctx.emit(result.to_json(), lambda: (
        f"{result.imported} imported, {result.duplicates} duplicates, "
        f"{len(result.rejected)} refused, {len(result.studies)} studies"))
    if result.rejected:
        return EXIT_PARTIAL if (result.imported or result.duplicates) else 5
    return 0


def cmd_import(ctx: Context) -> int:
    from app.importer import import_paths

    mode = "link" if ctx.args.link else "copy"
    result = _run_job(ctx, lambda progress, cancel: import_paths(
        ctx.home, ctx.args.paths, ctx.user, mode=mode, progress=progress, cancel=cancel))
    return _import_exit(ctx, result)


def cmd_demo(ctx: Context) -> int:
    from app.demo_import import import_demo

    result = _run_job(ctx, lambda progress, cancel: import_demo(
        ctx.home, ctx.user, patients=ctx.args.patients, progress=progress, cancel=cancel))
    return _import_exit(ctx, result)


def _query(args) -> "Any":
    from app.worklist import Query

    return Query(patient_id=args.patient_id or "", patient_name=args.patient_name or "",
                 accession=args.accession or "", modality=args.modality or "",
                 description=args.description or "", date_from=args.date_from or "",
                 date_to=args.date_to or "", assigned_to=args.assigned_to or "",
                 shared_with=getattr(args, "shared_with", None) or "")


CONTRACT_STUDY_KEYS = ("study_uid", "patient_id", "patient_name", "study_date", "accession",
                       "modalities", "description", "series_count", "instance_count",
                       "assigned_to", "locked_by", "staged")


def cmd_studies(ctx: Context) -> int:
    from app import worklist

    ctx.user.require("read", "search the worklist")
    if getattr(ctx.args, "shared_with", None):
        from app.accounts import get_user

        get_user(ctx.db, ctx.args.shared_with)   # an unknown user is exit 4, not an empty list
    uids = worklist.search(ctx.db, ctx.user.name, _query(ctx.args), limit=ctx.args.limit)
    rows = worklist.study_rows(ctx.db, uids)
    columns = [
        ("Patient", "patient_name", 24), ("ID", "patient_id", 12), ("Date", "study_date", 8),
        ("Accession", "accession", 12), ("Mod", "modalities", 8), ("Description", "description", 28),
        ("Ser", "series_count", 4), ("Img", "instance_count", 5), ("Study UID", "study_uid", 64)]
    if getattr(ctx.args, "shared_with", None):
        from app import sharing

        shares = sharing.shares_of(ctx.db, ctx.args.shared_with, uids)
        for row in rows:
            info = shares.get(row["study_uid"], {})
            row["shared_by"], row["share_note"], row["shared_at"] = (
                info.get("by"), info.get("note", ""), info.get("time"))
        columns[5:6] = [("Shared by", "shared_by", 12), ("Note", "share_note", 28)]
    ctx.emit(rows, lambda: _table(rows, columns))
    return 0


def cmd_share(ctx: Context) -> int:
    from app import sharing

    done = sharing.share(ctx.db, ctx.user, ctx.args.study_uids, ctx.args.with_user,
                         ctx.args.note or "")
    count = len(done["shared"])
    ctx.emit(done, f"{count} stud{'ies' if count != 1 else 'y'} shared with {done['with']}"
                   f" (`studydesk studies --shared-with {done['with']}` lists them)")
    return 0


def cmd_series(ctx: Context) -> int:
    from app import worklist

    ctx.user.require("read", "list series")
    rows = worklist.series_of(ctx.db, ctx.args.study_uid)
    ctx.emit(rows, lambda: _table(rows, [
        ("#", "number", 4), ("Mod", "modality", 8), ("Description", "description", 32),
        ("Img", "instance_count", 5), ("Series UID", "series_uid", 64)]))
    return 0


def cmd_patient(ctx: Context) -> int:
    from app import worklist

    ctx.user.require("read", "open patient cards")
    card = worklist.open_patient_card(ctx.db, ctx.user.name, ctx.args.patient_id,
                                      issuer=ctx.args.issuer)
    records = card["records"]

    def block(one: dict) -> list[str]:
        lines = [f"{one['name']}  ({one['sex'] or '?'}, born {one['birth_date'] or '?'}"
                 + (f", {one['age']} y" if one["age"] is not None else "") + ")",
                 f"Patient ID: {one['patient_id']}"
                 + (f"  (issuer {one['issuer']})" if one["issuer"] else ""),
                 f"Phone: {one['phone'] or '-'}",
                 f"Confidentiality: {one['confidentiality'] or '-'}",
                 f"Studies: {one['study_count']}"]
        for a in one["appointments"]:
            lines.append(f"Appointment: {a['date']} {a['time']} {a['modality']} "
                         f"{a['description']} {a['location']}")
        return lines

    def text() -> str:
        if len(records) == 1:
            return "\n".join(block(card))
        pid = card["patient_id"]
        lines = [f"Patient ID {pid}: {len(records)} records (issuers "
                 f"{worklist.issuers_text_of_cards(records)}); `studydesk patient {pid}^^^ISSUER` "
                 "shows one"]
        for n, one in enumerate(records, start=1):
            lines += ["", f"Record {n} of {len(records)}: issuer {one['issuer'] or '(none)'}", *block(one)]
        return "\n".join(lines)

    if len(records) > 1 and ctx.json:
        print(f"studydesk: patient {card['patient_id']}: {len(records)} records (issuers "
              f"{worklist.issuers_text_of_cards(records)}); all are in \"records\"", file=sys.stderr)
    ctx.emit(card, text)
    return 0


def cmd_config(ctx: Context) -> int:
    if ctx.args.config_command == "set":
        ctx.user.require("configure", "change settings")
        text = ctx.args.value
        if ctx.args.key.startswith("tls."):
            from app.net import tls

            text = tls.check_setting(ctx.home, ctx.args.key[4:], text)
        value = ctx.home.set_setting(ctx.args.key, text)
        from app import audit
        from app.db import transaction

        with transaction(ctx.db):
            audit.record(ctx.db, ctx.user.name, "config-set", audit.APPLICATION_ACTIVITY,
                         objects=[ctx.args.key], detail=f"{ctx.args.key} = {value!r}")
        ctx.emit({ctx.args.key: value}, f"{ctx.args.key} = {value}")
        return 0
    if ctx.args.key:
        value = ctx.home.get_setting(ctx.args.key)
        ctx.emit({ctx.args.key: value}, str(value))
    else:
        settings = ctx.home.settings()
        ctx.emit(settings, lambda: "\n".join(f"{k} = {v}" for k, v in sorted(settings.items())))
    return 0


def _new_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if first != getpass.getpass("Repeat it: "):
            raise BadInput("user add: the two passwords differ")
        return first
    line = sys.stdin.readline().rstrip("\n")
    if not line:
        raise BadInput("user add --password: give the password on standard input (one line)")
    return line


def cmd_user(ctx: Context) -> int:
    from app import accounts

    if ctx.args.user_command == "add":
        password = _new_password() if ctx.args.password else None
        user = accounts.add_user(ctx.db, ctx.user, ctx.args.name, ctx.args.role, password)
        ctx.emit(user.to_json(), f"added {user.name} ({', '.join(sorted(user.roles))})")
        return 0
    ctx.user.require("read")
    users = [u.to_json() for u in accounts.list_users(ctx.db)]
    ctx.emit(users, lambda: "\n".join(
        f"{u['name']:<20} {', '.join(u['roles']):<40} {'password' if u['password'] else ''}"
        for u in users))
    return 0


def cmd_audit(ctx: Context) -> int:
    from app import audit

    ctx.user.require("manage-users", "read the audit trail")
    if ctx.args.verify:
        broken = audit.verify(ctx.db)
        if broken is None:
            count = ctx.db.execute("SELECT count(*) FROM audit").fetchone()[0]
            ctx.emit({"intact": True, "entries": count}, f"audit trail intact ({count} entries)")
            return 0
        where = f"audit entry {broken['id']}" if broken["id"] is not None else "audit trail"
        print(f"{where}: {broken['reason']}", file=sys.stderr)
        ctx.emit({"intact": False, "first_broken": broken["id"], "reason": broken["reason"]})
        return 5
    study = None
    if ctx.args.study:
        from app.worklist import resolve_study_uid

        study = resolve_study_uid(ctx.db, ctx.args.study, include_trashed=True)
    rows = audit.entries(ctx.db, since=ctx.args.since, study=study)
    ctx.emit(rows, lambda: "\n".join(
        f"{r['time']}  {r['user']:<12} {r['action']:<14} {r['event_code']} {r['outcome']:<14} "
        f"{r['detail']}" for r in rows))
    return 0


# -- changes (journal, merges, trash, locks) -----------------------------------------------


def _change_done(ctx: Context, change_id: int, text: str) -> int:
    ctx.emit({"change_id": change_id}, f"{text} (change {change_id}; `studydesk undo {change_id}` reverts it)")
    return 0


def cmd_merge_studies(ctx: Context) -> int:
    from app.changes.merge import merge_studies

    change_id = _run_job(ctx, lambda progress, cancel: merge_studies(
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
    change_id = _run_job(ctx, lambda progress, cancel: merge_patients(
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

    outcome = _run_job(ctx, lambda progress, cancel: reallocate_series(
        ctx.home, ctx.db, ctx.user, ctx.args.series_uid, ctx.args.to, ctx.args.force,
        ctx.args.reason or "", with_dependents=ctx.args.with_dependents,
        title=ctx.args.rejection_title, progress=progress, cancel=cancel))
    if outcome.left_behind:
        print("note: series referring to this one stay where they are (--with-dependents moves "
              "them along): " + ", ".join(outcome.left_behind), file=sys.stderr)
    for line in outcome.messages()[1:]:
        if not line.endswith("stayed where they were"):
            print(f"note: {line}", file=sys.stderr)
    document = outcome.to_json()
    if outcome.ai_cleared:  # the change is done: send the rescan request now, not someday
        from app import ai

        sent = ai.send_rescans(ctx.home, ctx.user, outcome.destination)
        for result in sent:
            if not result["sent"]:
                print(f"warning: {ai.failure_message(result)}", file=sys.stderr)
        document["ai_rescan_sent"] = [{k: r[k] for k in ("id", "node", "sent", "error")} for r in sent]
    ctx.emit(document, f"{len(outcome.series)} series reallocated (change "
             f"{outcome.change_id}; `studydesk undo {outcome.change_id}` reverts it)")
    return 0


def cmd_study(ctx: Context) -> int:
    """`study mark-migrated|unmark-migrated|request-ai-rescan STUDY_UID`."""
    from app import ai
    from app.changes import migrated

    command = ctx.args.study_command
    if command == "request-ai-rescan":
        result = ai.request_rescan(ctx.home, ctx.db, ctx.user, ctx.args.study_uid,
                                   ctx.args.reason or "")
        ctx.emit(result, result["message"])
        return 0
    result = migrated.mark(ctx.db, ctx.user, ctx.args.study_uid, command == "mark-migrated")
    text = f"study {result['study_uid']}: " + (
        f"migrated ({result['reason']})" if result["reason"] else "not migrated")
    ctx.emit(result, text)
    return 0


def cmd_assign(ctx: Context) -> int:
    from app.assignments import assign

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
        ctx.emit(rows, lambda: _table(rows, [
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
    from app.worklist import resolve_study_uid

    ctx.user.require("read")
    study = resolve_study_uid(ctx.db, ctx.args.study, include_trashed=True) if ctx.args.study else None
    rows = journal.history(ctx.db, study)
    ctx.emit(rows, lambda: "\n".join(
        f"{r['change_id']:>5}  {r['time'][:19]}  {r['user']:<12} {r['action']:<15}"
        f" {'(undone) ' if r['undone'] else ''}{r['reason']}" for r in rows))
    return 0


def cmd_undo(ctx: Context) -> int:
    from app.changes import journal

    change_id = _run_job(ctx, lambda progress, cancel: journal.undo(
        ctx.home, ctx.db, ctx.args.change_id, ctx.user, ctx.args.reason or "", progress, cancel))
    ctx.emit({"change_id": change_id, "undone": ctx.args.change_id},
             f"change {ctx.args.change_id} undone (change {change_id})")
    return 0


def cmd_gui(ctx: Optional[Context], args: argparse.Namespace) -> int:
    from ui.app import run  # the one import of ui from app (import-linter exception)

    return run(args)


# -- parsing ------------------------------------------------------------------------------


def _table(rows: list[dict], columns: list[tuple[str, str, int]]) -> str:
    def cell(value, width):
        if isinstance(value, list):
            value = ",".join(value)
        text = "" if value is None else str(value)
        return text[:width].ljust(width)

    lines = ["  ".join(cell(title, w) for title, _, w in columns)]
    for row in rows:
        lines.append("  ".join(cell(row.get(key), w) for _, key, w in columns))
    return "\n".join(line.rstrip() for line in lines)


def _add_qbe(p: argparse.ArgumentParser) -> None:
    p.add_argument("--patient-id")
    p.add_argument("--patient-name")
    p.add_argument("--accession")
    p.add_argument("--modality")
    p.add_argument("--description")
    p.add_argument("--date-from", metavar="YYYYMMDD")
    p.add_argument("--date-to", metavar="YYYYMMDD")
    p.add_argument("--assigned-to", metavar="USER")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, help="the data folder")
    common.add_argument("--user", default=argparse.SUPPRESS, help="who acts")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="one JSON document on stdout")

    parser = argparse.ArgumentParser(prog="studydesk", parents=[common],
                                     description="StudyDesk PACS workstation")
    parser.add_argument("--version", action="version", version=f"studydesk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    command("init", cmd_init, "create the home explicitly")
    p = command("demo", cmd_demo, "add a generated demo set")
    p.add_argument("--patients", type=int, default=6)
    p = command("import", cmd_import, "import files, folders, ZIPs, DICOMDIR media")
    p.add_argument("paths", nargs="+", metavar="PATH")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--copy", action="store_true", help="copy into the image store (default)")
    mode.add_argument("--link", action="store_true", help="index the files where they are")
    p = command("studies", cmd_studies, "the worklist (query by example)")
    _add_qbe(p)
    p.add_argument("--shared-with", metavar="USER",
                   help="only the studies shared with USER (`share`), with who shared and the note")
    p.add_argument("--limit", type=int)
    p = command("share", cmd_share, "share studies with a user of this workstation")
    p.add_argument("study_uids", nargs="+", metavar="STUDY_UID")
    p.add_argument("--with", dest="with_user", required=True, metavar="USER",
                   help="an account of this workstation: the studies show in their Shared with me view")
    p.add_argument("--note", metavar="TEXT", help="what the recipient should know")
    p = command("series", cmd_series, "one study's series")
    p.add_argument("study_uid", metavar="STUDY_UID")
    p = command("patient", cmd_patient, "the patient card (every record of the ID: several "
                "issuers are several records)")
    p.add_argument("patient_id", metavar="PATIENT_ID",
                   help="a patient ID, or PID^^^ISSUER for one record (PID^^^ for the one without issuer)")
    p.add_argument("--issuer", metavar="ISSUER",
                   help="only the record of this issuer of patient ID ('' for none)")

    p = command("config", cmd_config, "settings")
    csub = p.add_subparsers(dest="config_command", metavar="get|set", required=True)
    g = csub.add_parser("get", parents=[common])
    g.add_argument("key", nargs="?")
    s = csub.add_parser("set", parents=[common])
    s.add_argument("key")
    s.add_argument("value")

    p = command("user", cmd_user, "accounts")
    usub = p.add_subparsers(dest="user_command", metavar="add|list", required=True)
    a = usub.add_parser("add", parents=[common])
    a.add_argument("name")
    a.add_argument("--role", nargs="+", required=True, metavar="ROLE")
    a.add_argument("--password", action="store_true", help="ask for a password (stdin when not a terminal)")
    usub.add_parser("list", parents=[common])

    p = command("audit", cmd_audit, "the audit trail")
    p.add_argument("--since", metavar="ISO_TIME")
    p.add_argument("--study", metavar="STUDY_UID")
    p.add_argument("--verify", action="store_true")

    def changing(p: argparse.ArgumentParser) -> None:
        p.add_argument("--reason", metavar="TEXT", help="kept in the journal and the audit trail")

    p = command("merge-studies", cmd_merge_studies, "move every series of SOURCE into DEST")
    p.add_argument("source", metavar="SOURCE_UID")
    p.add_argument("destination", metavar="DEST_UID")
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
    p.add_argument("study_uids", nargs="+", metavar="STUDY_UID")
    p.add_argument("--to", required=True, metavar="USER", help="an account with the radiologist role")
    p = command("unassign", cmd_assign, "clear the assignment of studies")
    p.add_argument("study_uids", nargs="+", metavar="STUDY_UID")
    p = command("reallocate", cmd_reallocate, "move one series into another study")
    p.add_argument("series_uid", metavar="SERIES_UID")
    p.add_argument("--to", required=True, metavar="STUDY_UID")
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
        q.add_argument("study_uid", metavar="STUDY_UID")
        changing(q)
    p = command("delete", cmd_delete, "move studies to the trash")
    p.add_argument("study_uids", nargs="+", metavar="STUDY_UID")
    changing(p)
    p = command("trash", cmd_trash, "the trash")
    tsub = p.add_subparsers(dest="trash_command", metavar="list|restore|empty", required=True)
    tsub.add_parser("list", parents=[common])
    r = tsub.add_parser("restore", parents=[common])
    r.add_argument("study_uids", nargs="+", metavar="STUDY_UID")
    changing(r)
    e = tsub.add_parser("empty", parents=[common])
    e.add_argument("--older-than", type=float, metavar="DAYS")
    p = command("lock", cmd_lock, "lock a study against changes by others")
    p.add_argument("study_uid", metavar="STUDY_UID")
    p = command("unlock", cmd_unlock, "release a lock (the holder or an admin)")
    p.add_argument("study_uid", metavar="STUDY_UID")
    p = command("history", cmd_history, "the change journal")
    p.add_argument("--study", metavar="STUDY_UID")
    p = command("undo", cmd_undo, "apply the inverse of a change")
    p.add_argument("change_id", type=int, metavar="CHANGE_ID")
    changing(p)

    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        module.add_commands(command, common)

    p = command("gui", None, "open the workstation window")
    p.add_argument("--demo", action="store_true", help="open on a fresh demo home")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    import multiprocessing

    multiprocessing.freeze_support()  # import workers in a PyInstaller bundle
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in (None, "gui"):
        if not hasattr(args, "demo"):
            args.demo = False
        try:
            return cmd_gui(None, args)
        except StudyDeskError as e:
            print(f"studydesk: {e}", file=sys.stderr)
            return e.exit_code
    ctx = None
    try:
        ctx = Context(args)
        return args.func(ctx)
    except Cancelled as e:
        print(f"studydesk: {e}", file=sys.stderr)
        return 1
    except StudyDeskError as e:
        print(f"studydesk: {e}", file=sys.stderr)
        if e.detail:
            print(e.detail, file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("studydesk: interrupted", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `studydesk studies | head`
        sys.stderr.close()
        return 0
    finally:
        if ctx is not None:
            ctx.close()


if __name__ == "__main__":
    raise SystemExit(main())
