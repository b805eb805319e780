"""Names on a disc: DICOM file IDs, ISO 9660 names, volume and file-set ids.

DICOM (PS3.10 8.2, PS3.11 D.3.2 for the general-purpose CD profile): a file
ID has at most 8 components, each of 1 to 8 characters from A-Z, 0-9 and _.
ISO 9660 level 1 (ECMA-119 7.5, 7.6): directory names of at most 8 such
characters, file names 8.3, at most 8 directory levels. The names this
package writes satisfy both, so that every reader sees the same names: the
ISO 9660 tree, the Joliet tree and the Rock Ridge tree.
"""

from __future__ import annotations

import re
from typing import Iterable

from app.errors import BadInput

MAX_COMPONENTS = 8
MAX_DEPTH = 8  # ISO 9660 directory levels, the root being the first

_COMPONENT = re.compile(r"^[A-Z0-9_]{1,8}$")
_EXTENSION = re.compile(r"^[A-Z0-9_]{0,3}$")
DEFAULT_LABEL = "STUDYDESK"


def is_component(name: str) -> bool:
    """A DICOM file ID component (also a level-1 directory name)."""
    return bool(_COMPONENT.match(name))


def check_file_id(parts: Iterable[str]) -> tuple[str, ...]:
    """*parts* as a tuple, or BadInput naming the broken rule."""
    parts = tuple(parts)
    if not 1 <= len(parts) <= MAX_COMPONENTS:
        raise BadInput(f"file ID {'/'.join(parts)}: {len(parts)} components (1 to 8 allowed)")
    for part in parts:
        if not is_component(part):
            raise BadInput(f"file ID {'/'.join(parts)}: component {part!r} is not 1-8 of A-Z 0-9 _")
    return parts


def is_iso_level1_file(name: str) -> bool:
    """An 8.3 name (the extension may be missing) of d-characters."""
    stem, dot, ext = name.partition(".")
    return is_component(stem) and bool(_EXTENSION.match(ext)) and "." not in ext


def iso_identifier(name: str, is_dir: bool) -> str:
    """The ECMA-119 identifier recorded for *name*: files take the separator
    and version (``README.TXT;1``, ``DICOMDIR.;1``), directories neither."""
    if is_dir:
        return name
    return (name if "." in name else name + ".") + ";1"


def _d_characters(text: str, limit: int) -> str:
    cleaned = re.sub(r"[^A-Z0-9_]", "_", text.strip().upper())
    return re.sub(r"_+", "_", cleaned).strip("_")[:limit]


VOLUME_ID_LENGTH = 16  # ISO 9660 allows 32, Joliet (what Windows shows) 16: the same name everywhere


def volume_id(label: str, disc: int = 1, discs: int = 1) -> str:
    """The volume identifier: the label in d-characters, at most 16 of them.
    A set of several discs numbers them: ``LABEL_2OF3``."""
    suffix = f"_{disc}OF{discs}" if discs > 1 else ""
    base = _d_characters(label, VOLUME_ID_LENGTH - len(suffix)).rstrip("_") or DEFAULT_LABEL
    return base[:VOLUME_ID_LENGTH - len(suffix)] + suffix


def file_set_id(label: str, disc: int = 1, discs: int = 1) -> str:
    """The DICOMDIR's File-set ID (CS, at most 16 characters): the volume id."""
    return volume_id(label, disc, discs)


def numbered(prefix: str, number: int) -> str:
    """``PAT00001``, ``IM000123``: a component of exactly 8 characters."""
    width = 8 - len(prefix)
    if number >= 10 ** width:
        raise BadInput(f"{prefix}: more than {10 ** width - 1} entries in one folder")
    return f"{prefix}{number:0{width}d}"
