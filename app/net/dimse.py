"""DIMSE messages: command sets, data sets in P-DATA fragments, statuses.

A command set is a handful of group 0000 elements in Implicit VR Little
Endian (PS3.7 E.1); they are encoded and decoded here directly, without a
Dataset, because every C-STORE costs two of them. Data sets travel as the
bytes they are: sent straight from the file after its meta header, and
received straight into a file (:class:`~app.net.sinks.FileSink`) or into
memory (:class:`~app.net.sinks.MemorySink`, for an intake that writes,
hashes and parses the bytes it already holds), never decoded.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ImplicitVRLittleEndian
from pynetdicom import dsutils

from app.dicom import element_rules
from app.dicom import files as dicom_files
from app.net import wire
from app.net.association import Association
from app.net.sinks import FileSink, MemorySink
from app.net.wire import Aborted, NetworkError


# keyword -> (element of group 0000, VR)  (PS3.7 Table E.1-1)
COMMAND_ELEMENTS: dict[str, tuple[int, str]] = {
    "AffectedSOPClassUID": (0x0002, "UI"),
    "RequestedSOPClassUID": (0x0003, "UI"),
    "CommandField": (0x0100, "US"),
    "MessageID": (0x0110, "US"),
    "MessageIDBeingRespondedTo": (0x0120, "US"),
    "MoveDestination": (0x0600, "AE"),
    "Priority": (0x0700, "US"),
    "CommandDataSetType": (0x0800, "US"),
    "Status": (0x0900, "US"),
    "OffendingElement": (0x0901, "AT"),
    "ErrorComment": (0x0902, "LO"),
    "ErrorID": (0x0903, "US"),
    "AffectedSOPInstanceUID": (0x1000, "UI"),
    "RequestedSOPInstanceUID": (0x1001, "UI"),
    "NumberOfRemainingSuboperations": (0x1020, "US"),
    "NumberOfCompletedSuboperations": (0x1021, "US"),
    "NumberOfFailedSuboperations": (0x1022, "US"),
    "NumberOfWarningSuboperations": (0x1023, "US"),
    "MoveOriginatorApplicationEntityTitle": (0x1030, "AE"),
    "MoveOriginatorMessageID": (0x1031, "US"),
}
_BY_ELEMENT = {element: (keyword, vr) for keyword, (element, vr) in COMMAND_ELEMENTS.items()}

# CommandField values
C_STORE_RQ, C_STORE_RSP = 0x0001, 0x8001
C_GET_RQ, C_GET_RSP = 0x0010, 0x8010
C_FIND_RQ, C_FIND_RSP = 0x0020, 0x8020
C_MOVE_RQ, C_MOVE_RSP = 0x0021, 0x8021
C_ECHO_RQ, C_ECHO_RSP = 0x0030, 0x8030
C_CANCEL_RQ = 0x0FFF
NO_DATASET = 0x0101
HAS_DATASET = 0x0000

SUCCESS, CANCEL = 0x0000, 0xFE00
PENDING = (0xFF00, 0xFF01)
WARNINGS = {0x0001, 0x0107, 0x0116, 0xB000, 0xB006, 0xB007}
OUT_OF_RESOURCES, CANNOT_UNDERSTAND = 0xA700, 0xC000

_ELEMENT = struct.Struct("<HHL")
_DATA_BLOCK = 4 << 20  # bytes read from a file per send


def status_category(status: int) -> str:
    if status == SUCCESS:
        return "success"
    if status in PENDING:
        return "pending"
    if status == CANCEL:
        return "cancel"
    if status in WARNINGS:
        return "warning"
    return "failure"


def encode_command(fields: dict[str, Any]) -> bytes:
    parts = []
    for keyword in sorted(fields, key=lambda k: COMMAND_ELEMENTS[k][0]):
        element, vr = COMMAND_ELEMENTS[keyword]
        value = fields[keyword]
        if vr == "US":
            raw = struct.pack("<H", value)
        elif vr == "AT":
            raw = struct.pack("<HH", *value)
        else:
            raw = str(value).encode("ascii")
            if len(raw) % 2:
                raw += b"\x00" if vr == "UI" else b" "
        parts.append(_ELEMENT.pack(0, element, len(raw)) + raw)
    body = b"".join(parts)
    return _ELEMENT.pack(0, 0, 4) + struct.pack("<L", len(body)) + body


def decode_command(data: bytes) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    pos = 0
    while pos + 8 <= len(data):
        group, element, length = _ELEMENT.unpack_from(data, pos)
        raw = data[pos + 8:pos + 8 + length]
        pos += 8 + length
        if group != 0 or element not in _BY_ELEMENT:
            continue
        keyword, vr = _BY_ELEMENT[element]
        if vr == "US":
            fields[keyword] = struct.unpack("<H", raw[:2])[0]
        elif vr == "AT":
            fields[keyword] = struct.unpack("<HH", raw[:4])
        else:
            fields[keyword] = raw.decode("ascii", "replace").rstrip("\x00 ")
    return fields


def encode_dataset(ds: Dataset, transfer_syntax: str) -> bytes:
    """An identifier (or a converted data set) in the negotiated syntax."""
    data = dsutils.encode(ds, transfer_syntax == ImplicitVRLittleEndian,
                          transfer_syntax != ExplicitVRBigEndian,
                          transfer_syntax == DeflatedExplicitVRLittleEndian)
    if data is None:
        raise ValueError("the data set cannot be encoded in " + transfer_syntax)
    return data


def decode_dataset(data: bytes, transfer_syntax: str) -> Dataset:
    return dsutils.decode(io.BytesIO(data), transfer_syntax == ImplicitVRLittleEndian,
                          transfer_syntax != ExplicitVRBigEndian,
                          transfer_syntax == DeflatedExplicitVRLittleEndian)


# -- sending -------------------------------------------------------------------------------


def _fragments(assoc: Association, context_id: int, data: memoryview, last: bool) -> list:
    """P-DATA-TF PDUs (as buffers) carrying *data*; the final one is marked
    last when *last*."""
    out: list = []
    size, step = len(data), assoc.fragment
    if size == 0 and last:
        return wire.Wire.pdata(context_id, 0x02, b"")
    for start in range(0, size, step):
        end = min(start + step, size)
        out += wire.Wire.pdata(context_id, 0x02 if (last and end == size) else 0x00, data[start:end])
    return out


def send(assoc: Association, context_id: int, command: dict[str, Any],
         dataset: bytes | memoryview | None = None,
         dataset_file: Optional[tuple[Path, int]] = None) -> None:
    """Send one message: the command, then the data set from memory or
    streamed from *dataset_file* (path, offset of the data set)."""
    has_data = dataset is not None or dataset_file is not None
    command = dict(command, CommandDataSetType=HAS_DATASET if has_data else NO_DATASET)
    out = wire.Wire.pdata(context_id, 0x03, encode_command(command))
    if dataset is not None:
        out += _fragments(assoc, context_id, memoryview(dataset), True)
    elif dataset_file is not None:
        path, offset = dataset_file
        block = max(assoc.fragment, _DATA_BLOCK // assoc.fragment * assoc.fragment)
        with open(path, "rb") as f:
            remaining = os.fstat(f.fileno()).st_size - offset
            f.seek(offset)
            if remaining <= 0:
                out += wire.Wire.pdata(context_id, 0x02, b"")
            while remaining > 0:
                chunk = f.read(min(block, remaining))
                if not chunk:
                    raise OSError(f"{path}: the file ended early")
                remaining -= len(chunk)
                out += _fragments(assoc, context_id, memoryview(chunk), remaining <= 0)
                if remaining > 0:  # the command and the first block go out together
                    assoc.wire.send(b"".join(out))
                    out = []
    assoc.wire.send(b"".join(out))


# -- receiving -----------------------------------------------------------------------------


@dataclass
class Message:
    context_id: int
    command: dict[str, Any]
    dataset: Optional[bytes] = None     # when kept in memory
    path: Optional[Path] = None         # when written to a file by a sink
    file_data: Optional[memoryview] = None  # a complete file held by a MemorySink
    sink_error: str = ""                # the sink failed: data discarded

    @property
    def field(self) -> int:
        return self.command.get("CommandField", 0)

    @property
    def status(self) -> int:
        return self.command.get("Status", SUCCESS)


SinkFactory = Callable[[int, dict], "FileSink | MemorySink | None"]


def receive(assoc: Association, sink_for: Optional[SinkFactory] = None) -> Optional[Message]:
    """The next message, or None when the peer asked to release (answered).

    ``sink_for(context_id, command)`` may return a :class:`FileSink` or a
    :class:`MemorySink` for the data set; otherwise it is kept in memory
    (``dataset``). A peer that aborts or drops
    the connection mid-message raises, and the sink's file is removed.
    """
    link = assoc.wire
    command_parts: list[bytes] = []
    data_parts: list[bytes] = []
    message: Optional[Message] = None
    sink: "FileSink | MemorySink | None" = None
    try:
        while True:
            pdu_type, body = link.read_pdu()
            if pdu_type == wire.P_DATA:
                for context_id, control, data in link.pdvs(body):
                    if control & 0x01:
                        command_parts.append(bytes(data))
                        if not control & 0x02:
                            continue
                        message = Message(context_id, decode_command(b"".join(command_parts)))
                        if message.command.get("CommandDataSetType", NO_DATASET) == NO_DATASET:
                            return message
                        if sink_for is not None:
                            try:
                                sink = sink_for(context_id, message.command)
                            except OSError as e:
                                message.sink_error = f"cannot write: {e.strerror or e}"
                        continue
                    if message is None:
                        raise NetworkError("protocol error: data set before its command")
                    if sink is not None:
                        try:
                            sink.write(data)
                        except OSError as e:
                            message.sink_error = f"cannot write: {e.strerror or e}"
                            sink.discard()
                            sink = None
                    elif not message.sink_error:
                        data_parts.append(bytes(data))
                    if control & 0x02:
                        if sink is not None:
                            done = sink.finish()
                            sink = None
                            if isinstance(done, Path):
                                message.path = done
                            else:
                                message.file_data = done
                        elif not message.sink_error:
                            message.dataset = b"".join(data_parts)
                        return message
            elif pdu_type == wire.RELEASE_RQ:
                link.send(wire.RELEASE_RP_PDU)
                link.close()
                assoc.released = True
                return None
            elif pdu_type == wire.ABORT:
                link.close()
                raise Aborted("the peer aborted the association")
            else:
                raise NetworkError(f"protocol error: unexpected PDU type {pdu_type}")
    except BaseException:
        if sink is not None:
            sink.discard()
        raise


# -- files -----------------------------------------------------------------------------------


def read_meta(path: Path) -> Optional[tuple[int, dict[str, str]]]:
    """Where the data set of a DICOM file starts and its meta UIDs, or None
    when the file has no File Meta Information to go by (read by the
    project's one element reader, app/dicom/elements.py)."""
    with open(path, "rb") as f:
        head = f.read(8192)
    if len(head) < 132 or head[128:132] != b"DICM":
        return None
    try:
        found, pos, _ = dicom_files.read_meta(head, 132)
    except (element_rules.Malformed, element_rules.NotCovered):
        return None
    names = {0x00020002: "MediaStorageSOPClassUID", 0x00020003: "MediaStorageSOPInstanceUID",
             0x00020010: "TransferSyntaxUID"}
    values = {names[tag]: head[value:value + length].decode("ascii", "replace").rstrip("\x00 ")
              for tag, _, _, value, length, _ in found if tag in names}
    if "TransferSyntaxUID" not in values:
        return None
    return pos, values
