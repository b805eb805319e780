"""Opening a home: the one place that sets the application up.

:func:`open_home` creates what is missing, migrates the cache, anchors the
audit trail, makes the first administrator, and recovers from a process that
was killed (app/recovery.py): its partial outputs and private temporaries go,
its pending change is rolled back (app/changes/journal.py), and the store
files that no row names are swept. Every face (command line, window, tests)
opens a home through here; the modules it calls import
:class:`~app.home.Home` (paths and settings) and never this module, so the
application has no import cycle through its home.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

from app import db, recovery, store
from app.accounts import accounts, audit, audit_anchor
from app.changes import journal
from app.errors import BadInput
from app.home import DEFAULT_SETTINGS, Home, default_home, os_login

log = logging.getLogger("studydesk.startup")


def open_home(path: Optional[os.PathLike | str] = None) -> Home:
    """Open (creating and migrating when needed) the home at *path*."""
    root = Path(path).expanduser() if path else default_home()
    if root.exists() and not root.is_dir():
        raise BadInput(f"home {root}: exists and is not a folder")
    home = Home(root.resolve())
    _initialise(home)
    return home


def _initialise(home: Home) -> None:
    for folder in (home.root, home.store, home.trash, home.tmp):
        folder.mkdir(parents=True, exist_ok=True)
    if not home.settings_path.exists():
        home.save_settings(dict(DEFAULT_SETTINGS))
    recovery.register_session(home.root)
    recovery.collect_dead_sessions(home.root)
    store.sweep_temporaries(home)
    conn = db.connect(home.db_path)
    try:
        db.migrate(conn)
        audit.anchor(conn)  # a new home, or one made before the audit key
        accounts.ensure_first_admin(conn, os_login())
        rolled_back = journal.recover(home, conn)
        if rolled_back:  # a process was killed in the middle of a change
            log.warning("home %s: rolled back change(s) %s that a killed process left pending",
                        home.root, ", ".join(map(str, rolled_back)))
        recovery.sweep_store(home.root, [home.store, home.trash], conn)
        audit_anchor.sync_head_file(conn)  # catch up after a crash between a commit and the file
    finally:
        conn.close()
