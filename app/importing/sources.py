"""Listing what an import reads: folders (recursive), ZIP archives (members
extracted under names of our own into a private folder) and DICOMDIR media
(followed by their directory records).

Nothing outside what the user named is read: a DICOMDIR record whose
ReferencedFileID is absolute, climbs with ``..`` or resolves (through a
symbolic link) outside the medium is refused with the record named; a
symbolic link inside an imported folder that leads outside it, loops or
leads nowhere is not followed and is listed with the reason. An archive
member is extracted in chunks and refused as soon as it passes the size
limit or its compression ratio is a bomb's (settings ``import.*``, see
:class:`app.importing.zips.ZipLimits`); the partial copy is removed.
"""

from __future__ import annotations

import errno
import os
import re
import uuid
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator, Optional

from app.importing.zips import ZipLimits, _Budget, _extract, _TooBig
from app.jobs import CancelToken

IGNORED_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}
MEDIA_CONTENT = {"readme.txt", "index.htm", "index.html", "autorun.inf", "manifest.sha256",
                 "manifest.txt"}
WEB_FOLDERS = {"ihe_pdi"}  # an IHE PDI disc's web pages and JPEG previews
DIRECTORY_SOP_CLASS = "1.2.840.10008.1.3.10"


def shown(path: os.PathLike | str) -> str:
    """A path as text that can be printed and stored as UTF-8: a name that
    is not valid UTF-8 keeps its odd bytes as ``\\xNN`` (the file itself is
    reached through the Path, never through this text)."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        return text.decode("utf-8", "backslashreplace")
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")


def _inside(target: str, boundary: str) -> bool:
    return target == boundary or target.startswith(boundary.rstrip(os.sep) + os.sep)


def link_refusal(link: Path, boundary: str) -> Optional[str]:
    """Why the symbolic link *link* is not followed ('' / None when it may
    be): it loops, leads nowhere, or leads outside *boundary* (a real path)."""
    try:
        target = os.path.realpath(link, strict=True)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "symbolic link loop: not followed"
        return f"symbolic link to {shown(os.readlink(link)) if link.is_symlink() else '?'}, " \
               "which does not exist: not followed"
    except RuntimeError:  # a loop on some platforms
        return "symbolic link loop: not followed"
    if not _inside(target, boundary):
        return (f"symbolic link to {shown(target)}, outside the imported folder "
                f"{shown(boundary)}: not followed")
    return None


@dataclass
class Source:
    """One file to import. ``owned`` files live in the home's temporary area
    (extracted from an archive) and are moved, not copied, into the store."""

    display: str
    path: Path
    owned: bool = False


def _ignored(name: str) -> bool:
    return name.startswith(".") or name.lower() in IGNORED_NAMES


def _find_dicomdir(folder: Path) -> Optional[Path]:
    for name in ("DICOMDIR", "dicomdir", "DicomDir"):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _resolve_case_insensitive(root: Path, parts: list[str]) -> Optional[Path]:
    """Media written on one system and read on another change case (discs
    mounted with lower-case names): find each component whatever its case."""
    current = root
    for part in parts:
        exact = current / part
        if exact.exists():
            current = exact
            continue
        try:
            matches = [p for p in current.iterdir() if p.name.lower() == part.lower()]
        except OSError:
            return None
        if not matches:
            return None
        current = matches[0]
    return current


def _file_id_refusal(parts: list[str]) -> tuple[Optional[str], list[str]]:
    """Why a ReferencedFileID may not be followed (None when it may), and
    its components. Its components name a file below the DICOMDIR's folder
    (PS3.10 8.2): never an absolute path, a drive, or a climb with '..'."""
    first = parts[0] if parts else ""
    if first[:1] in ("/", "\\") or re.match(r"^[A-Za-z]:", first):
        return "is an absolute path: refused, a record names a file on the medium", []
    components = [c for p in parts for c in re.split(r"[/\\]", p) if c not in ("", ".")]
    if ".." in components:
        return "points outside the medium ('..'): refused", []
    if not components:
        return "is empty: refused", []
    return None, components


def _media_sources(dicomdir: Path, result) -> Iterator[Source]:
    """Follow the directory records of a DICOMDIR; report those whose file
    is missing and refuse those that lead outside the medium."""
    import pydicom

    root = dicomdir.parent
    boundary = os.path.realpath(root)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(dicomdir, force=True)
        records = ds.DirectoryRecordSequence
    except Exception as e:
        result.reject(shown(dicomdir), f"unreadable DICOMDIR ({type(e).__name__}: {e}); "
                      "import its folder without it by removing the DICOMDIR")
        return
    listed: set[str] = set()
    for index, record in enumerate(records, start=1):
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else [str(p) for p in file_id]
        kind = record.get("DirectoryRecordType", "?")
        label = f"DICOMDIR record {index} ({kind}) ReferencedFileID '{chr(92).join(parts)}'"
        refusal, components = _file_id_refusal(parts)
        if refusal:
            result.reject(shown(dicomdir), f"{label} {refusal}")
            continue
        path = _resolve_case_insensitive(root, components)
        shown_path = shown(root / Path(*components))
        if path is not None and not _inside(os.path.realpath(path), boundary):
            result.reject(shown(dicomdir), f"{label} resolves to {shown(os.path.realpath(path))}, "
                          "outside the medium (a symbolic link): refused")
            continue
        if path is None or not path.is_file():
            result.reject(shown_path, f"missing: the DICOMDIR's {kind} record references this file, "
                          "which is not on the medium")
            continue
        listed.add(_key(root, path))
        yield Source(shown_path, path)
    unlisted = _unlisted(root, listed, boundary, result)
    if unlisted:
        result.reject(shown(dicomdir), f"count check: the DICOMDIR lists {len(listed)} of the "
                      f"{len(listed) + len(unlisted)} DICOM files on the medium; the "
                      f"{len(unlisted)} it does not list were imported as well")
        yield from (Source(shown(path), path) for path in unlisted)


def _key(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix().lower()


def _is_dicom_object(path: Path) -> bool:
    """A DICOM Part 10 file other than a DICOMDIR (read: its first bytes)."""
    from pydicom.filereader import read_file_meta_info

    try:
        with open(path, "rb") as f:
            if f.read(132)[128:] != b"DICM":
                return False
        meta = read_file_meta_info(path)
    except Exception:  # noqa: BLE001 - a Part 10 file with an odd header: the importer judges it
        return True
    return meta.get("MediaStorageSOPClassUID") != DIRECTORY_SOP_CLASS


def _unlisted(root: Path, listed: set[str], boundary: str, result) -> list[Path]:
    """The count check of a medium: DICOM files under *root* that its
    DICOMDIR does not list (folders holding a DICOMDIR of their own are
    other file-sets and are left out; so are the web content and texts).
    Folders reached through symbolic links are not walked; a file that is
    a symbolic link leading off the medium is refused."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not _ignored(d) and d.lower() not in WEB_FOLDERS
                         and _find_dicomdir(here / d) is None)
        for name in sorted(files):
            path = here / name
            if (_ignored(name) or name.lower() in MEDIA_CONTENT or name.upper() == "DICOMDIR"
                    or _key(root, path) in listed):
                continue
            if path.is_symlink():
                refusal = link_refusal(path, boundary)
                if refusal:
                    result.reject(shown(path), refusal)
                    continue
            if path.is_file() and _is_dicom_object(path):
                found.append(path)
    return found


def _zip_sources(archive: Path, display: str, scratch: Path, result, cancel: CancelToken,
                 limits: ZipLimits, depth: int = 1, budget: Optional[_Budget] = None) -> Iterator[Source]:
    """Extract members one by one into a private temporary folder under
    names of our own; a member name is never used as a path."""
    if depth > limits.nesting:
        result.reject(display, f"archive nested more than {limits.nesting} deep: "
                      "not extracted (setting import.zip_nesting)")
        return
    try:
        zf = zipfile.ZipFile(archive)
        archive_size = archive.stat().st_size
        budget = budget or _Budget(archive_size)
    except (zipfile.BadZipFile, OSError) as e:
        result.reject(display, f"unreadable ZIP archive: {e}")
        return
    with zf:
        for info in zf.infolist():
            cancel.check()
            name = info.filename
            shown_name = f"{display}:{name}"
            if info.is_dir():
                continue
            posix = PurePosixPath(name.replace("\\", "/"))
            if posix.is_absolute() or ".." in posix.parts or (len(name) > 1 and name[1] == ":"):
                result.reject(shown_name, "unsafe member name (absolute path or '..'): refused, not extracted")
                continue
            if any(_ignored(p) for p in posix.parts) or posix.name.lower() in MEDIA_CONTENT:
                continue
            target = scratch / f"z{uuid.uuid4().hex}.part"
            try:
                _extract(zf, info, target, limits, archive_size, budget, cancel)
            except _TooBig as e:
                target.unlink(missing_ok=True)
                result.reject(shown_name, str(e))
                continue
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError) as e:
                target.unlink(missing_ok=True)
                result.reject(shown_name, f"unreadable archive member: {e}")
                continue
            except BaseException:
                target.unlink(missing_ok=True)
                raise
            if posix.suffix.lower() == ".zip":
                yield from _zip_sources(target, shown_name, scratch, result, cancel, limits, depth + 1,
                                        budget)
                target.unlink(missing_ok=True)
                continue
            yield Source(shown_name, target, owned=True)


class _Walker:
    """Walks one folder the user named. Symbolic links are followed only to
    what lies inside that folder; a link that loops or leads outside is
    listed with the reason, a folder already walked is not walked again."""

    def __init__(self, top: Path, result):
        self.boundary = os.path.realpath(top)
        self.result = result
        self.walked: set[tuple[int, int]] = set()

    def _first_visit(self, folder: Path) -> bool:
        try:
            st = folder.stat()
        except OSError:
            return True  # iterdir reports it
        key = (st.st_dev, st.st_ino)
        if key in self.walked:
            return False
        self.walked.add(key)
        return True

    def walk(self, folder: Path, ancestors: tuple[str, ...] = ()) -> Iterator[Path | Source]:
        if not self._first_visit(folder):
            return
        dicomdir = _find_dicomdir(folder)
        refusal = link_refusal(dicomdir, self.boundary) if dicomdir and dicomdir.is_symlink() else None
        if refusal:  # its records are not followed; the folder is walked as any other
            self.result.reject(shown(dicomdir), refusal)
        elif dicomdir is not None:
            yield from _media_sources(dicomdir, self.result)
            return
        try:
            entries = sorted(folder.iterdir())
        except OSError as e:
            self.result.reject(shown(folder), f"unreadable folder: {e.strerror or e}")
            return
        here = os.path.realpath(folder)
        # the top of an IHE PDI disc: its web content and texts are not images to refuse
        disc_top = any(e.name.lower() in WEB_FOLDERS and e.is_dir() for e in entries)
        for entry in entries:
            if _ignored(entry.name) or (refusal and entry == dicomdir):
                continue
            if entry.is_symlink():
                refusal = link_refusal(entry, self.boundary)
                if refusal is None and entry.is_dir() and os.path.realpath(entry) in ancestors + (here,):
                    refusal = "symbolic link loop (to a folder that contains it): not followed"
                if refusal:
                    self.result.reject(shown(entry), refusal)
                    continue
            if entry.is_dir():
                if entry.name.lower() in WEB_FOLDERS:
                    continue
                yield from self.walk(entry, ancestors + (here,))
            elif entry.is_file() and not (disc_top and entry.name.lower() in MEDIA_CONTENT):
                yield entry


def list_sources(paths: list[Path], scratch: Path, result, cancel: CancelToken,
                 limits: Optional[ZipLimits] = None) -> list[Source]:
    limits = limits or ZipLimits()
    sources: list[Source] = []

    def add(path: Path) -> None:
        if path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
            sources.extend(_zip_sources(path, shown(path), scratch, result, cancel, limits))
        else:
            sources.append(Source(shown(path), path))

    for path in paths:
        cancel.check()
        if path.is_dir():
            for found in _Walker(path, result).walk(path):
                cancel.check()
                if isinstance(found, Source):
                    sources.append(found)
                else:
                    add(found)
        elif path.name.upper() == "DICOMDIR" and path.is_file():
            sources.extend(_media_sources(path, result))
        elif path.is_file():
            add(path)
        else:
            result.reject(shown(path), "not found")
    return sources
