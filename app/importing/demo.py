"""`studydesk demo`: generate the demo set (app.demo) and import it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Optional

from app import store
from app.accounts.accounts import User
from app.home import Home
from app.importing.importer import ImportResult, import_paths
from app.jobs import CancelToken, Progress, no_progress


def import_demo(home: Home, user: User | str, patients: int = 6,
                progress: Optional[Progress] = None,
                cancel: Optional[CancelToken] = None) -> ImportResult:
    """A job: generate the demo files in the home's scratch area, then import
    them (copy) so the home owns them."""
    from app.demo import generate_demo

    progress = progress or no_progress
    cancel = cancel or CancelToken()
    folder = Path(tempfile.mkdtemp(prefix="demo-", dir=store.scratch(home)))
    try:
        generate_demo(folder, patients=patients,
                      progress=lambda f, m="": progress(None if f is None else f * 0.5, m),
                      cancel=cancel)
        return import_paths(home, [folder], user, mode="copy",
                            progress=lambda f, m="": progress(None if f is None else 0.5 + f * 0.5, m),
                            cancel=cancel)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
