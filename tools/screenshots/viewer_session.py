"""What every viewer screenshot script starts with: its arguments, the themed
application, and a scratch home (demo patients imported, or nothing) with its
first account and a job runner; the home is removed afterwards.

    with viewer_session("viewer_prior", patients=1) as (session, out_dir, size):
        prior_scene(session.home, session.user, session.runner, out_dir / "x.png", size)
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional


@dataclass
class Session:
    home: Any
    user: Any
    runner: Any


@contextmanager
def viewer_session(script: str, argv: Optional[list[str]] = None,
                   patients: int = 0) -> Iterator[tuple[Session, Path, tuple[int, int]]]:
    parser = argparse.ArgumentParser(prog=f"python -m tools.screenshots.{script}")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args(argv)

    from tools.screenshots.scenes import demo_home
    from ui.jobs import JobRunner

    with demo_home(f"studydesk-{script.replace('_', '-')}-", patients) as (home, user):
        runner = JobRunner()
        args.out_dir.mkdir(parents=True, exist_ok=True)
        yield Session(home, user, runner), args.out_dir, (args.width, args.height)
        runner.shutdown()
