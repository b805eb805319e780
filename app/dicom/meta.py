"""The one File Meta Information writer (PS3.10 7.1) and the project's one
implementation identity.

Every file StudyDesk writes (received instances, de-identified exports, the
de-identification engine's pydicom path, DICOMDIRs) and every association it
negotiates (PS3.7 D.3.3.2) names the same Implementation Class UID and
Implementation Version Name. The bytes are the ones pydicom's
``write_file_meta_info`` writes for the same values: group length first, the
version ``00 01``, UIDs padded with NUL, text with a space.
"""

from __future__ import annotations

import struct
from typing import Optional, Union

from pydicom.dataset import FileMetaDataset

from app import __version__

IMPLEMENTATION_CLASS_UID = "1.2.826.0.1.3680043.10.1125.1"
IMPLEMENTATION_VERSION_NAME = f"STUDYDESK_{__version__}"[:16]
PREAMBLE = b"\x00" * 128 + b"DICM"

Text = Union[str, bytes, None]


def _element(element: int, vr: bytes, value: bytes) -> bytes:
    if vr == b"OB":
        return struct.pack("<HH2s2xL", 0x0002, element, vr, len(value)) + value
    return struct.pack("<HH2sH", 0x0002, element, vr, len(value)) + value


def _padded(value: Text, pad: bytes) -> Optional[bytes]:
    if value is None:
        return None
    raw = value if isinstance(value, bytes) else value.encode("ascii", "replace")
    raw = raw.rstrip(b"\x00 ")
    return raw + pad if len(raw) % 2 else raw


def file_meta(sop_class: Text, sop_instance: Text, transfer_syntax: Text,
              source_aet: Text = None, *, preamble: bool = True) -> bytes:
    """Preamble and 'DICM' (unless *preamble* is False) and the File Meta
    Information group; a value of None (or an empty AE title) is left out."""
    body = [_element(0x0001, b"OB", b"\x00\x01")]
    for element, vr, value, pad in ((0x0002, b"UI", sop_class, b"\x00"),
                                    (0x0003, b"UI", sop_instance, b"\x00"),
                                    (0x0010, b"UI", transfer_syntax, b"\x00"),
                                    (0x0012, b"UI", IMPLEMENTATION_CLASS_UID, b"\x00"),
                                    (0x0013, b"SH", IMPLEMENTATION_VERSION_NAME, b" "),
                                    (0x0016, b"AE", source_aet or None, b" ")):
        raw = _padded(value, pad)
        if raw is not None:
            body.append(_element(element, vr, raw))
    joined = b"".join(body)
    group = _element(0x0000, b"UL", struct.pack("<L", len(joined)))
    return (PREAMBLE if preamble else b"") + group + joined


def file_meta_dataset(sop_class: Optional[str], sop_instance: Optional[str],
                      transfer_syntax: Optional[str]) -> FileMetaDataset:
    """The same group as a pydicom data set, for files pydicom writes."""
    meta = FileMetaDataset()
    if sop_class:
        meta.MediaStorageSOPClassUID = sop_class
    if sop_instance:
        meta.MediaStorageSOPInstanceUID = sop_instance
    if transfer_syntax:
        meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    return meta
