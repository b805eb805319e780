"""Every command, option and argument of `studydesk` says what it is for in
`--help` (issue #16: 27 of 61 options had no help). The test walks the
parser the program builds, so a command added later without help fails here."""

from __future__ import annotations

import argparse

from app.cli import build_parser


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, action) for every action, and (command path, sub-command,
    help) for every sub-command, down the whole tree."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield path, name, helps.get(name)
                yield from _walk(sub, path + (name,))
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            yield path, action, None


def _name(action: argparse.Action) -> str:
    return "/".join(action.option_strings) or action.dest


def test_every_option_and_argument_has_help():
    missing, seen = [], 0
    for path, action, _ in _walk(build_parser()):
        if isinstance(action, str):
            continue
        seen += 1
        text = action.help
        if not text or text == argparse.SUPPRESS or not text.strip():
            missing.append(f"studydesk {' '.join(path)} {_name(action)}".replace("  ", " "))
    assert seen > 300  # every command's own options plus --home, --user, --json, --verbose on each
    assert not missing, "options without help:\n" + "\n".join(missing)


def test_every_command_and_sub_command_has_help():
    missing = [f"studydesk {' '.join(path + (name,))}" for path, name, text in _walk(build_parser())
               if isinstance(name, str) and not (text and text.strip())]
    assert not missing, "commands without help:\n" + "\n".join(missing)


def test_help_of_each_command_renders(capsys):
    """The help strings are format strings to argparse: a stray % breaks the page."""
    parser = build_parser()
    pages = [parser.format_help()]
    for path, name, _ in _walk(parser):
        if isinstance(name, str):
            sub = parser
            for part in path + (name,):
                sub = next(a for a in sub._actions if isinstance(a, argparse._SubParsersAction)).choices[part]
            pages.append(sub.format_help())
    assert all("--verbose" in page for page in pages)
    assert len(pages) > 50
