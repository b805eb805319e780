"""Member names inside the ZIP: PATIENT/STUDY/SERIES/FILE, always safe.

Nothing from a header decides where a member goes: every component is made
of letters, digits, '-' and '_' only (no separators, no dots, so no '..'),
is never empty, and is at most 48 characters. With a DICOMDIR the names are
DICOM File IDs instead (PS3.10 8.2: at most 8 characters of A-Z, 0-9, '_').
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
MAX_COMPONENT = 48


def safe_component(text: object, fallback: str) -> str:
    """*text* as one path component that cannot leave its folder."""
    ascii_text = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    cleaned = _UNSAFE.sub("_", ascii_text).strip("_-")
    cleaned = re.sub(r"_+", "_", cleaned)[:MAX_COMPONENT].strip("_-")
    return cleaned or fallback


def check_member(name: str) -> str:
    """Refuse any member name that could be extracted outside the archive."""
    path = PurePosixPath(name)
    if (path.is_absolute() or "\\" in name or ":" in name or not path.parts
            or any(part in ("", ".", "..") for part in path.parts)):
        raise ValueError(f"unsafe member name {name!r}")
    return name


class Namer:
    """Assigns each instance its member name, one folder per patient, study
    and series, in the order they are met; names stay unique."""

    def __init__(self, dicomdir: bool):
        self.dicomdir = dicomdir
        self._patients: dict[str, str] = {}
        self._studies: dict[str, str] = {}
        self._series: dict[str, str] = {}
        self._files: dict[str, int] = {}
        self._used: set[str] = set()

    def _folder(self, table: dict, key: str, parent: str, label: str, prefix: str) -> str:
        if key in table:
            return table[key]
        number = 1 + sum(1 for path in table.values() if _parent(path) == parent)
        if self.dicomdir:
            name = f"{prefix}{number:07d}"
        else:
            base = name = safe_component(label, f"{prefix}{number}")
            twin = 1
            while _join(parent, name) in self._used:
                twin += 1
                name = f"{base[:40]}_{twin}"
        path = _join(parent, name)
        self._used.add(path)
        table[key] = path
        return path

    def name(self, patient_key: str, patient_label: str, study_key: str, study_label: str,
             series_key: str, series_label: str) -> str:
        patient = self._folder(self._patients, patient_key, "", patient_label, "P")
        study = self._folder(self._studies, study_key, patient, study_label, "S")
        series = self._folder(self._series, series_key, study, series_label, "E")
        number = self._files.get(series, 0) + 1
        self._files[series] = number
        leaf = f"I{number:07d}" if self.dicomdir else f"IM{number:05d}.dcm"
        return check_member(f"{series}/{leaf}")


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name
