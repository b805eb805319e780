"""The viewer's fast way to a native frame (app/dicom/native.py) gives what
the general reader gives (pydicom's header and pixel_array), on every file
of pydicom's test set it takes, and leaves the others to the general reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom.data
import pytest

import app.dicom.pixels as pixels
from app.dicom.native import read_native

TEST_FILES = sorted({p for name in ("CT_small.dcm", "emri_small.dcm")
                     for p in Path(pydicom.data.get_testdata_file(name)).parent.glob("*.dcm")})


def _general(monkeypatch, name: str, frame):
    with monkeypatch.context() as m:
        m.setattr(pixels, "read_native", lambda *_: None)
        return pixels.read_frame(name, frame)


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_fast_frame_is_the_general_one(path, monkeypatch):
    name = str(path)
    fast = read_native(name, None)
    if fast is None:
        return  # not a file the fast way covers: read_frame reads it the general way
    header, arr, index = fast
    ds = header.ds
    ds0, arr0, index0 = _general(monkeypatch, name, None)
    assert index == index0
    assert arr.dtype == arr0.dtype and arr.shape == arr0.shape
    assert np.array_equal(arr, arr0)
    assert ds.file_meta == ds0.file_meta
    assert ds.original_encoding == ds0.original_encoding
    for element in ds0:
        if element.tag != 0x7FE00010:
            assert ds[element.tag].value == element.value, element.keyword
    assert "PixelData" not in ds


def test_the_fast_way_is_taken_for_native_and_left_for_compressed():
    taken = {p.name for p in TEST_FILES if read_native(str(p), None) is not None}
    # explicit and implicit VR, trailing padding, multi-frame, RGB
    assert {"CT_small.dcm", "MR_small_implicit.dcm", "emri_small.dcm", "SC_rgb_small_odd.dcm",
            "rtdose.dcm"} <= taken
    # big endian, deflated, compressed: the general reader
    assert not {"MR_small_bigendian.dcm", "image_dfl.dcm", "JPEG2000.dcm", "SC_rgb_rle.dcm",
                "MR_small_jpeg_ls_lossless.dcm"} & taken


def test_every_frame_of_a_multi_frame(monkeypatch):
    name = pydicom.data.get_testdata_file("emri_small.dcm")
    frames = int(pydicom.dcmread(name, stop_before_pixels=True).NumberOfFrames)
    for frame in range(frames):
        _, arr, index = read_native(name, frame)
        _, arr0, _ = _general(monkeypatch, name, frame)
        assert index == frame and np.array_equal(arr, arr0)
    assert read_native(name, frames) is None  # out of range: the general reader names it
