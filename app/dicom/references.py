"""References between objects: which instances, series and studies a
dataset points at (RT structure sets -> images, plans -> structure sets,
doses -> plans, SEG/SR/KOS -> images), found by walking every sequence."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.datadict import dictionary_VR

# tags whose values name another object
REFERENCED_SOP_INSTANCE_UID = 0x00081155
SERIES_INSTANCE_UID = 0x0020000E
FRAME_OF_REFERENCE_UID = 0x00200052
REFERENCED_FRAME_OF_REFERENCE_UID = 0x30060024
PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}


REFERENCED_SOP_CLASS_UID = 0x00081150
# Detached Study Management and its kin: an RT structure set names its study
# this way (RTReferencedStudySequence), not an instance
STUDY_MANAGEMENT_PREFIX = "1.2.840.10008.3.1.2."


@dataclass
class References:
    instances: set[str] = field(default_factory=set)
    series: set[str] = field(default_factory=set)
    frames_of_reference: set[str] = field(default_factory=set)
    studies: set[str] = field(default_factory=set)


def references_of(ds) -> References:
    """Everything *ds* refers to from inside its sequences (its own UIDs at
    the top level are not references)."""
    found = References()

    def walk(dataset, nested: bool) -> None:
        for tag in list(dataset.keys()):
            if tag in PIXEL_TAGS or element_vr(dataset.get_item(tag), tag) not in ("SQ", "UI"):
                continue  # only these can name an object: the rest (contour points) stays undecoded
            elem = dataset[tag]
            if elem.VR == "SQ":
                for item in elem.value:
                    walk(item, True)
            elif elem.tag == REFERENCED_SOP_INSTANCE_UID:
                sop_class = dataset.get(REFERENCED_SOP_CLASS_UID)
                if sop_class is not None and str(sop_class.value).startswith(STUDY_MANAGEMENT_PREFIX):
                    found.studies.update(_values(elem.value))
                else:
                    found.instances.update(_values(elem.value))
            elif nested and elem.tag == SERIES_INSTANCE_UID:
                found.series.update(_values(elem.value))
            elif elem.tag == REFERENCED_FRAME_OF_REFERENCE_UID or (nested and elem.tag == FRAME_OF_REFERENCE_UID):
                found.frames_of_reference.update(_values(elem.value))

    walk(ds, False)
    return found


def element_vr(raw, tag) -> str | None:
    """An element's VR without decoding its value: the file's (explicit VR)
    or the dictionary's (implicit; None for a private tag it does not know)."""
    if raw.VR:
        return raw.VR
    try:
        return dictionary_VR(tag)
    except KeyError:
        return None


def _values(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [str(v) for v in value if v]
    return [str(value)] if str(value) else []


def read_references(path: Path) -> References:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    return references_of(ds)
