"""The home folder: resolution, settings in TOML, migrations, leftovers."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from app import db as cache
from app.db.schema import MIGRATIONS
from app.errors import BadInput, NotFound
from app.home import default_home
from app.startup import open_home


def test_env_var_names_the_default_home(monkeypatch, tmp_path):
    monkeypatch.setenv("STUDYDESK_HOME", str(tmp_path / "h"))
    assert default_home() == tmp_path / "h"
    home = open_home()
    assert home.root == (tmp_path / "h").resolve() and home.db_path.exists()


def test_reopening_is_idempotent_and_migrated(tmp_path):
    first = open_home(tmp_path / "h")
    second = open_home(tmp_path / "h")
    conn = second.connect()
    assert cache.schema_version(conn) == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 1
    conn.close()
    assert first.root == second.root


def test_settings_round_trip_through_toml(home):
    assert home.get_setting("aet") == "STUDYDESK"
    home.set_setting("aet", "READING1")
    home.set_setting("port", "11113")
    home.set_setting("iocm", "true")
    assert "aet = \"READING1\"" in home.settings_path.read_text()
    reopened = open_home(home.root)
    assert (reopened.get_setting("aet"), reopened.get_setting("port"), reopened.get_setting("iocm")) \
        == ("READING1", 11113, True)


@pytest.mark.parametrize("key, value, message", [
    ("colour", "blue", "unknown key"),
    ("port", "70000", "not a TCP port"),
    ("aet", "THIS_IS_FAR_TOO_LONG", "not an AE title"),
])
def test_bad_settings_are_refused(home, key, value, message):
    with pytest.raises(BadInput, match=message):
        home.set_setting(key, value)


def test_unknown_setting_is_not_found(home):
    with pytest.raises(NotFound):
        home.get_setting("nothing.here")


def test_a_file_where_the_home_should_be(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(BadInput, match="not a folder"):
        open_home(tmp_path / "f")


def test_leftovers_of_a_dead_process_are_swept(home):
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = home.tmp / f"p{proc.stdout.strip()}"
    dead.mkdir()
    (dead / "x.tmp").write_bytes(b"half")
    open_home(home.root)
    assert not dead.exists()


def test_a_failed_migration_leaves_the_old_version(tmp_path, monkeypatch):
    home = open_home(tmp_path / "h")
    conn = home.connect()
    broken = MIGRATIONS + [["CREATE TABLE extra (x)", "THIS IS NOT SQL"]]
    monkeypatch.setattr(cache, "MIGRATIONS", broken)
    with pytest.raises(Exception):
        cache.migrate(conn)
    assert cache.schema_version(conn) == len(MIGRATIONS)
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'extra'").fetchone()
    conn.close()


# -- what a killed process leaves: store files without rows, partial outputs ---------


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def _reopen(home) -> str:
    """Open the home in a new process, as the next run would (this test's
    process first lets go of it); its log on stderr."""
    from app import recovery

    recovery.end_session(home.root)
    script = ("import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stderr); "
              f"from app.startup import open_home; open_home({str(home.root)!r})")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True).stderr


def _rows_and_files(home):
    from app import store

    conn = home.connect()
    try:
        rows = {p for (p,) in conn.execute("SELECT path FROM instances")}
    finally:
        conn.close()
    files = {p.relative_to(home.root).as_posix() for p in home.store.rglob("*") if p.is_file()}
    assert all(store.absolute(home, p).is_file() for p in rows), "a row without its file"
    return rows, files


def test_store_files_that_a_killed_process_left_are_swept(home, tmp_path):
    from app import recovery
    from app.home import os_login
    from app.importing.importer import import_paths
    from tests.factories import write_series

    import_paths(home, [write_series(tmp_path / "src", 3)[0].parent], os_login())
    orphan = home.store / "1.2.3" / "4.5.6" / "7.8.9.dcm"    # renamed in, never committed
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"DICM")
    (home.root / recovery.RUN / str(_dead_pid())).write_text("0")
    log = _reopen(home)
    rows, files = _rows_and_files(home)
    assert files == rows and len(rows) == 3
    assert not orphan.parent.exists()
    assert "removed 1 files of the store and trash that no row names" in log and "7.8.9.dcm" in log


def test_a_clean_exit_leaves_nothing_to_sweep(home):
    from app import recovery

    orphan = home.store / "1.2.3" / "x.dcm"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"DICM")
    _reopen(home)
    _reopen(home)
    assert orphan.exists()   # no process died: no sweep (a walk of the store costs)
    assert list((home.root / recovery.RUN).iterdir()) == []


def test_files_newer_than_a_live_process_stay_until_it_is_gone(home):
    from app import recovery

    old = home.store / "1.2.3" / "old.dcm"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"DICM")
    time.sleep(0.02)   # ctime granularity: the live process starts after the old file
    other = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    try:
        (home.root / recovery.RUN / str(other.pid)).write_text(str(time.time_ns()))
        time.sleep(0.02)
        new = home.store / "1.2.3" / "new.dcm"    # the live process may be recording it
        new.write_bytes(b"DICM")
        (home.root / recovery.RUN / str(_dead_pid())).write_text("0")
        _reopen(home)
        assert not old.exists() and new.exists()
    finally:
        other.communicate(b"")
    _reopen(home)    # the sweep still due runs now that it is alone
    assert not new.exists() and not (home.root / recovery.RUN / recovery.PENDING).exists()


def test_a_partial_output_of_a_killed_process_is_removed(home, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    script = (f"import os; from app import recovery; from app.startup import open_home; "
              f"open_home({str(home.root)!r}); p = {str(out / '.a.zip.1234.partial')!r}; "
              f"recovery.register_partial(p); open(p, 'wb').write(b'PK'); "
              f"recovery.register_partial({str(out / '.b.zip.99.partial')!r}); os._exit(9)")
    subprocess.run([sys.executable, "-c", script])
    (out / "keep.zip").write_bytes(b"PK")
    assert (out / ".a.zip.1234.partial").exists()
    assert "removed the partial output" in _reopen(home)
    assert sorted(p.name for p in out.iterdir()) == ["keep.zip"]
