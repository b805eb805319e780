"""Writing a DICOMDIR (the Basic Directory IOD, PS3.3 F; PS3.10 8.6).

Records are encoded once each (explicit VR little endian, defined lengths);
since the offsets are fixed-size UL values, every record's position is known
from the lengths alone and the offsets are patched into the encoded bytes.
That keeps a directory of thousands of records to one encoding pass; the
records themselves come from :mod:`app.media.records`.

Offsets count from the first byte of the file (the File Meta Information
includes the preamble, PS3.10 7.1). Each record's *next* offset points to
its following sibling (0 for the last), its *lower* offset to its first
child (0 for a leaf).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian, MediaStorageDirectoryStorage, generate_uid

from app.dicom.meta import file_meta_dataset
from app.media.records import Node

_ITEM = b"\xfe\xff\x00\xe0"          # (FFFE,E000), little endian
_NEXT_TAG = b"\x04\x00\x00\x14"      # (0004,1400)
_LOWER_TAG = b"\x04\x00\x20\x14"     # (0004,1420)
_NEXT_AT, _LOWER_AT = 8, 30          # value positions in a record's encoding
_SEQUENCE_HEADER = 12                 # tag, 'SQ', 2 reserved bytes, 4-byte length


def _encode(ds: Dataset) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    write_dataset(fp, ds)
    return fp.getvalue()


def _flatten(roots: list[Node]) -> list[Node]:
    """Records in the order they are stored: each followed by its subtree."""
    order: list[Node] = []
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(reversed(node.children))
    return order


def _head(file_set_id: str) -> tuple[bytes, int]:
    """Preamble, File Meta Information and the elements before the record
    sequence; returns the bytes and where the first-offset value sits."""
    meta = file_meta_dataset(MediaStorageDirectoryStorage, generate_uid(), ExplicitVRLittleEndian)
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    fp.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(fp, meta, enforce_standard=True)
    ds = Dataset()
    ds.FileSetID = file_set_id
    ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity = 0
    ds.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity = 0
    ds.FileSetConsistencyFlag = 0
    before = fp.tell()
    body = _encode(ds)
    first_at = before + body.index(b"\x04\x00\x00\x12") + 8   # (0004,1200) value
    return fp.getvalue() + body, first_at


def encode(roots: list[Node], file_set_id: str) -> bytes:
    """The whole DICOMDIR file for the record trees *roots*."""
    head, first_at = _head(file_set_id)
    order = _flatten(roots)
    encoded = [node.encoded if node.encoded is not None else _encode(node.record) for node in order]
    offsets: dict[int, int] = {}
    position = len(head) + _SEQUENCE_HEADER
    for node, body in zip(order, encoded):
        if body[0:4] != _NEXT_TAG or body[22:26] != _LOWER_TAG:
            raise ValueError(f"directory record {node.kind}: unexpected layout")
        offsets[id(node)] = position
        position += 8 + len(body)

    def offset_of(node: Node | None) -> int:
        return 0 if node is None else offsets[id(node)]

    following: dict[int, Node | None] = {}
    for siblings in [roots] + [n.children for n in order]:
        for node, after in zip(siblings, siblings[1:] + [None]):
            following[id(node)] = after
    sequence = bytearray()
    for node, body in zip(order, encoded):
        item = bytearray(body)
        struct.pack_into("<I", item, _NEXT_AT, offset_of(following[id(node)]))
        struct.pack_into("<I", item, _LOWER_AT, offset_of(node.children[0] if node.children else None))
        sequence += _ITEM + struct.pack("<I", len(item)) + item
    data = bytearray(head)
    struct.pack_into("<I", data, first_at, offset_of(roots[0] if roots else None))
    struct.pack_into("<I", data, first_at + 12, offset_of(roots[-1] if roots else None))
    data += b"\x04\x00\x20\x12SQ\x00\x00" + struct.pack("<I", len(sequence)) + sequence
    return bytes(data)


def write(path: Path, roots: list[Node], file_set_id: str) -> int:
    """Write the DICOMDIR at *path*; returns its size."""
    data = encode(roots, file_set_id)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return len(data)
