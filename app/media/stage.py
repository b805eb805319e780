"""Staging one disc: the complete IHE PDI file set in a temporary folder.

    DICOMDIR                          the directory (general-purpose CD/DVD)
    DICOM/PAT00001/STU00001/SER00001/IM000001 ...
    README.TXT, INDEX.HTM, IHE_PDI/   the text and the web content
    MANIFEST.TXT                      the SHA-256 of every other file

Instances are hard-linked from the image store (the store and the staging
area share a file system), copied where a link is not possible. Nothing in
the staging folder is ever written through a link: every other file is new.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Optional

import pydicom

from app.jobs import CancelToken, Progress, no_progress
from app.media import decompress, dicomdir, manifest, names, readme, records, web
from app.media.records import Node
from app.media.selection import Instance, Study

DICOM_FOLDER = "DICOM"


@dataclass
class StagedDisc:
    """A disc's file set, ready to be written."""

    folder: Path
    volume: str
    number: int
    total: int
    studies: list[Study]
    digests: dict[str, str] = field(default_factory=dict)  # the manifest
    syntaxes: set[str] = field(default_factory=set)         # transfer syntaxes on the disc
    kept_compressed: int = 0   # compressed objects that could not be decoded

    @property
    def instance_count(self) -> int:
        return sum(s.instance_count for s in self.studies)

    @property
    def size(self) -> int:
        return sum((self.folder / rel).stat().st_size for rel in self.digests)


# The general-purpose CD profile (PS3.11 D.3.1) stores objects in explicit VR
# little endian: objects in implicit VR or deflated are re-encoded (the same
# data, lossless), and compressed pixel data is decoded unless the disc keeps
# it (app.media.decompress: then the disc follows the general-purpose DVD/BD
# JPEG or JPEG 2000 profile, if its syntaxes allow one).
EXPLICIT = "1.2.840.10008.1.2.1"
REENCODED = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1.99"}


def _place(instance: Instance, target: Path, decode: bool = False) -> Instance:
    """Put *instance* at *target*; returns it as it is on the disc."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if instance.transfer_syntax_uid in REENCODED:
        ds = pydicom.dcmread(instance.source)
        ds.file_meta.TransferSyntaxUID = EXPLICIT
        ds.save_as(target, enforce_file_format=True)
        return replace(instance, transfer_syntax_uid=EXPLICIT, sha256=None)
    if decode and decompress.needs_decoding(instance.transfer_syntax_uid):
        written = decompress.write_decompressed(instance.source, target)
        if written is not None:
            return replace(instance, transfer_syntax_uid=written, sha256=None,
                           size=target.stat().st_size)
    try:
        os.link(instance.source, target)
    except OSError:  # another file system, or links not supported: copy
        shutil.copyfile(instance.source, target)
    return instance


def _tree(studies: list[Study], root: Path, progress: Progress, cancel: CancelToken,
          decode: bool = False, syntaxes: Optional[list[str]] = None
          ) -> tuple[list[Node], web.Names, dict[str, str]]:
    """Place every instance under its file ID (*decode*: compressed pixel
    data decoded); return the record trees, the folder names and the
    digests the cache already knows. *syntaxes* receives each placed
    object's transfer syntax."""
    roots: list[Node] = []
    folder_names = web.Names({}, {})
    known: dict[str, str] = {}
    total = sum(s.instance_count for s in studies) or 1
    done = study_no = series_no = 0
    for p_no, (patient, of_patient) in enumerate(readme.by_patient(studies), 1):
        pat = names.numbered("PAT", p_no)
        patient_node = Node(records.patient_record(patient))
        roots.append(patient_node)
        for study in of_patient:
            study_no += 1
            stu = names.numbered("STU", study_no)
            folder_names.study[study.study_instance_uid] = stu
            study_node = Node(records.study_record(study))
            patient_node.children.append(study_node)
            for ordinal, series in enumerate(study.series, 1):
                series_no += 1
                ser = names.numbered("SER", series_no)
                folder_names.series[(study.study_instance_uid, series.series_instance_uid)] = ser
                series_node = Node(records.series_record(series, ordinal))
                study_node.children.append(series_node)
                for i_no, instance in enumerate(series.instances, 1):
                    cancel.check()
                    file_id = names.check_file_id((DICOM_FOLDER, pat, stu, ser, names.numbered("IM", i_no)))
                    instance = _place(instance, root.joinpath(*file_id), decode)
                    if syntaxes is not None:
                        syntaxes.append(instance.transfer_syntax_uid or EXPLICIT)
                    if instance.sha256:
                        known["/".join(file_id)] = instance.sha256
                    series_node.children.append(records.leaf_node(
                        instance, series, study, i_no, file_id,
                        lambda src=instance.source: records.read_header(src)))
                    done += 1
                    progress(done / total, f"Placing {done} of {total} objects")
    return roots, folder_names, known


def stage(studies: list[Study], root: Path, *, label: str, number: int = 1, total: int = 1,
          web_content: bool = True, whole: Optional[dict[str, int]] = None,
          progress: Progress = no_progress, cancel: Optional[CancelToken] = None,
          when: Optional[datetime] = None, decode: bool = False) -> StagedDisc:
    """Write disc *number* of *total* holding *studies* into the empty
    folder *root*. *whole*: each study's full object count (to mark the
    parts of a study spread over several discs). *decode*: compressed
    images written decompressed (a disc for another site)."""
    cancel = cancel or CancelToken()
    when = when or datetime.now()
    root.mkdir(parents=True, exist_ok=True)
    volume = names.volume_id(label, number, total)

    def part(start: float, end: float) -> Progress:
        return lambda f, m="": progress(None if f is None else start + (end - start) * f, m)

    syntaxes: list[str] = []
    roots, folder_names, known = _tree(studies, root, part(0.0, 0.5), cancel, decode, syntaxes)
    progress(0.5, "Writing the DICOMDIR")
    dicomdir.write(root / "DICOMDIR", roots, names.file_set_id(label, number, total))
    readme.write(root, studies, whole or {}, volume=volume, number=number, total=total,
                 web=web_content, when=when)
    if web_content:
        web.write(root, studies, folder_names, number=number, total=total, when=when,
                  progress=part(0.5, 0.8), cancel=cancel)
    progress(0.8, "Writing the manifest")
    digests = manifest.write(root, known)
    kept = sum(1 for t in syntaxes if decompress.needs_decoding(t)) if decode else 0
    return StagedDisc(root, volume, number, total, studies, digests, set(syntaxes), kept)
