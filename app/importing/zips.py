"""ZIP member limits and bounded extraction: :class:`ZipLimits` (settings
``import.*``) and the chunked copy of one member that is refused as soon as
it passes the size limit or its compression ratio (or its archive's) is a
bomb's."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from app.jobs import CancelToken


@dataclass
class ZipLimits:
    """How much an archive member may inflate. ``member_limit``: bytes one
    member may hold once extracted; ``ratio``: uncompressed to compressed
    size beyond which a member is a bomb, checked once ``ratio_after``
    bytes are out (small members of zeros compress that well legitimately);
    ``nesting``: archives inside archives, at most this deep."""

    member_limit: int = 4 << 30
    ratio: int = 100
    ratio_after: int = 32 << 20
    nesting: int = 3

    SETTINGS = {"member_limit": "import.zip_member_limit", "ratio": "import.zip_ratio_limit",
                "ratio_after": "import.zip_ratio_after", "nesting": "import.zip_nesting"}

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> "ZipLimits":
        table = settings.get("import")
        table = table if isinstance(table, dict) else {}
        limits = cls()
        for attr, key in cls.SETTINGS.items():
            name = key.split(".", 1)[1]
            if name in table:
                setattr(limits, attr, _size_setting(key, table[name]))
        return limits


_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)


def _size_setting(key: str, value: Any) -> int:
    """A whole number of bytes, or with a unit (``512M``, ``4GiB``)."""
    from app.errors import BadInput

    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.match(str(value))
    if not match or int(match.group(1)) <= 0:
        raise BadInput(f"setting {key}: {value!r} is not a positive size (e.g. 4294967296 or 4GiB)")
    return int(match.group(1)) << (10 * " KMGT".index((match.group(2) or " ").upper()))


def _bytes(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.3g} {unit}"
    return f"{n} bytes"


class _TooBig(Exception):
    """An archive member refused while it was being extracted."""


@dataclass
class _Budget:
    """What one archive the user named (with the archives inside it) has
    put out so far, against its own size on disk: many members, each
    under the limits, may not add up to a bomb either."""

    archive_size: int
    written: int = 0

    def refusal(self, more: int, limits: ZipLimits) -> Optional[str]:
        total = self.written + more
        if total > limits.ratio_after and total / max(1, self.archive_size) > limits.ratio:
            return (f"refused as a ZIP bomb: the archive's members come to more than "
                    f"{_bytes(total)} from {_bytes(self.archive_size)}, a ratio over "
                    f"{limits.ratio}:1 (setting import.zip_ratio_limit)")
        return None


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, limits: ZipLimits,
             archive_size: int, budget: _Budget, cancel: CancelToken) -> None:
    """Copy one member to *target* in chunks, counting what really comes
    out (the sizes in the archive's headers are claims, not facts)."""
    compressed = max(1, min(info.compress_size, archive_size))
    declared = _size_refusal(info.file_size, compressed, limits, "declares")
    if declared:
        raise _TooBig(declared)
    written = 0
    with zf.open(info) as src, open(target, "wb") as dst:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            written += len(chunk)
            refusal = (_size_refusal(written, compressed, limits, "inflates to more than")
                       or budget.refusal(written, limits))
            if refusal:
                raise _TooBig(refusal)
            dst.write(chunk)
            cancel.check()
    budget.written += written


def _size_refusal(size: int, compressed: int, limits: ZipLimits, verb: str) -> Optional[str]:
    if size > limits.member_limit:
        return (f"refused: it {verb} {_bytes(size)}, over the limit of "
                f"{_bytes(limits.member_limit)} for one member (setting import.zip_member_limit)")
    if size > limits.ratio_after and size / compressed > limits.ratio:
        return (f"refused as a ZIP bomb: it {verb} {_bytes(size)} from {_bytes(compressed)} "
                f"compressed, a ratio over {limits.ratio}:1 (setting import.zip_ratio_limit)")
    return None
