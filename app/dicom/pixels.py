"""One frame of a DICOM file's pixel data, decoded with pydicom reading only
what it needs: the header up to the pixel data, then that element (or the
wanted frame). A bare data set without File Meta Information is read too.

:func:`read_frame` is the whole step, from a path to (header, array), for the
previews (:mod:`app.dicom.render`) and the viewer (:mod:`app.viewer`). Native
little-endian frames of a well-formed file take :mod:`app.dicom.native`'s
shorter way (the same header and array, a fraction of the interpreter time).
"""

from __future__ import annotations

import os
import struct

import numpy as np
import pydicom
from pydicom.datadict import dictionary_has_tag
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_dataset
from pydicom.pixels import pixel_array
from pydicom.uid import (UID, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian,
                         ExplicitVRLittleEndian, ImplicitVRLittleEndian)

from app.dicom.native import read_native
from app.dicom.quick_header import QuickHeader, dataset_of
from app.errors import BadInput, NotFound

_PIXEL_TAGS = {(0x7FE0, 0x0010), (0x7FE0, 0x0008), (0x7FE0, 0x0009)}


def read_frame(
    path: str | os.PathLike, frame: int | None = None
) -> tuple[Dataset, np.ndarray | None, int]:
    """The header, the decoded frame and its 0-based index, for the file at `path`.

    The array is None when the object has no pixel data (RT structure sets
    and plans, SR, KOS...); the header then has no pixel data either.
    `frame` is 0-based; None means the middle frame (what a preview shows).
    Raises NotFound for a missing file and BadInput, naming the file and the
    reason, for a file that is not DICOM, a frame out of range, or pixel
    data that cannot be decoded (no decoder for its transfer syntax, a
    broken encapsulation...).
    """
    header, arr, index = read_frame_header(path, frame)
    return dataset_of(header), arr, index


def read_frame_header(path: str | os.PathLike, frame: int | None = None
                      ) -> tuple[Dataset | QuickHeader, np.ndarray | None, int]:
    """:func:`read_frame`, the header as the native reader leaves it: a
    quick view (:mod:`app.dicom.quick_header`; its ``ds`` is the data set)
    when that reader read the file, else the data set."""
    name = os.fspath(path)
    fast = read_native(name, frame)
    if fast is not None:
        return fast
    try:
        f = open(name, "rb")
    except FileNotFoundError:
        raise NotFound(f"{name}: no such file") from None
    except OSError as exc:
        raise BadInput(f"{name}: cannot read file ({exc.strerror or exc})") from None
    with f:
        ds = _read_header(f, name)
        full = None
        if ds.file_meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
            # The header read inflated the stream: decode from a full read.
            f.seek(0)
            try:
                full = pydicom.dcmread(f, force=True)
            except Exception as exc:  # noqa: BLE001 - any parse failure is bad input
                raise _cannot(name, exc) from exc
            if not any(t in full for t in (0x7FE00010, 0x7FE00008, 0x7FE00009)):
                return ds, None, 0
        elif not _pixel_data_follows(f, ds):
            return ds, None, 0
        if "Rows" not in ds or "Columns" not in ds:
            raise BadInput(f"{name}: cannot render pixel data (no Rows/Columns)")
        frames = _number_of_frames(ds)
        index = frames // 2 if frame is None else int(frame)
        if not 0 <= index < frames:
            raise BadInput(
                f"{name}: cannot render pixel data "
                f"(frame {frame} out of range, {frames} frame(s))"
            )
        return ds, _decode(f, ds, name, index, frames, full), index


def _cannot(name: str, exc: BaseException) -> BadInput:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    reason = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
    if len(reason) > 200:
        reason = reason[:197] + "..."
    return BadInput(f"{name}: cannot render pixel data ({reason})", detail=str(exc))


def _read_header(f, name: str) -> Dataset:
    """The dataset up to the pixel data, the file left positioned there."""
    try:
        return pydicom.dcmread(f, stop_before_pixels=True)
    except InvalidDicomError:
        pass  # no preamble/DICM: maybe a bare dataset (old files, rtstruct.dcm)
    except Exception as exc:  # noqa: BLE001
        raise BadInput(f"{name}: not a readable DICOM file ({exc})") from exc
    f.seek(0)
    try:
        ds = pydicom.dcmread(f, stop_before_pixels=True, force=True)
    except Exception as exc:  # noqa: BLE001
        raise BadInput(f"{name}: not a DICOM file ({type(exc).__name__})") from exc
    # A forced read of a non-DICOM file yields nonsense tags; a real bare
    # dataset has at least one element from the data dictionary.
    if not any(dictionary_has_tag(tag) for tag in ds.keys() if tag.group > 0x0002):
        raise BadInput(f"{name}: not a DICOM file")
    return ds


def _decode(
    f, ds: Dataset, name: str, index: int, frames: int, full: Dataset | None
) -> np.ndarray:
    """Decode frame `index`, reading only what it needs from the file.

    `f` is positioned at the pixel data element that follows the header `ds`.
    A single frame: read just that element and decode it (no second parse of
    the header). Several frames: pydicom's file-based reader, which reads
    only the wanted frame. If either fails for any reason but a missing
    decoder, the whole dataset is read and decoded, which copes with a few
    more malformed encapsulations.
    """
    if full is None:
        try:
            if frames == 1:
                implicit, little = ds.original_encoding
                rest = read_dataset(
                    f,
                    is_implicit_VR=True if implicit is None else implicit,
                    is_little_endian=True if little is None else little,
                )
                ds.update(rest)
                if not ds.file_meta.get("TransferSyntaxUID"):
                    ds.file_meta.TransferSyntaxUID = _implied_syntax(ds)
                return pixel_array(ds, index=index)
            f.seek(0)
            kwargs = {}
            if not ds.file_meta.get("TransferSyntaxUID"):
                kwargs["transfer_syntax_uid"] = _implied_syntax(ds)
            return pixel_array(f, index=index, **kwargs)
        except NotImplementedError as exc:  # no decoder for this syntax
            raise _cannot(name, exc) from exc
        except Exception:  # noqa: BLE001 - retry below on the whole dataset
            pass
        f.seek(0)
        try:
            full = pydicom.dcmread(f, force=True)
            if not full.file_meta.get("TransferSyntaxUID"):
                full.file_meta.TransferSyntaxUID = _implied_syntax(full)
        except Exception as exc:  # noqa: BLE001
            raise _cannot(name, exc) from exc
    try:
        return pixel_array(full, index=index)
    except Exception as exc:  # noqa: BLE001 - decoders raise many kinds
        raise _cannot(name, exc) from exc


def _pixel_data_follows(f, ds: Dataset) -> bool:
    """Whether the next element (where the header read stopped) is pixel data."""
    head = f.read(4)
    f.seek(-len(head), os.SEEK_CUR)
    if len(head) < 4:
        return False
    little = _is_little_endian(ds)
    group, element = struct.unpack("<HH" if little else ">HH", head)
    return (group, element) in _PIXEL_TAGS


def _is_little_endian(ds: Dataset) -> bool:
    tsyntax = ds.file_meta.get("TransferSyntaxUID")
    if tsyntax:
        try:
            return bool(UID(tsyntax).is_little_endian)
        except ValueError:
            pass  # private or unknown syntax: fall through to what was read
    little = ds.original_encoding[1]
    return True if little is None else bool(little)


def _implied_syntax(ds: Dataset) -> UID:
    implicit, little = ds.original_encoding
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little in (True, None) else ExplicitVRBigEndian


def _number_of_frames(ds: Dataset) -> int:
    try:
        n = int(ds.get("NumberOfFrames") or 1)
    except (TypeError, ValueError):
        n = 1
    return max(n, 1)
