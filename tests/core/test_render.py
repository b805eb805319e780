"""app.dicom.render: 8-bit previews from DICOM files (no Qt)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from app.dicom.render import apply_window, render_preview, window_from_header
from app.errors import BadInput, NotFound
from tests.factories import sc_dataset

# pydicom's bundled test files, found on disk (get_testdata_files may go online).
TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
ALL_FILES = sorted(p for p in TEST_FILES.glob("**/*") if p.is_file())

# Every bundled compressed transfer syntax that pylibjpeg (or pydicom itself)
# decodes: these must render, not merely "not crash".
MUST_RENDER = [
    "CT_small.dcm",
    "MR_small.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_implicit.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "JPEG2000.dcm",
    "693_J2KI.dcm",
    "JPGExtended.dcm",
    "JPEGLSNearLossless_16.dcm",
    "SC_rgb_jpeg_gdcm.dcm",
    "SC_rgb_jpeg.dcm",
    "SC_rgb_jls_lossy_line.dcm",
    "SC_ybr_full_422_uncompressed.dcm",
    "examples_ybr_color.dcm",
    "examples_palette.dcm",
    "image_dfl.dcm",
    "rtdose.dcm",
    "rtdose_rle.dcm",
]
NO_PIXELS = ["rtstruct.dcm", "rtplan.dcm", "test-SR.dcm", "dicomdirtests/DICOMDIR"]


def _check_preview(arr: np.ndarray, max_size: int) -> None:
    assert isinstance(arr, np.ndarray)
    assert arr.dtype == np.uint8
    assert arr.flags.c_contiguous
    assert arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3), arr.shape
    assert 1 <= max(arr.shape[:2]) <= max_size


# --------------------------------------------------------------------------
# every bundled file


@pytest.mark.parametrize(
    "path", ALL_FILES, ids=[str(p.relative_to(TEST_FILES)) for p in ALL_FILES]
)
def test_bundled_file_renders_none_or_bad_input(path: Path):
    try:
        pydicom.dcmread(path, stop_before_pixels=True, force=True)
        readable = True
    except Exception:  # noqa: BLE001 - not DICOM even when forced
        readable = False
    try:
        arr = render_preview(path, max_size=64)
    except BadInput as exc:
        assert str(path) in str(exc)
        return
    assert readable, "pydicom cannot read this file: expected BadInput"
    if arr is not None:
        _check_preview(arr, 64)


@pytest.mark.parametrize("name", MUST_RENDER)
def test_decodable_files_render(name: str):
    arr = render_preview(TEST_FILES / name, max_size=64)
    assert arr is not None
    _check_preview(arr, 64)
    assert arr.max() > arr.min(), "a blank preview"


@pytest.mark.parametrize("name", NO_PIXELS)
def test_objects_without_pixel_data_give_none(name: str):
    assert render_preview(TEST_FILES / name) is None


def test_rtstruct_without_file_meta_gives_none():
    path = TEST_FILES / "rtstruct.dcm"
    with pytest.raises(pydicom.errors.InvalidDicomError):
        pydicom.dcmread(path)  # the reason render must read with force
    assert render_preview(path) is None


def test_undecodable_transfer_syntax_raises_bad_input():
    path = TEST_FILES / "JPEG-lossy.dcm"  # 12-bit lossy JPEG: no decoder
    with pytest.raises(BadInput) as info:
        render_preview(path)
    assert str(info.value).startswith(f"{path}: cannot render pixel data (")


def test_non_dicom_file_raises_bad_input(tmp_path: Path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not DICOM\n" * 20)
    with pytest.raises(BadInput):
        render_preview(path)


def test_missing_file_raises_not_found(tmp_path: Path):
    with pytest.raises(NotFound):
        render_preview(tmp_path / "absent.dcm")


# --------------------------------------------------------------------------
# synthetic datasets for exact assertions


def _write(
    tmp_path: Path,
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    name: str = "image.dcm",
    frames: bool = False,
    **elements,
) -> Path:
    """Save `pixels` as an uncompressed Secondary Capture file with `elements`."""
    ds = sc_dataset(pixels, photometric, frames=frames, **elements)
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = tmp_path / name
    ds.save_as(path, enforce_file_format=True)
    return path


# Values placed around the window centre 500, width 200: the linear VOI
# function maps x <= 400 to 0 and x > 599 to 255 (PS3.3 C.11.2.1.2.1).
PROBE = np.array([[0, 300, 400], [450, 500, 550], [600, 700, 1000]], np.uint16)
PROBE_EXPECTED = np.array([[0, 0, 0], [64, 128, 192], [255, 255, 255]], np.uint8)


def test_apply_window_linear_function():
    x = np.arange(0, 1001, dtype=np.int16)
    out = apply_window(x, 500, 200)
    assert out.dtype == np.uint8 and out.shape == x.shape
    assert out[300] == 0 and out[400] == 0
    assert out[700] == 255 and out[600] == 255
    assert out[500] == 128
    assert out[401] > 0 and out[599] == 255 and out[598] < 255
    assert np.all(np.diff(out.astype(int)) >= 0)
    # Exact formula: ((x - (c - 0.5)) / (w - 1) + 0.5) * 255, clipped.
    ref = np.clip(((x - 499.5) / 199.0 + 0.5) * 255.0, 0, 255)
    assert np.abs(out.astype(float) - ref).max() <= 0.5 + 1e-3


def test_apply_window_other_functions():
    x = np.array([0.0, 500.0, 1000.0])
    assert list(apply_window(x, 500, 200, "LINEAR_EXACT")) == [0, 128, 255]
    sig = apply_window(x, 500, 200, "SIGMOID")
    assert sig[0] < 5 and sig[1] == 128 and sig[2] > 250
    assert list(apply_window(x, 500, 1)) == [0, 255, 255]  # threshold


def test_window_is_applied_and_saturates(tmp_path: Path):
    path = _write(tmp_path, PROBE, WindowCenter=500, WindowWidth=200)
    out = render_preview(path)
    np.testing.assert_allclose(out, PROBE_EXPECTED, atol=1)
    assert out[0, 1] == 0 and out[2, 1] == 255 and out[1, 1] == 128


def test_rescale_then_window(tmp_path: Path):
    stored = (PROBE.astype(np.int32) + 1024).astype(np.uint16)
    path = _write(
        tmp_path,
        stored,
        RescaleSlope=1,
        RescaleIntercept=-1024,
        WindowCenter=500,
        WindowWidth=200,
    )
    np.testing.assert_allclose(render_preview(path), PROBE_EXPECTED, atol=1)
    halved = (PROBE // 2).astype(np.uint16)
    path = _write(
        tmp_path, halved, name="slope.dcm", RescaleSlope=2, RescaleIntercept=0,
        WindowCenter=500, WindowWidth=200,
    )
    np.testing.assert_allclose(render_preview(path), PROBE_EXPECTED, atol=1)


def test_first_of_several_windows(tmp_path: Path):
    path = _write(
        tmp_path, PROBE, WindowCenter=[500, 40], WindowWidth=[200, 400]
    )
    ds = pydicom.dcmread(path)
    assert window_from_header(ds) == (500.0, 200.0)
    np.testing.assert_allclose(render_preview(path), PROBE_EXPECTED, atol=1)


def test_window_from_header_variants():
    ds = Dataset()
    assert window_from_header(ds) is None
    ds.WindowCenter, ds.WindowWidth = "40", "0"
    assert window_from_header(ds) is None  # width must be positive
    ds.WindowWidth = 400
    assert window_from_header(ds) == (40.0, 400.0)
    # Enhanced multi-frame: the Frame VOI LUT functional group wins.
    voi = Dataset()
    voi.WindowCenter, voi.WindowWidth = 100, 50
    group = Dataset()
    group.FrameVOILUTSequence = Sequence([voi])
    ds.SharedFunctionalGroupsSequence = Sequence([group])
    assert window_from_header(ds) == (100.0, 50.0)


def test_no_window_uses_data_range(tmp_path: Path):
    ramp = np.linspace(-500, 1500, 64 * 64).reshape(64, 64).astype(np.int16)
    path = _write(tmp_path, ramp)
    out = render_preview(path)
    assert out.shape == (64, 64)
    assert out.min() <= 2 and out.max() >= 253
    assert out[0, 0] < out[32, 32] < out[63, 63]


def test_monochrome1_is_inverted(tmp_path: Path):
    path = _write(
        tmp_path, PROBE, photometric="MONOCHROME1", WindowCenter=500, WindowWidth=200
    )
    out = render_preview(path)
    np.testing.assert_allclose(out, 255 - PROBE_EXPECTED.astype(int), atol=1)
    assert out[0, 1] == 255 and out[2, 1] == 0


def test_rgb_renders_colour(tmp_path: Path):
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, :20] = (255, 0, 0)
    rgb[:, 20:40] = (0, 255, 0)
    rgb[:, 40:] = (0, 0, 255)
    out = render_preview(_write(tmp_path, rgb, photometric="RGB"))
    assert out.shape == (40, 60, 3)
    np.testing.assert_array_equal(out, rgb)
    small = render_preview(_write(tmp_path, rgb, photometric="RGB"), max_size=30)
    assert small.shape == (20, 30, 3)
    assert tuple(small[10, 2]) == (255, 0, 0) and tuple(small[10, 27]) == (0, 0, 255)


def test_bundled_colour_files_are_rgb():
    for name in ("SC_rgb_jpeg_gdcm.dcm", "SC_ybr_full_422_uncompressed.dcm"):
        out = render_preview(TEST_FILES / name)
        assert out.shape == (100, 100, 3)
        # The test pattern's top band is red in every encoding.
        r, g, b = (int(v) for v in out[2, 50])
        assert r > 200 and g < 60 and b < 60, (name, r, g, b)
    palette = render_preview(TEST_FILES / "examples_palette.dcm")
    assert palette.ndim == 3 and palette.shape[2] == 3


def test_multiframe_middle_or_chosen_frame(tmp_path: Path):
    frames = np.stack([np.full((8, 8), v, np.uint16) for v in (0, 250, 500, 750, 1000)])
    path = _write(tmp_path, frames, frames=True, WindowCenter=500, WindowWidth=1000)
    assert render_preview(path).shape == (8, 8)
    assert np.all(render_preview(path) == 128)  # frame 2 of 0..4
    assert np.all(render_preview(path, frame=0) == 0)
    assert np.all(render_preview(path, frame=4) == 255)
    with pytest.raises(BadInput):
        render_preview(path, frame=5)


def test_rtdose_middle_frame_min_to_max():
    path = TEST_FILES / "rtdose.dcm"
    ds = pydicom.dcmread(path)
    middle = ds.pixel_array[int(ds.NumberOfFrames) // 2].astype(float)
    expected = (middle - middle.min()) / (middle.max() - middle.min()) * 255
    out = render_preview(path)
    assert out.shape == middle.shape
    assert np.abs(out - expected).max() <= 1


def test_downscale_keeps_aspect_ratio(tmp_path: Path):
    wide = np.zeros((300, 600), np.uint16)
    assert render_preview(_write(tmp_path, wide, name="w.dcm")).shape == (64, 128)
    tall = np.zeros((600, 300), np.uint16)
    assert render_preview(_write(tmp_path, tall, name="t.dcm")).shape == (128, 64)
    odd = np.zeros((333, 517), np.uint16)
    assert render_preview(_write(tmp_path, odd, name="o.dcm"), max_size=100).shape == (
        64,
        100,
    )
    small = np.zeros((20, 30), np.uint16)  # never enlarged
    assert render_preview(_write(tmp_path, small, name="s.dcm")).shape == (20, 30)


def test_non_square_pixels_use_pixel_spacing(tmp_path: Path):
    img = np.zeros((100, 100), np.uint16)
    path = _write(tmp_path, img, PixelSpacing=[2.0, 1.0])  # rows twice as tall
    assert render_preview(path).shape == (100, 50)


def test_downscale_averages_areas(tmp_path: Path):
    board = (np.indices((256, 256)).sum(axis=0) % 2 * 1000).astype(np.uint16)
    path = _write(tmp_path, board, WindowCenter=500.5, WindowWidth=1001)
    out = render_preview(path, max_size=64)
    assert out.shape == (64, 64)
    assert np.all(np.abs(out.astype(int) - 128) <= 1)  # grey, not aliased stripes


def test_ct_small_with_window(tmp_path: Path):
    """CT_small.dcm (no window in its header) with a soft-tissue window added."""
    source = TEST_FILES / "CT_small.dcm"
    ds = pydicom.dcmread(source)
    hu = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(
        ds.RescaleIntercept
    )
    ds.WindowCenter, ds.WindowWidth = 40, 400
    path = tmp_path / "ct.dcm"
    ds.save_as(path)
    out = render_preview(path)
    assert out.shape == (128, 128) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, apply_window(hu, 40, 400))
    assert (out == 0).any() and (out == 255).any()  # air and bone saturate
    # Without the window, the data range is used and the result differs.
    plain = render_preview(source)
    assert plain.shape == (128, 128) and not np.array_equal(plain, out)


def test_ct_512_is_fast(tmp_path: Path):
    ds = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    rng = np.random.default_rng(1)
    ds.Rows = ds.Columns = 512
    ds.PixelData = rng.integers(-1000, 2000, (512, 512), dtype=np.int16).tobytes()
    ds.WindowCenter, ds.WindowWidth = 40, 400
    path = tmp_path / "ct512.dcm"
    ds.save_as(path)
    render_preview(path)  # warm caches
    times = []
    for _ in range(20):
        start = time.perf_counter()
        out = render_preview(path)
        times.append(time.perf_counter() - start)
    assert out.shape == (128, 128)
    # A few ms on a CI machine; a generous bound keeps noisy machines green.
    assert sorted(times)[len(times) // 2] < 0.05


def test_accepts_pathlike_and_str(tmp_path: Path):
    path = _write(tmp_path, PROBE, WindowCenter=500, WindowWidth=200)
    assert np.array_equal(render_preview(str(path)), render_preview(os.fspath(path)))
    copy = tmp_path / "copy"
    shutil.copy(path, copy)
    assert render_preview(copy).shape == (3, 3)
