"""The home folder: resolution, settings in TOML, migrations, leftovers."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app import db as cache
from app.db.schema import MIGRATIONS
from app.errors import BadInput, NotFound
from app.home import Home, default_home


def test_env_var_names_the_default_home(monkeypatch, tmp_path):
    monkeypatch.setenv("STUDYDESK_HOME", str(tmp_path / "h"))
    assert default_home() == tmp_path / "h"
    home = Home.open()
    assert home.root == (tmp_path / "h").resolve() and home.db_path.exists()


def test_reopening_is_idempotent_and_migrated(tmp_path):
    first = Home.open(tmp_path / "h")
    second = Home.open(tmp_path / "h")
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
    reopened = Home.open(home.root)
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
        Home.open(tmp_path / "f")


def test_leftovers_of_a_dead_process_are_swept(home):
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = home.tmp / f"p{proc.stdout.strip()}"
    dead.mkdir()
    (dead / "x.tmp").write_bytes(b"half")
    Home.open(home.root)
    assert not dead.exists()


def test_a_failed_migration_leaves_the_old_version(tmp_path, monkeypatch):
    home = Home.open(tmp_path / "h")
    conn = home.connect()
    broken = MIGRATIONS + [["CREATE TABLE extra (x)", "THIS IS NOT SQL"]]
    monkeypatch.setattr(cache, "MIGRATIONS", broken)
    with pytest.raises(Exception):
        cache.migrate(conn)
    assert cache.schema_version(conn) == len(MIGRATIONS)
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'extra'").fetchone()
    conn.close()
