"""The SHA-256 manifest of a disc, and reading a disc back against it.

``MANIFEST.TXT`` lists every other file on the disc as ``<sha256>  <path>``
(the format of ``sha256sum``, so ``sha256sum -c MANIFEST.TXT`` checks a
mounted disc anywhere). A burnt disc or an ISO image is read back file by
file and every digest compared; files missing, extra or different are named.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

from app.jobs import CancelToken, Progress, no_progress

NAME = "MANIFEST.TXT"
CHUNK = 1 << 20
MAX_PROBLEMS = 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def files_under(root: Path) -> Iterator[str]:
    """Relative paths (with /) of every file below *root*, sorted."""
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        base = Path(folder).relative_to(root)
        for name in sorted(files):
            yield (base / name).as_posix()


def write(root: Path, known: dict[str, str]) -> dict[str, str]:
    """Write the manifest of every file under *root*; *known* digests (from
    the cache) are taken as they are, the others computed. Returns it."""
    entries = {}
    for rel in files_under(root):
        if rel == NAME:
            continue
        entries[rel] = known.get(rel) or sha256_of(root / rel)
    text = "".join(f"{digest}  {rel}\r\n" for rel, digest in sorted(entries.items()))
    (root / NAME).write_text(text, encoding="ascii", newline="")
    return entries


def parse(text: str) -> dict[str, str]:
    entries = {}
    for line in text.splitlines():
        digest, _, rel = line.strip().partition("  ")
        if digest and rel:
            entries[rel.lstrip("*")] = digest
    return entries


@dataclass
class Verification:
    """The outcome of reading a disc back."""

    where: str
    files: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.files > 0

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append("... and more")

    def summary(self) -> str:
        if self.ok:
            return f"verified: {self.files} files, {self.bytes / 1e6:.1f} MB identical to the manifest"
        return f"verification FAILED on {self.where}: " + "; ".join(self.problems[:3])

    def to_json(self) -> dict:
        return {"ok": self.ok, "where": self.where, "files": self.files, "bytes": self.bytes,
                "problems": list(self.problems)}


def _check(result: Verification, expected: dict[str, str], present: set[str],
           open_file: Callable[[str], object], progress: Progress, cancel: CancelToken) -> Verification:
    total = sum(1 for _ in expected) or 1
    for rel in sorted(present - set(expected) - {NAME}):
        result.problem(f"{rel}: on the disc but not in the manifest")
    for done, (rel, digest) in enumerate(sorted(expected.items()), 1):
        cancel.check()
        if rel not in present:
            result.problem(f"{rel}: missing from the disc")
            continue
        hasher = hashlib.sha256()
        with open_file(rel) as f:  # type: ignore[attr-defined]
            while chunk := f.read(CHUNK):
                hasher.update(chunk)
                result.bytes += len(chunk)
        if hasher.hexdigest() != digest:
            result.problem(f"{rel}: content differs from the manifest")
        result.files += 1
        progress(done / total, f"Verifying {done} of {total}")
    return result


def verify_tree(root: Path, expected: dict[str, str], progress: Progress = no_progress,
                cancel: Optional[CancelToken] = None) -> Verification:
    """Read a mounted disc (or any folder) back against *expected*."""
    result = Verification(str(root))
    present = set(files_under(root)) if root.is_dir() else set()
    if not present:
        result.problem(f"{root}: nothing readable there")
        return result
    return _check(result, expected, present, lambda rel: open(root / rel, "rb"), progress,
                  cancel or CancelToken())


def verify_image(image: Path, expected: dict[str, str], progress: Progress = no_progress,
                 cancel: Optional[CancelToken] = None) -> Verification:
    """Read an ISO 9660 image (a file, or a disc's device) back, by its Rock
    Ridge names, against *expected*."""
    import pycdlib
    from pycdlib.pycdlibexception import PyCdlibException

    result = Verification(str(image))
    iso = pycdlib.PyCdlib()
    try:
        iso.open(str(image))
    except (OSError, PyCdlibException) as e:
        result.problem(f"{image}: not a readable ISO 9660 image ({e})")
        return result
    try:
        present = set()
        for folder, _dirs, files in iso.walk(rr_path="/"):
            for name in files:
                present.add(f"{folder.rstrip('/')}/{name}".lstrip("/"))
        return _check(result, expected, present,
                      lambda rel: iso.open_file_from_iso(rr_path="/" + rel), progress,
                      cancel or CancelToken())
    finally:
        iso.close()
