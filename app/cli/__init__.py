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
from app.errors import Cancelled, StudyDeskError
from app.startup import open_home

EXIT_PARTIAL = 6

# Areas that add their own commands: each module has
# ``add_commands(command, common)``, where ``command(name, func, help)``
# returns the subparser and ``func(ctx: Context) -> int`` runs the command.
# Keep those modules light to import: heavy imports go inside the functions.
# Registered in this order after the commands below, so `--help` lists them so.
COMMAND_MODULES: list[str] = ["app.cli.admin", "app.cli.changes", "app.cli.research",
                              "app.cli.media", "app.cli.net", "app.cli.export"]


class Context:
    """What every command gets: the home, the acting user, output helpers."""

    def __init__(self, args: argparse.Namespace):
        from app.home import Home, os_login

        self.args = args
        self.json = getattr(args, "json", False)
        self.home = open_home(getattr(args, "home", None))
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
            from app.accounts import accounts

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
    from app.importing.importer import import_paths

    mode = "link" if ctx.args.link else "copy"
    result = _run_job(ctx, lambda progress, cancel: import_paths(
        ctx.home, ctx.args.paths, ctx.user, mode=mode, progress=progress, cancel=cancel))
    return _import_exit(ctx, result)


def cmd_demo(ctx: Context) -> int:
    from app.importing.demo import import_demo

    result = _run_job(ctx, lambda progress, cancel: import_demo(
        ctx.home, ctx.user, patients=ctx.args.patients, progress=progress, cancel=cancel))
    return _import_exit(ctx, result)


def _query(args) -> "Any":
    from app.worklist.query import Query

    return Query(patient_id=args.patient_id or "", patient_name=args.patient_name or "",
                 accession=args.accession or "", modality=args.modality or "",
                 description=args.description or "", date_from=args.date_from or "",
                 date_to=args.date_to or "", assigned_to=args.assigned_to or "",
                 shared_with=getattr(args, "shared_with", None) or "")


CONTRACT_STUDY_KEYS = ("study_uid", "patient_id", "patient_name", "study_date", "accession",
                       "modalities", "description", "series_count", "instance_count",
                       "assigned_to", "locked_by", "staged")


def cmd_studies(ctx: Context) -> int:
    from app.worklist import query as worklist

    ctx.user.require("read", "search the worklist")
    if getattr(ctx.args, "shared_with", None):
        from app.accounts.accounts import get_user

        get_user(ctx.db, ctx.args.shared_with)   # an unknown user is exit 4, not an empty list
    uids = worklist.search(ctx.db, ctx.user.name, _query(ctx.args), limit=ctx.args.limit)
    rows = worklist.study_rows(ctx.db, uids)
    columns = [
        ("Patient", "patient_name", 24), ("ID", "patient_id", 12), ("Date", "study_date", 8),
        ("Accession", "accession", 12), ("Mod", "modalities", 8), ("Description", "description", 28),
        ("Ser", "series_count", 4), ("Img", "instance_count", 5), ("Study UID", "study_uid", 64)]
    if getattr(ctx.args, "shared_with", None):
        from app.worklist import sharing

        shares = sharing.shares_of(ctx.db, ctx.args.shared_with, uids)
        for row in rows:
            info = shares.get(row["study_uid"], {})
            row["shared_by"], row["share_note"], row["shared_at"] = (
                info.get("by"), info.get("note", ""), info.get("time"))
        columns[5:6] = [("Shared by", "shared_by", 12), ("Note", "share_note", 28)]
    ctx.emit(rows, lambda: _table(rows, columns))
    return 0


def cmd_share(ctx: Context) -> int:
    from app.worklist import sharing

    done = sharing.share(ctx.db, ctx.user, ctx.args.study_uids, ctx.args.with_user,
                         ctx.args.note or "")
    count = len(done["shared"])
    ctx.emit(done, f"{count} stud{'ies' if count != 1 else 'y'} shared with {done['with']}"
                   f" (`studydesk studies --shared-with {done['with']}` lists them)")
    return 0


def cmd_series(ctx: Context) -> int:
    from app.worklist import query as worklist

    ctx.user.require("read", "list series")
    rows = worklist.series_of(ctx.db, ctx.args.study_uid)
    ctx.emit(rows, lambda: _table(rows, [
        ("#", "number", 4), ("Mod", "modality", 8), ("Description", "description", 32),
        ("Img", "instance_count", 5), ("Series UID", "series_uid", 64)]))
    return 0


def cmd_patient(ctx: Context) -> int:
    from app.worklist import query as worklist

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
