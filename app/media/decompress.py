"""Compressed images written decompressed, so that a disc meets the
general-purpose profiles every reader supports (PS3.11 D.3: STD-GEN-CD
allows Explicit VR Little Endian only).

A disc for another site is written this way by default: the receiving
workstation may not decode JPEG-LS, RLE or JPEG 2000 (the general-purpose
DVD/BD profiles allow only JPEG or only JPEG 2000 besides the uncompressed
syntax, and no profile allows JPEG-LS or RLE). ``--keep-compressed`` keeps
the files as they are, smaller, for a disc read at this site; the disc then
names the profile its transfer syntaxes fit, if any (:func:`profile`).

A decompressed file is the same instance in another transfer syntax (PS3.5
10: the SOP Instance UID is kept); pydicom decodes it (pylibjpeg for JPEG,
JPEG-LS and JPEG 2000, its own RLE decoder), YCbCr colour becomes RGB (the
decoded samples are full resolution, so YBR_FULL_422 could not stay), and an
image that was ever lossy compressed says so (Lossy Image Compression "01"
with its ratio and method, PS3.3 C.7.6.1.1.5). What cannot be decoded
(video, a decoder missing) is placed as it is, and the disc's profile says
that it no longer fits.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Optional

import pydicom
from pydicom.uid import UID

from app.dicom.meta import file_meta_dataset
from app.media.selection import Series, Study

EXPLICIT = "1.2.840.10008.1.2.1"

# Transfer syntaxes whose images may have lost information, with the
# Lossy Image Compression Method (PS3.3 C.7.6.1.1.5.1) each stands for.
LOSSY_METHODS = {
    "1.2.840.10008.1.2.4.50": "ISO_10918_1",   # JPEG baseline
    "1.2.840.10008.1.2.4.51": "ISO_10918_1",   # JPEG extended
    "1.2.840.10008.1.2.4.81": "ISO_14495_1",   # JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.91": "ISO_15444_1",   # JPEG 2000 (lossy allowed)
    "1.2.840.10008.1.2.4.203": "ISO_15444_15",  # HTJ2K (lossy allowed)
}

# Transfer syntaxes each general-purpose DVD/BD profile allows besides
# Explicit VR Little Endian (PS3.11 D.6, D.7; what dcmmkdir -Pdv/-Pd2 check):
# JPEG baseline, extended and lossless first-order (not other predictors),
# JPEG 2000 lossless-only and lossy.
_JPEG = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.70"}
_J2K = {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"}


def needs_decoding(transfer_syntax: str) -> bool:
    """True for encapsulated (compressed) pixel data."""
    return bool(transfer_syntax) and UID(transfer_syntax).is_encapsulated


def profile(transfer_syntaxes: Iterable[str], medium_key: Optional[str] = None) -> str:
    """The general-purpose application profile a disc holding these
    transfer syntaxes meets ("" for none). *medium_key*: "cd", "dvd",
    "dvd-dl", "bd" or None (an image of no chosen size: named as a DVD)."""
    used = {t for t in transfer_syntaxes if t} - {EXPLICIT}
    if not used:
        return "STD-GEN-CD" if medium_key in (None, "cd") else (
            "STD-GEN-BD-JPEG" if medium_key == "bd" else "STD-GEN-DVD-JPEG")
    if medium_key == "cd":
        return ""  # no compression profile for CD-R
    media = "BD" if medium_key == "bd" else "DVD"
    if used <= _JPEG:
        return f"STD-GEN-{media}-JPEG"
    if used <= _J2K:
        return f"STD-GEN-{media}-J2K"
    return ""


def decoded_size(source: Path, size: int) -> int:
    """Bytes the decompressed file takes, on the high side (for spreading
    over discs before anything is decoded): the file plus its native pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(source, stop_before_pixels=True, force=True)
        frames = int(ds.get("NumberOfFrames") or 1)
        native = (int(ds.Rows) * int(ds.Columns) * frames * int(ds.get("SamplesPerPixel") or 1)
                  * int(ds.BitsAllocated) + 7) // 8
    except (AttributeError, TypeError, ValueError, OSError):
        return size
    return size + native + native % 2


def with_decoded_sizes(studies: list[Study]) -> list[Study]:
    """The studies with each compressed object sized as it will be written
    decompressed, so that spreading over discs counts the larger files."""
    def sized(series: Series) -> Series:
        return replace(series, instances=[
            replace(i, size=decoded_size(i.source, i.size))
            if needs_decoding(i.transfer_syntax_uid) else i for i in series.instances])
    return [s.with_series([sized(series) for series in s.series]) for s in studies]


def _mark_lossy(ds, syntax: str, compressed: int) -> None:
    """Lossy Image Compression stays "01" once an image was lossy, with a
    ratio and a method (Type 1C then): this compression's when the file did
    not give them."""
    method = LOSSY_METHODS.get(syntax)
    stated = str(ds.get("LossyImageCompression", "") or "")
    if stated == "00" or (method is None and stated != "01"):
        return  # lossless by the file's own word, or by its syntax
    ds.LossyImageCompression = "01"
    if method is None:
        return  # lossy before this (lossless) compression: its history is the file's
    ratio = len(ds.PixelData) / compressed if compressed else 0
    if ratio and "LossyImageCompressionRatio" not in ds:
        ds.LossyImageCompressionRatio = f"{ratio:.4g}"
    if "LossyImageCompressionMethod" not in ds:
        ds.LossyImageCompressionMethod = method


def write_decompressed(source: Path, target: Path) -> Optional[str]:
    """Write *source* decompressed to *target* in Explicit VR Little Endian;
    returns the transfer syntax written, None when it cannot be decoded
    (nothing written then)."""
    ds = pydicom.dcmread(source)
    syntax = str(ds.file_meta.TransferSyntaxUID)
    if "PixelData" not in ds:
        return None
    compressed = len(ds.PixelData)
    try:
        ds.decompress(as_rgb=True, generate_instance_uid=False)
    except (RuntimeError, ValueError, NotImplementedError, AttributeError, TypeError, KeyError):
        return None
    _mark_lossy(ds, syntax, compressed)
    ds.file_meta = file_meta_dataset(ds.SOPClassUID, ds.SOPInstanceUID, EXPLICIT)
    tmp = target.with_name(target.name + ".tmp")
    ds.save_as(tmp, enforce_file_format=True)
    tmp.replace(target)
    return EXPLICIT
