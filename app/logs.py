"""The log file: what this workstation did, for its user and for support.

One file, ``studydesk.log``, in the platform's log folder
(``platformdirs.user_log_dir("StudyDesk")``; ``$STUDYDESK_LOG_DIR`` puts it
elsewhere), rotated past 5 MiB with five older files kept
(``$STUDYDESK_LOG_MAX_BYTES`` sets another size: tests use a tiny one). The
command line and the window both call :func:`setup` before they open a home,
so the recovery that opening a home may run is in it too.

What goes in is what the code says on the ``studydesk`` loggers (network
associations on ``studydesk.net``, refusals, recoveries, each command with
its exit code) and on the window's ``ui`` loggers (jobs: ``ui.jobs``), at
INFO and above. Several processes may write the one file (a listener, the
window, a script): each line carries its process id.

The terminal: without ``--verbose`` only warnings reach stderr, as Python
prints them when nothing is set up (stderr carries the command line's
refusals, one line each, and nothing may double them); ``--verbose`` adds the
INFO lines. A log folder that cannot be written never stops the program: the
file is left out and stderr says so once.
"""

from __future__ import annotations

import logging
import os
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Optional

FILE_NAME = "studydesk.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 5
# The loggers whose lines are ours: the core's and the window's.
LOGGERS = ("studydesk", "ui")
FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
# ``log.error(..., extra=FILE_ONLY)``: for the file only (a traceback Python
# prints on stderr anyway).
FILE_ONLY = {"file_only": True}


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is logged (a test or
    a caller may have replaced it since setup), like Python's last resort."""

    def filter(self, record: logging.LogRecord):
        return not getattr(record, "file_only", False) and super().filter(record)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def log_dir() -> Path:
    """Where the log file lives: ``$STUDYDESK_LOG_DIR``, else the platform's folder."""
    env = os.environ.get("STUDYDESK_LOG_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_log_dir("StudyDesk", appauthor=False))


def log_path() -> Path:
    return log_dir() / FILE_NAME


def _max_bytes() -> int:
    try:
        return max(1, int(os.environ.get("STUDYDESK_LOG_MAX_BYTES", MAX_BYTES)))
    except ValueError:
        return MAX_BYTES


def _ours(handler: logging.Handler) -> bool:
    return getattr(handler, "_studydesk", False)


def teardown() -> None:
    """Remove (and close) the handlers :func:`setup` added."""
    ours: list[logging.Handler] = []
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if _ours(h)]:
            logger.removeHandler(handler)
            if handler not in ours:
                ours.append(handler)
    for handler in ours:
        handler.close()


def setup(verbose: bool = False) -> Optional[Path]:
    """Send our loggers to the log file and stderr; returns the file's path
    (None when its folder cannot be written). Calling it again replaces what
    an earlier call set up (the window started by the `gui` command)."""
    teardown()
    handlers: list[logging.Handler] = []  # the file first: a line on stderr is already in it
    path: Optional[Path] = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file = RotatingFileHandler(path, maxBytes=_max_bytes(), backupCount=BACKUPS, encoding="utf-8")
    except OSError as e:
        print(f"studydesk: no log file ({e})", file=sys.stderr)
        path = None
    else:
        file.setLevel(logging.INFO)
        file.setFormatter(logging.Formatter(FORMAT))
        handlers.append(file)
    terminal = _Stderr()
    terminal.setLevel(logging.INFO if verbose else logging.WARNING)
    terminal.setFormatter(logging.Formatter("%(message)s"))
    handlers.append(terminal)
    for handler in handlers:
        handler._studydesk = True  # type: ignore[attr-defined]
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        for handler in handlers:
            logger.addHandler(handler)
    return path
