"""What every command shares: the Context (the home, the acting user, JSON or text
output), progress on the terminal, tables, the query-by-example options of
`studies` and `query`, exit codes, and the mapping of errors to exit codes.

Kept light to import: `studydesk --help` loads this module and must stay fast and
Qt-free, so the heavier parts of app/ are imported inside the functions."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
import time
from typing import Any, Callable, Optional

from app.errors import Cancelled, StudyDeskError
from app.startup import open_home

EXIT_PARTIAL = 6

log = logging.getLogger("studydesk")

# The exit codes of CLI.md, as the log file names them.
EXIT_MEANING = {0: "done", 1: "failed", 2: "bad usage", 3: "not allowed", 4: "not found",
                5: "refused by a rule", EXIT_PARTIAL: "done for some, refused for others"}

# Help of the UID arguments (CLI.md: a UID may be given whole or as an
# unambiguous prefix of at least 8 characters).
STUDY_UID_HELP = "a study UID (whole, or an unambiguous prefix of 8 or more characters)"
STUDY_UIDS_HELP = "study UIDs (each whole, or an unambiguous prefix of 8 or more characters)"
SERIES_UID_HELP = "a series UID (whole, or an unambiguous prefix of 8 or more characters)"


class Context:
    """What every command gets: the home, the acting user, output helpers."""

    def __init__(self, args: argparse.Namespace):
        from app.home import os_login

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
            json.dump(contract_keys(document), sys.stdout, indent=2, ensure_ascii=False)
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


def run_job(ctx: Context, job: Callable):
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


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command; every failure becomes one line on stderr and its
    exit code. The log file (app/logs.py) gets who ran which command on which
    home, each refusal or failure, and the exit code."""
    ctx = None
    command = getattr(args, "command", None) or "gui"
    started = time.monotonic()
    code = 1
    try:
        ctx = Context(args)
        log.info("%s: run by %s on %s", command, ctx.user_name, ctx.home.root)
        code = args.func(ctx)
        return code
    except Cancelled as e:
        log.info("%s: %s", command, e)
        print(f"studydesk: {e}", file=sys.stderr)
        return 1
    except StudyDeskError as e:
        code = e.exit_code
        log.info("%s: %s: %s", command, EXIT_MEANING.get(code, "failed"), e)
        print(f"studydesk: {e}", file=sys.stderr)
        if e.detail:
            print(e.detail, file=sys.stderr)
        return code
    except KeyboardInterrupt:
        log.info("%s: interrupted", command)
        print("studydesk: interrupted", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `studydesk studies | head`
        sys.stderr.close()
        code = 0
        return 0
    except Exception:
        # Python prints the traceback on stderr; the file keeps it too.
        from app.logs import FILE_ONLY

        log.error("%s: unexpected failure", command, exc_info=True, extra=FILE_ONLY)
        raise
    finally:
        if ctx is not None:
            ctx.close()
        log.info("%s: exit code %d (%s) after %.1f s", command, code, EXIT_MEANING.get(code, "?"),
                 time.monotonic() - started)


# Inside the code a thing has one name, its DICOM keyword (study_instance_uid,
# series_instance_uid, accession_number); the command line's JSON keys are a
# contract scripts rely on (shared/CLI.md) and keep their short names. The
# translation happens here, at the border, for JSON and for tables alike.
CONTRACT_KEYS = {"study_instance_uid": "study_uid", "series_instance_uid": "series_uid",
                 "accession_number": "accession"}


def contract_keys(document: Any) -> Any:
    """*document* with the code's keys renamed to the command line's contract."""
    if isinstance(document, dict):
        return {CONTRACT_KEYS.get(k, k): contract_keys(v) for k, v in document.items()}
    if isinstance(document, list):
        return [contract_keys(v) for v in document]
    return document


def table(rows: list[dict], columns: list[tuple[str, str, int]]) -> str:
    def cell(value, width):
        if isinstance(value, list):
            value = ",".join(value)
        text = "" if value is None else str(value)
        return text[:width].ljust(width)

    lines = ["  ".join(cell(title, w) for title, _, w in columns)]
    for row in contract_keys(rows):
        lines.append("  ".join(cell(row.get(key), w) for _, key, w in columns))
    return "\n".join(line.rstrip() for line in lines)


def add_qbe(p: argparse.ArgumentParser) -> None:
    """The query-by-example flags, the same for the cache (`studies`) and a node (`query`)."""
    text = "; * and ? are wildcards, case-insensitive"
    p.add_argument("--patient-id", help="Patient ID" + text)
    p.add_argument("--patient-name", help="Patient's Name, any of its components" + text)
    p.add_argument("--accession", help="Accession Number" + text)
    p.add_argument("--modality", help="a modality in the study, e.g. CT")
    p.add_argument("--description", help="Study Description" + text)
    p.add_argument("--date-from", metavar="YYYYMMDD", help="studies on or after this date")
    p.add_argument("--date-to", metavar="YYYYMMDD", help="studies on or before this date")
    p.add_argument("--assigned-to", metavar="USER", help="studies assigned to this reading physician")


def qbe_query(args) -> "Any":
    """The worklist Query of the `add_qbe` flags."""
    from app.worklist.query import Query

    return Query(patient_id=args.patient_id or "", patient_name=args.patient_name or "",
                 accession=args.accession or "", modality=args.modality or "",
                 description=args.description or "", date_from=args.date_from or "",
                 date_to=args.date_to or "", assigned_to=args.assigned_to or "",
                 shared_with=getattr(args, "shared_with", None) or "")
