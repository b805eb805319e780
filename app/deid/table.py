"""PS3.15 Table E.1-1 as data, and a Profile: the table with options applied.

The table lives in ``resources/deid/table_e1_1.csv`` (one row per row of the
standard's table, the edition named in its first line); the options, their
CID 7050 codes and one-line explanations in ``resources/deid/options.json``.
A :class:`Profile` resolves every row to one action code for the options
chosen: "A requirement for an Option, when implemented, overrides any
requirement for the underlying Profile" (PS3.15 E.1.1); where two chosen
options both name a row, keeping wins over cleaning.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Optional

from app.errors import BadInput
from app.resources import resource

ACTION_CODES = ("D", "Z", "X", "K", "C", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*")
PRIVATE = "private"
CURVE = "curve"        # (50xx,xxxx)
OVERLAY_DATA = "overlay-data"          # (60xx,3000)
OVERLAY_COMMENTS = "overlay-comments"  # (60xx,4000)


@dataclass(frozen=True)
class Row:
    tag: str            # as printed in the standard: "(0010,0010)", "(50xx,xxxx)"
    keyword: str
    name: str
    basic: str
    options: dict       # column -> action code (only the columns that name an action)

    @property
    def key(self):
        """An int tag, or one of PRIVATE, CURVE, OVERLAY_DATA, OVERLAY_COMMENTS."""
        return row_key(self.tag)


@dataclass(frozen=True)
class Option:
    name: str
    column: str
    code: str
    meaning: str
    explain: str


def row_key(tag: str):
    body = tag.strip("()").replace(",", "").lower()
    if body.startswith("gggg"):
        return PRIVATE
    if body.startswith("50xx"):
        return CURVE
    if body == "60xx3000":
        return OVERLAY_DATA
    if body == "60xx4000":
        return OVERLAY_COMMENTS
    return int(body, 16)


@lru_cache(maxsize=None)
def table() -> tuple[tuple[Row, ...], str]:
    """Every row of Table E.1-1 and the edition it comes from."""
    path = resource("deid", "table_e1_1.csv")
    with open(path, encoding="utf-8", newline="") as f:
        first = f.readline()
        edition = first.split("edition", 1)[1].split(":", 1)[0].strip() if "edition" in first else ""
        reader = csv.DictReader(f)
        columns = [c for c in reader.fieldnames or [] if c not in ("tag", "keyword", "name", "basic")]
        rows = []
        for record in reader:
            for code in [record["basic"]] + [record[c] for c in columns]:
                if code and code not in ACTION_CODES:
                    raise ValueError(f"{path}: {record['tag']}: unknown action code {code!r}")
            rows.append(Row(record["tag"], record["keyword"], record["name"], record["basic"],
                            {c: record[c] for c in columns if record[c]}))
    return tuple(rows), edition


@lru_cache(maxsize=None)
def _options_document() -> dict:
    return json.loads(resource("deid", "options.json").read_text(encoding="utf-8"))


def all_options() -> tuple[Option, ...]:
    """The options in the order the window lists them."""
    return tuple(Option(o["name"], o["column"], o["code"], o["meaning"], o["explain"])
                 for o in _options_document()["options"])


def profile_info() -> dict:
    return dict(_options_document()["profile"])


class Profile:
    """The Basic Profile plus the named options (CLI.md spellings)."""

    def __init__(self, options: Iterable[str] = ()):
        known = {o.name: o for o in all_options()}
        chosen: list[Option] = []
        for name in options:
            if name not in known:
                raise BadInput(f"option {name!r}: unknown (options: {', '.join(known)})")
            if known[name] not in chosen:
                chosen.append(known[name])
        names = {o.name for o in chosen}
        for group in _options_document().get("exclusive", []):
            both = [n for n in group if n in names]
            if len(both) > 1:
                raise BadInput(f"options {' and '.join(both)}: choose one of them")
        self.options: tuple[Option, ...] = tuple(o for o in all_options() if o in chosen)
        rows, self.edition = table()
        columns = {o.column for o in self.options}
        self.actions: dict = {}
        self.rows: dict = {}
        for row in rows:
            self.actions[row.key] = self._resolve(row, columns)
            self.rows[row.key] = row

    @staticmethod
    def _resolve(row: Row, columns: set[str]) -> str:
        chosen = [row.options[c] for c in columns if c in row.options]
        if "K" in chosen:
            return "K"
        if chosen:
            return chosen[0]
        return row.basic

    @property
    def names(self) -> list[str]:
        return [o.name for o in self.options]

    def has(self, name: str) -> bool:
        return any(o.name == name for o in self.options)

    def action(self, key) -> Optional[str]:
        """The action for an int tag (or a special key), None when not in the table."""
        return self.actions.get(key)

    @property
    def dates(self) -> str:
        """What happens to dates: 'kept', 'shifted' or 'removed'."""
        if self.has("retain-long-full-dates"):
            return "kept"
        if self.has("retain-long-modified-dates"):
            return "shifted"
        return "removed"

    def codes(self) -> list[tuple[str, str]]:
        """(code value, code meaning) of the profile and each option, CID 7050."""
        info = profile_info()
        return [(info["code"], info["meaning"])] + [(o.code, o.meaning) for o in self.options]

    def description(self) -> str:
        info = profile_info()
        text = f"DICOM PS3.15 {info['name']} (Table E.1-1, {self.edition})"
        if self.options:
            text += "; options: " + ", ".join(o.name for o in self.options)
        return text

    def __repr__(self) -> str:
        return f"Profile({self.names!r})"
