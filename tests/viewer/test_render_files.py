"""`studydesk render` on pydicom's test files, against the standard's formulas
(tests/viewer/formulas.py) applied to what the decoders give: every
photometric interpretation and compressed transfer syntax the installed
decoders (pydicom, pylibjpeg, openjpeg) support, and a clear refusal for
those they do not."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pydicom
import pytest
from pydicom.pixels import pixel_array

from tests.viewer.formulas import (assert_close, scale_to_8_bits, table_lookup, voi_linear,
                                   ybr_full_to_rgb)
from tests.viewer.helpers import sample


def _stored(path, frame: int = 0) -> tuple[pydicom.Dataset, np.ndarray]:
    ds = pydicom.dcmread(path, force=True)
    if "TransferSyntaxUID" not in ds.file_meta:  # a bare data set: say how it was read
        implicit, little = ds.original_encoding
        ds.file_meta.TransferSyntaxUID = (pydicom.uid.ImplicitVRLittleEndian if implicit
                                          else pydicom.uid.ExplicitVRLittleEndian)
    arr = ds.pixel_array
    if int(ds.get("NumberOfFrames") or 1) > 1:
        arr = arr[frame]
    return ds, arr


def _first(value) -> float:
    return float(value[0] if isinstance(value, pydicom.multival.MultiValue) else value)


def _window_of(ds) -> tuple[float, float]:
    for source in (ds, *(g.get("FrameVOILUTSequence", [None])[0] for g in
                         ds.get("SharedFunctionalGroupsSequence", []))):
        if source is not None and "WindowCenter" in source:
            return _first(source.WindowCenter), _first(source.WindowWidth)
    raise AssertionError("no window in the header")


def _rescaled(ds, arr) -> np.ndarray:
    source = ds
    for group in ds.get("SharedFunctionalGroupsSequence", []):
        if group.get("PixelValueTransformationSequence"):
            source = group.PixelValueTransformationSequence[0]
    return arr * float(source.get("RescaleSlope", 1)) + float(source.get("RescaleIntercept", 0))


# name, frame (0-based), window given on the command line (None: the header's)
GREY = [
    ("CT_small.dcm", 0, (40, 400)),               # explicit VR, signed 16-bit, no window
    ("MR_small.dcm", 0, None),
    ("MR_small_bigendian.dcm", 0, None),
    ("MR_small_implicit.dcm", 0, (500, 800)),
    ("MR_small_RLE.dcm", 0, None),                # RLE Lossless
    ("MR_small_jp2klossless.dcm", 0, None),       # JPEG 2000 lossless
    ("MR_small_jpeg_ls_lossless.dcm", 0, None),   # JPEG-LS lossless
    ("JPEGLSNearLossless_16.dcm", 0, (30000, 20000)),  # JPEG-LS near-lossless
    ("JPEG2000.dcm", 0, (100, 300)),              # JPEG 2000
    ("693_J2KI.dcm", 0, None),                    # JPEG 2000 irreversible
    ("JPGExtended.dcm", 0, (100, 300)),           # JPEG extended, 12-bit
    ("image_dfl.dcm", 0, (100, 150)),             # deflated explicit VR
    ("rtdose.dcm", 7, (1.2e6, 8e5)),              # 32-bit multi-frame dose grid
    ("emri_small.dcm", 3, (200, 400)),            # enhanced MR, multi-frame
    ("emri_small_jpeg_2k_lossless.dcm", 9, (200, 400)),
    ("emri_small_jpeg_ls_lossless.dcm", 5, (150, 300)),
    ("emri_small_RLE.dcm", 2, (200, 401)),
    ("eCT_Supplemental.dcm", 1, None),            # enhanced CT: shared functional groups
    ("JPEG-LL.dcm", 0, (100, 300)),               # JPEG lossless, process 14
    ("JPGLosslessP14SV1_1s_1f_8b.dcm", 0, (128, 200)),  # JPEG lossless SV1, 8-bit
    ("693_J2KR.dcm", 0, None),
    ("MR2_J2KR.dcm", 0, None),
]


@pytest.mark.parametrize("name, frame, window", GREY, ids=[g[0] for g in GREY])
def test_monochrome_matches_the_voi_formula(library, render, name, frame, window):
    path = sample(name)
    series = library.add(path)
    args = ["--image", "1", "--frame", str(frame + 1)]
    if window is not None:
        args += ["--window", str(window[0]), str(window[1])]
    code, doc, png, err = render(series, *args)
    assert code == 0, err
    ds, arr = _stored(path, frame)
    c, w = window if window is not None else _window_of(ds)
    assert doc["window"] == [pytest.approx(c), pytest.approx(w)]
    assert png.dtype == np.uint8 and png.ndim == 2
    assert_close(png, voi_linear(_rescaled(ds, arr.astype(np.float64)), c, w))


@pytest.mark.parametrize("name", ["RG3_UNCR.dcm", "RG3_J2KI.dcm"])
def test_monochrome1_is_inverted(library, render, name):
    path = sample(name)
    code, doc, png, err = render(library.add(path), "--image", "1")
    assert code == 0, err
    ds, arr = _stored(path)
    c, w = _window_of(ds)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    assert_close(png, 255 - voi_linear(_rescaled(ds, arr.astype(np.float64)), c, w))


def test_modality_lut_sequence(library, render):
    """mlut_18: a Modality LUT table instead of a rescale, and no window: the
    data range of the table's output is shown black to white."""
    path = sample("mlut_18.dcm")
    code, doc, png, err = render(library.add(path), "--image", "1")
    assert code == 0, err
    ds, arr = _stored(path)
    item = ds.ModalityLUTSequence[0]
    values = table_lookup(arr, item.LUTDescriptor, item.LUTData)
    lo, hi = values.min(), values.max()
    c, w = (lo + hi + 1) / 2, hi - lo + 1
    assert doc["window"] == [pytest.approx(c), pytest.approx(w)]
    assert_close(png, voi_linear(values, c, w))
    assert png.min() == 0 and png.max() == 255


def test_voi_lut_sequence(library, render):
    path = sample("vlut_04.dcm")
    code, doc, png, err = render(library.add(path), "--image", "1")
    assert code == 0, err
    ds, arr = _stored(path)
    item = ds.VOILUTSequence[0]
    bits = int(item.LUTDescriptor[2])
    assert_close(png, scale_to_8_bits(table_lookup(arr, item.LUTDescriptor, item.LUTData), bits))


# name, frame: the decoders' RGB output (YBR_FULL_422 JPEG, YBR_RCT / YBR_ICT
# JPEG 2000 come out as RGB), scaled from BitsStored to 8 bits
COLOUR = [
    ("SC_rgb_jpeg_dcmtk.dcm", 0),        # JPEG baseline, YBR_FULL
    ("SC_rgb_jpeg_gdcm.dcm", 0),         # JPEG baseline, YBR_FULL_422
    ("examples_ybr_color.dcm", 12),      # JPEG baseline, YBR_FULL_422 multi-frame (US cine)
    ("SC_rgb_jls_lossy_line.dcm", 0),    # JPEG-LS near lossless, colour
    ("SC_rgb_rle.dcm", 0),
    ("SC_rgb_rle_2frame.dcm", 1),
    ("SC_rgb_rle_16bit.dcm", 0),
    ("SC_rgb_rle_32bit_2frame.dcm", 1),
    ("SC_rgb_small_odd_big_endian.dcm", 0),
    ("examples_jpeg2k.dcm", 0),
    ("GDCMJ2K_TextGBR.dcm", 0),
    ("US1_UNCR.dcm", 0),
    ("US1_J2KR.dcm", 0),                 # JPEG 2000 lossless, YBR_RCT
    ("US1_J2KI.dcm", 0),                 # JPEG 2000, YBR_ICT
    ("SC_rgb_16bit_2frame.dcm", 1),
    ("color3d_jpeg_baseline.dcm", 60),
]


@pytest.mark.parametrize("name, frame", COLOUR, ids=[c[0] for c in COLOUR])
def test_colour_is_rgb(library, render, name, frame):
    path = sample(name)
    code, doc, png, err = render(library.add(path), "--image", "1", "--frame", str(frame + 1))
    assert code == 0, err
    ds, rgb = _stored(path, frame)
    assert png.dtype == np.uint8 and png.shape == rgb.shape[:2] + (3,)
    assert doc["window"] is None
    assert_close(png, scale_to_8_bits(rgb, int(ds.BitsStored)))


@pytest.mark.parametrize("name", ["SC_ybr_full_uncompressed.dcm",
                                  "SC_ybr_full_422_uncompressed.dcm"])
def test_ybr_full_by_the_formula(library, render, name):
    path = sample(name)
    code, doc, png, err = render(library.add(path), "--image", "1")
    assert code == 0, err
    ybr = pixel_array(path, as_rgb=False)
    assert_close(png, ybr_full_to_rgb(ybr))
    r, g, b = (int(v) for v in png[2, 50])  # the test pattern's top band is red
    assert r > 200 and g < 60 and b < 60


def test_planar_configuration_one(library, render):
    """color-pl: RGB with each colour's plane after the other (C.7.6.3.1.3)."""
    path = sample("color-pl.dcm")
    code, doc, png, err = render(library.add(path), "--image", "1")
    assert code == 0, err
    ds = pydicom.dcmread(path)
    assert ds.PlanarConfiguration == 1
    planes = np.frombuffer(ds.PixelData, np.uint8)[: 3 * ds.Rows * ds.Columns]
    expected = planes.reshape(3, ds.Rows, ds.Columns).transpose(1, 2, 0)
    np.testing.assert_array_equal(png, expected)


@pytest.mark.parametrize("name", ["OBXXXX1A.dcm", "OBXXXX1A_rle_2frame.dcm", "examples_palette.dcm",
                                  "OT-PAL-8-face.dcm"])
def test_palette_colour(library, render, name):
    path = sample(name)
    code, doc, png, err = render(library.add(path), "--image", "1")
    assert code == 0, err
    ds, index = _stored(path)
    channels = []
    for colour in ("Red", "Green", "Blue"):
        descriptor = ds[f"{colour}PaletteColorLookupTableDescriptor"].value
        raw = ds[f"{colour}PaletteColorLookupTableData"].value
        data = np.frombuffer(raw, "<u2") if int(descriptor[2]) == 16 else np.frombuffer(raw, np.uint8)
        channels.append(scale_to_8_bits(table_lookup(index, descriptor, data), int(descriptor[2])))
    assert_close(png, np.stack(channels, axis=-1))


@pytest.mark.parametrize("name", ["JPEG-lossy.dcm", "JPEG2000-embedded-sequence-delimiter.dcm"])
def test_undecodable_file_is_refused_with_its_reason(library, render, name):
    path = sample(name)
    series = library.add(path)
    code, doc, png, err = render(series, "--image", "1")
    assert code == 5
    line = err.strip().splitlines()
    assert len(line) == 1, err
    assert "cannot display pixel data in" in line[0]
    assert line[0].startswith("studydesk: ") and ".dcm:" in line[0]
    syntax = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
    assert str(syntax) in line[0] and syntax.name in line[0]


def test_refusal_from_the_command_line(library, viewer_home, tmp_path):
    """The real command: exit 5, one line naming the stored file and why, no PNG."""
    series = library.add(sample("JPEG-lossy.dcm"))
    out = tmp_path / "lossy.png"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYDESK_")}
    proc = subprocess.run([sys.executable, "-m", "app", "--home", str(viewer_home.root), "render",
                           series, "--image", "1", "--out", str(out), "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 5, proc.stderr
    assert proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert str(viewer_home.root) in line and "JPEG Extended" in line and "12-bit" in line
    assert not out.exists()
