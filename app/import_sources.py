"""Listing what an import reads: folders (recursive), ZIP archives (members
extracted under names of our own into a private folder) and DICOMDIR media
(followed by their directory records)."""

from __future__ import annotations

import os
import shutil
import uuid
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator, Optional

from app import store
from app.jobs import CancelToken

IGNORED_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}
MEDIA_CONTENT = {"readme.txt", "index.htm", "index.html", "autorun.inf", "manifest.sha256",
                 "manifest.txt"}
WEB_FOLDERS = {"ihe_pdi"}  # an IHE PDI disc's web pages and JPEG previews
DIRECTORY_SOP_CLASS = "1.2.840.10008.1.3.10"


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


def _media_sources(dicomdir: Path, result) -> Iterator[Source]:
    """Follow the directory records of a DICOMDIR; report those whose file is missing."""
    import pydicom

    root = dicomdir.parent
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(dicomdir, force=True)
        records = ds.DirectoryRecordSequence
    except Exception as e:
        result.reject(str(dicomdir), f"unreadable DICOMDIR ({type(e).__name__}: {e}); "
                      "import its folder without it by removing the DICOMDIR")
        return
    listed: set[str] = set()
    for record in records:
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else [str(p) for p in file_id]
        path = _resolve_case_insensitive(root, parts)
        shown = str(root / Path(*parts))
        if path is None or not path.is_file():
            kind = record.get("DirectoryRecordType", "?")
            result.reject(shown, f"missing: the DICOMDIR's {kind} record references this file, "
                          "which is not on the medium")
            continue
        listed.add(_key(root, path))
        yield Source(shown, path)
    unlisted = _unlisted(root, listed)
    if unlisted:
        result.reject(str(dicomdir), f"count check: the DICOMDIR lists {len(listed)} of the "
                      f"{len(listed) + len(unlisted)} DICOM files on the medium; the "
                      f"{len(unlisted)} it does not list were imported as well")
        yield from (Source(str(path), path) for path in unlisted)


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


def _unlisted(root: Path, listed: set[str]) -> list[Path]:
    """The count check of a medium: DICOM files under *root* that its
    DICOMDIR does not list (folders holding a DICOMDIR of their own are
    other file-sets and are left out; so are the web content and texts)."""
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
            if _is_dicom_object(path):
                found.append(path)
    return found


def _zip_sources(archive: Path, display: str, scratch: Path, result,
                 cancel: CancelToken) -> Iterator[Source]:
    """Extract members one by one into a private temporary folder under
    names of our own; a member name is never used as a path."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        result.reject(display, f"unreadable ZIP archive: {e}")
        return
    with zf:
        for info in zf.infolist():
            cancel.check()
            name = info.filename
            shown = f"{display}:{name}"
            if info.is_dir():
                continue
            posix = PurePosixPath(name.replace("\\", "/"))
            if posix.is_absolute() or ".." in posix.parts or (len(name) > 1 and name[1] == ":"):
                result.reject(shown, "unsafe member name (absolute path or '..'): refused, not extracted")
                continue
            if any(_ignored(p) for p in posix.parts) or posix.name.lower() in MEDIA_CONTENT:
                continue
            target = scratch / f"z{uuid.uuid4().hex}.part"
            try:
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, store.CHUNK)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as e:
                target.unlink(missing_ok=True)
                result.reject(shown, f"unreadable archive member: {e}")
                continue
            if posix.suffix.lower() == ".zip":
                yield from _zip_sources(target, shown, scratch, result, cancel)
                target.unlink(missing_ok=True)
                continue
            yield Source(shown, target, owned=True)


def _walk(folder: Path, result) -> Iterator[Path | Source]:
    dicomdir = _find_dicomdir(folder)
    if dicomdir is not None:
        yield from _media_sources(dicomdir, result)
        return
    try:
        entries = sorted(folder.iterdir())
    except OSError as e:
        result.reject(str(folder), f"unreadable folder: {e.strerror or e}")
        return
    # the top of an IHE PDI disc: its web content and texts are not images to refuse
    disc_top = any(e.name.lower() in WEB_FOLDERS and e.is_dir() for e in entries)
    for entry in entries:
        if _ignored(entry.name):
            continue
        if entry.is_dir():
            if entry.name.lower() in WEB_FOLDERS:
                continue
            yield from _walk(entry, result)
        elif entry.is_file() and not (disc_top and entry.name.lower() in MEDIA_CONTENT):
            yield entry


def list_sources(paths: list[Path], scratch: Path, result,
                 cancel: CancelToken) -> list[Source]:
    sources: list[Source] = []

    def add(path: Path) -> None:
        if path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
            sources.extend(_zip_sources(path, str(path), scratch, result, cancel))
        else:
            sources.append(Source(str(path), path))

    for path in paths:
        cancel.check()
        if path.is_dir():
            for found in _walk(path, result):
                if isinstance(found, Source):
                    sources.append(found)
                else:
                    add(found)
        elif path.name.upper() == "DICOMDIR" and path.is_file():
            sources.extend(_media_sources(path, result))
        elif path.is_file():
            add(path)
        else:
            result.reject(str(path), "not found")
    return sources
