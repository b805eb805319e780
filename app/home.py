"""The data folder: where its SQLite cache, image store, trash and settings
are, and the settings themselves.

Resolution (CLI.md): ``--home DIR``, else ``$STUDYDESK_HOME``, else the
platform's user data folder. Opening a home (creating, migrating, recovering
after a kill) is app/startup.py's; a :class:`Home` is only paths and settings,
so every module may import it without importing the whole application.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

from app import db
from app.errors import BadInput, NotFound

# Settings a new home starts with. `config set` accepts these keys (and dotted
# keys below a known table such as ``ai.nodes``), so that a typo is an error.
DEFAULT_SETTINGS: dict[str, Any] = {
    "aet": "STUDYDESK",
    "port": 11112,
    "iocm": False,
    "import_mode": "copy",
    "theme": "dark",
    # the storage listener (app/net/listener.py): refuse a called AE title
    # that is not ``aet``; at most this many connections at once; a caller
    # has this many seconds to send its whole association request (ARTIM)
    "listener": {"check_called_aet": True, "max_connections": 32, "artim_timeout": 15},
    # ZIP import (app/importing/zips.py, ZipLimits): bytes one member may hold,
    # the uncompressed:compressed ratio of a bomb (checked past zip_ratio_after
    # bytes), archives inside archives at most this deep; sizes take KiB/MiB/GiB
    "import": {"zip_member_limit": 4 << 30, "zip_ratio_limit": 100, "zip_ratio_after": 32 << 20,
               "zip_nesting": 3},
}


def default_home() -> Path:
    env = os.environ.get("STUDYDESK_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("StudyDesk", appauthor=False))


def os_login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers without passwd entry)
        return "studydesk"


@dataclass(frozen=True)
class Home:
    root: Path

    @property
    def db_path(self) -> Path:
        return self.root / "cache.sqlite"

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def trash(self) -> Path:
        return self.root / "trash"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def settings_path(self) -> Path:
        return self.root / "settings.toml"

    def connect(self):
        """A new sqlite-utils Database on this home's cache (one per job/thread)."""
        return db.connect(self.db_path)

    # -- settings ----------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        try:
            with open(self.settings_path, "rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            data = {}
        except tomllib.TOMLDecodeError as e:
            raise BadInput(f"settings {self.settings_path}: not valid TOML ({e})") from e
        merged = {k: dict(v) if isinstance(v, dict) else v for k, v in DEFAULT_SETTINGS.items()}
        for key, value in data.items():  # a table's own keys override its defaults one by one
            merged[key] = {**merged[key], **value} if isinstance(value, dict) and isinstance(
                merged.get(key), dict) else value
        return merged

    def save_settings(self, data: dict[str, Any]) -> None:
        tmp = self.settings_path.with_suffix(".toml.tmp")
        with open(tmp, "wb") as f:
            tomli_w.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.settings_path)

    def get_setting(self, key: str) -> Any:
        node: Any = self.settings()
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise NotFound(f"setting {key}: not set")
            node = node[part]
        return node

    def set_setting(self, key: str, value: str) -> Any:
        """Set *key* from its text form (ints, true/false, else text)."""
        top = key.split(".")[0]
        if top not in DEFAULT_SETTINGS and "." not in key:
            known = ", ".join(sorted(DEFAULT_SETTINGS))
            raise BadInput(f"setting {key}: unknown key (known: {known}, or TABLE.KEY)")
        if isinstance(DEFAULT_SETTINGS.get(key), dict):
            raise BadInput(f"setting {key}: a table; set one of its keys ({key}.KEY)")
        parsed = parse_setting_value(key, value)
        data = self.settings()
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise BadInput(f"setting {key}: {part} is not a table")
        node[parts[-1]] = parsed
        self.save_settings(data)
        return parsed


_LISTENER_LIMITS = {"listener.max_connections": (1, 1000), "listener.artim_timeout": (1, 600)}


def parse_setting_value(key: str, value: str) -> Any:
    text = value.strip()
    if key == "port" and not (text.isdigit() and 0 < int(text) < 65536):
        raise BadInput(f"setting port: {text!r} is not a TCP port (1-65535)")
    if key == "aet" and (not 0 < len(text) <= 16 or "\\" in text):
        raise BadInput(f"setting aet: {text!r} is not an AE title (1-16 characters, no backslash)")
    if key in _LISTENER_LIMITS:
        low, high = _LISTENER_LIMITS[key]
        if not (text.isdigit() and low <= int(text) <= high):
            raise BadInput(f"setting {key}: {text!r} is not a whole number from {low} to {high}")
    if key == "listener.check_called_aet" and text.lower() not in ("true", "yes", "on", "false", "no", "off"):
        raise BadInput(f"setting {key}: {text!r} is not true or false")
    if text.lower() in ("true", "yes", "on"):
        return True
    if text.lower() in ("false", "no", "off"):
        return False
    if text.lstrip("-").isdigit():
        return int(text)
    return text


def shown_path(path) -> str:
    """*path* as messages and the window show it: under the user's home
    folder as ``~/...`` (what the user would type; expanded when read back)."""
    text, user_home = str(path), str(Path.home())
    if user_home not in ("", os.sep) and (text == user_home or text.startswith(user_home + os.sep)):
        return "~" + text[len(user_home):]
    return text
