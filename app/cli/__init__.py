"""The `studydesk` command: a thin face over app/ (contract: shared/CLI.md).

This module assembles the parser and runs `main`; the commands live in one module
per area, and what they share (Context, output, exit codes) in context.py."""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from app import __version__, logs
from app.cli import admin, cache, changes, export, measure, media, net, research, view, viewer
from app.cli.context import Context, run_command
from app.errors import StudyDeskError

# Areas that add their own commands: each module has
# ``add_commands(command, common)``, where ``command(name, func, help)``
# returns the subparser and ``func(ctx: Context) -> int`` runs the command.
# Keep those modules light to import: heavy imports go inside the functions.
# Registered in this order, so `--help` lists them so; `gui` comes last.
AREAS = (cache, admin, changes, research, media, net, export, viewer, measure, view)


def cmd_gui(ctx: Optional[Context], args: argparse.Namespace) -> int:
    from ui.app import run  # the one import of ui from app (import-linter exception)

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, help="the data folder")
    common.add_argument("--user", default=argparse.SUPPRESS, help="who acts")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="one JSON document on stdout")
    common.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="also print the log's lines on stderr (the log file: "
                             "$STUDYDESK_LOG_DIR, else the platform's log folder)")

    parser = argparse.ArgumentParser(prog="studydesk", parents=[common],
                                     description="StudyDesk PACS workstation")
    parser.add_argument("--version", action="version", version=f"studydesk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    for area in AREAS:
        area.add_commands(command, common)

    p = command("gui", None, "open the workstation window")
    p.add_argument("--demo", action="store_true", help="open on a fresh demo home")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    import multiprocessing

    multiprocessing.freeze_support()  # import workers in a PyInstaller bundle
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.setup(verbose=getattr(args, "verbose", False))
    try:
        if args.command in (None, "gui"):
            if not hasattr(args, "demo"):
                args.demo = False
            try:
                return cmd_gui(None, args)
            except StudyDeskError as e:
                print(f"studydesk: {e}", file=sys.stderr)
                return e.exit_code
        return run_command(args)
    finally:
        logs.teardown()  # in-process callers (tests) get their logging back as it was
