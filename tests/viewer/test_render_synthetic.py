"""`studydesk render` on images made for the purpose: each VOI function, VOI
LUT tables, signed and 12-bit data, enhanced multi-frame functional groups,
the series' display order and the refusals of the command line."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from app.viewer.display import prepare
from app.viewer.presets import CT_PRESETS, presets_for
from tests.viewer.formulas import (assert_close, scale_to_8_bits, table_lookup, voi_linear,
                                   voi_linear_exact, voi_sigmoid)
from tests.factories import sc_dataset
from tests.viewer.helpers import sample

RAMP = np.arange(-1024, 3072, 4, dtype=np.int16).reshape(32, 32)  # every value from air to bone


def _item(**elements) -> Dataset:
    item = Dataset()
    for keyword, value in elements.items():
        setattr(item, keyword, value)
    return item


@pytest.mark.parametrize("function, formula", [
    ("LINEAR", voi_linear), ("LINEAR_EXACT", voi_linear_exact), ("SIGMOID", voi_sigmoid)])
def test_each_voi_function_of_the_header(library, render, function, formula):
    ds = sc_dataset(RAMP, WindowCenter=[300, 40], WindowWidth=[1000, 80], VOILUTFunction=function)
    code, doc, png, err = render(library.add(ds), "--image", "1")
    assert code == 0, err
    assert doc["window"] == [300, 1000]  # the first of the header's windows
    assert_close(png, formula(RAMP, 300, 1000))


def test_a_given_window_keeps_the_header_function(library, render):
    ds = sc_dataset(RAMP, WindowCenter=300, WindowWidth=1000, VOILUTFunction="SIGMOID")
    code, doc, png, err = render(library.add(ds), "--image", "1", "--window", "-600", "1500")
    assert code == 0, err
    assert doc["window"] == [-600, 1500]
    assert_close(png, voi_sigmoid(RAMP, -600, 1500))


def test_rescale_and_narrow_windows(library, render):
    stored = (RAMP.astype(np.int32) + 1024).astype(np.uint16)  # unsigned, intercept -1024
    ds = sc_dataset(stored, RescaleSlope=1, RescaleIntercept=-1024, WindowCenter=40, WindowWidth=80)
    series = library.add(ds)
    for c, w in [(40, 80), (40.5, 2), (-600, 1500), (0, 1)]:
        code, doc, png, err = render(series, "--image", "1", "--window", str(c), str(w))
        assert code == 0, err
        if w > 1:
            assert_close(png, voi_linear(RAMP, c, w))
        else:  # width 1: a threshold at c - 0.5 (C.11.2.1.2.1)
            np.testing.assert_array_equal(png, np.where(RAMP > c - 0.5, 255, 0))


def test_32_bit_values_beyond_float32s_integers(library, render):
    """Values near 10**8 differ by less than float32's step there (8): a
    narrow window over them must still follow the formula."""
    stored = (100_000_000 + np.arange(1024, dtype=np.uint32)).reshape(32, 32)
    ds = sc_dataset(stored, WindowCenter=100_000_512, WindowWidth=100)
    code, doc, png, err = render(library.add(ds), "--image", "1")
    assert code == 0, err
    assert_close(png, voi_linear(stored.astype(np.float64), 100_000_512, 100))


def test_signed_12_bit_in_16(library, render):
    """Bits Stored 12 of 16, two's complement in the low 12 bits (what is
    above the high bit is not part of the value)."""
    values = np.linspace(-2048, 2047, 64 * 64).round().astype(np.int16).reshape(64, 64)
    raw = (values.astype(np.int32) & 0x0FFF).astype(np.uint16)
    raw[::2] |= 0xF000  # garbage above the high bit in every other row
    ds = sc_dataset(raw, BitsStored=12, HighBit=11, PixelRepresentation=1,
                    RescaleSlope=2, RescaleIntercept=10, WindowCenter=0, WindowWidth=3000)
    code, doc, png, err = render(library.add(ds), "--image", "1")
    assert code == 0, err
    decoded = (raw & 0x0FFF).astype(np.int32)
    decoded[decoded >= 2048] -= 4096
    assert_close(png, voi_linear(decoded * 2 + 10, 0, 3000))


def test_monochrome1_signed(library, render):
    ds = sc_dataset(RAMP, "MONOCHROME1", WindowCenter=1000, WindowWidth=2000)
    code, doc, png, err = render(library.add(ds), "--image", "1")
    assert code == 0, err
    assert_close(png, 255 - voi_linear(RAMP, 1000, 2000))
    assert png[0, 0] == 255 and png[-1, -1] == 0  # low values white


def test_voi_lut_sequence_with_a_signed_first_value(library, render):
    entries, first = 2048, -1000
    table = (np.arange(entries) ** 2 // (entries * entries // 4096)).clip(0, 4095).astype(np.uint16)
    lut = _item(LUTDescriptor=[entries, first, 12], LUTData=table.tolist())
    lut["LUTData"].VR = "US"
    ds = sc_dataset(RAMP, VOILUTSequence=Sequence([lut]))
    code, doc, png, err = render(library.add(ds), "--image", "1")
    assert code == 0, err
    assert_close(png, scale_to_8_bits(table_lookup(RAMP, (entries, first, 12), table), 12))
    assert png[0, 0] == 0 and png[-1, -1] == 255  # below and above the table: its ends


def test_modality_lut_sequence_then_window(library, render):
    table = np.concatenate([np.zeros(100), np.linspace(0, 2000, 412)]).astype(np.uint16)
    lut = _item(LUTDescriptor=[512, 0, 16], ModalityLUTType="US", LUTData=table.tolist())
    lut["LUTData"].VR = "US"
    stored = (np.arange(32 * 32) % 600).astype(np.uint16).reshape(32, 32)
    ds = sc_dataset(stored, ModalityLUTSequence=Sequence([lut]), WindowCenter=1000, WindowWidth=1500)
    code, doc, png, err = render(library.add(ds), "--image", "1")
    assert code == 0, err
    assert_close(png, voi_linear(table_lookup(stored, (512, 0, 16), table), 1000, 1500))


def test_without_a_window(library, render):
    """No VOI in the header: 8-bit data as its bytes say, anything else from
    its smallest value (black) to its largest (white)."""
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    code, doc, png, err = render(library.add(sc_dataset(grey)), "--image", "1")
    assert code == 0, err
    np.testing.assert_array_equal(png, grey)
    assert doc["window"] == [128, 256]
    code, doc, png, err = render(library.add(sc_dataset(RAMP)), "--image", "1")
    lo, hi = int(RAMP.min()), int(RAMP.max())
    assert doc["window"] == [(lo + hi + 1) / 2, hi - lo + 1]
    assert_close(png, voi_linear(RAMP, (lo + hi + 1) / 2, hi - lo + 1))
    assert png.min() == 0 and png.max() == 255


def test_enhanced_multiframe_per_frame_groups(library, render):
    """Enhanced CT: each frame's Pixel Value Transformation and Frame VOI LUT
    (per-frame groups win over shared ones)."""
    frames = np.stack([RAMP + 100 * i for i in range(3)]).astype(np.int16)
    shared = _item(PixelValueTransformationSequence=Sequence([_item(
        RescaleSlope=1, RescaleIntercept=0, RescaleType="HU")]),
        FrameVOILUTSequence=Sequence([_item(WindowCenter=40, WindowWidth=400)]))
    per_frame = [
        _item(),  # frame 1: the shared groups
        _item(PixelValueTransformationSequence=Sequence([_item(
            RescaleSlope=2, RescaleIntercept=-500, RescaleType="HU")])),
        _item(FrameVOILUTSequence=Sequence([_item(WindowCenter=500, WindowWidth=1000,
                                                  VOILUTFunction="LINEAR_EXACT")])),
    ]
    ds = sc_dataset(frames, frames=True, SOPClassUID="1.2.840.10008.5.1.4.1.1.2.1",
                    SharedFunctionalGroupsSequence=Sequence([shared]),
                    PerFrameFunctionalGroupsSequence=Sequence(per_frame))
    series = library.add(ds)
    expected = [voi_linear(frames[0], 40, 400), voi_linear(frames[1] * 2.0 - 500, 40, 400),
                voi_linear_exact(frames[2], 500, 1000)]
    for number, reference in enumerate(expected, start=1):
        code, doc, png, err = render(series, "--image", "1", "--frame", str(number))
        assert code == 0, err
        assert_close(png, reference)
    code, doc, png, err = render(series, "--image", "1", "--frame", "4")
    assert code == 4 and "no frame 4 (it has 3)" in err


def _slice(value: int, number: int | None, z: float) -> Dataset:
    ds = sc_dataset(np.full((4, 4), value, np.uint16), WindowCenter=500, WindowWidth=1000,
                    ImageOrientationPatient=[1, 0, 0, 0, 1, 0], ImagePositionPatient=[0, 0, z])
    if number is not None:
        ds.InstanceNumber = number
    return ds


def _shown(render, series, n: int) -> int:
    code, doc, png, err = render(series, "--image", str(n))
    assert code == 0, err
    return int(png[0, 0])


def test_display_order_by_instance_number(library, render):
    series = library.add(_slice(900, 3, 0.0), _slice(100, 1, 10.0), _slice(500, 2, 5.0))
    assert [_shown(render, series, n) for n in (1, 2, 3)] == [
        round(voi_linear(np.array([v]), 500, 1000)[0]) for v in (100, 500, 900)]


def test_display_order_by_position_without_numbers(library, render):
    """No Instance Numbers: along the slice normal (feet to head for axial)."""
    series = library.add(_slice(900, None, 20.0), _slice(100, None, -10.0), _slice(500, None, 2.5))
    values = [_shown(render, series, n) for n in (1, 2, 3)]
    assert values == sorted(values) and values[0] < values[1] < values[2]


def test_usage_and_range_refusals(library, render):
    series = library.add(sc_dataset(RAMP))
    code, _, _, err = render(series, "--image", "2")
    assert code == 4 and "no image 2 (it has 1)" in err
    code, _, _, err = render(series, "--image", "0")
    assert code == 2 and "1-based" in err
    code, _, _, err = render(series, "--image", "1", "--window", "40", "0")
    assert code == 2 and "width" in err
    for centre, width in (("40", "inf"), ("nan", "400")):
        code, doc, png, err = render(series, "--image", "1", "--window", centre, width)
        assert code == 2 and "finite" in err and doc is None
    code, _, _, err = render("1.2.3.4.5.6.7.8.9", "--image", "1")
    assert code == 4 and "not in the cache" in err
    code, doc, png, err = render(series[:-3], "--image", "1")  # an unambiguous prefix
    assert code == 0, err


def test_object_without_pixels_is_refused(library, render):
    code, _, _, err = render(library.add(sample("rtplan.dcm")), "--image", "1")
    assert code == 5 and "no pixel data to display (RTPLAN holds no image)" in err


def test_pixel_aspect_ratio_is_kept_for_the_viewer():
    """render writes the stored grid; the viewer stretches rows by `aspect`."""
    tall = sc_dataset(np.zeros((10, 10), np.uint16), PixelSpacing=[0.5, 0.25])
    assert prepare(tall, np.zeros((10, 10), np.uint16)).draw().aspect == 2.0
    wide = sc_dataset(np.zeros((10, 10), np.uint8), PixelAspectRatio=[1, 2])
    assert prepare(wide, np.zeros((10, 10), np.uint8)).draw().aspect == 0.5


def test_presets():
    ct = presets_for("CT", sc_dataset(RAMP, WindowCenter=[40, 300], WindowWidth=[400, 1500],
                                      WindowCenterWidthExplanation=["SOFT", "BONE"]))
    assert [(p.key, p.name) for p in ct[:6]] == [
        ("1", "Brain"), ("2", "Subdural"), ("3", "Lung"), ("4", "Mediastinum"), ("5", "Abdomen"),
        ("6", "Bone")]
    assert [(p.name, p.window) for p in ct[6:]] == [("SOFT", (40, 400)), ("BONE", (300, 1500))]
    assert CT_PRESETS[2].window == (-600, 1500)
    mr = presets_for("MR", sc_dataset(RAMP), data_range=(1000, 2000))
    assert [(p.name, p.window) for p in mr] == [("Full range", (1000, 2000))]


def test_the_viewer_can_order_by_position_or_acquisition(library, viewer_home):
    """Instance numbers that contradict the positions and acquisition times
    (a reformatted or re-numbered series): each order the viewer offers."""
    from app.viewer.series import series_images

    slices = [_slice(v, n, z) for v, n, z in [(100, 1, 30.0), (200, 2, -30.0), (300, 3, 0.0)]]
    for ds, time in zip(slices, ["101500", "101000", "100500"]):
        ds.AcquisitionNumber, ds.AcquisitionTime = 1, time
    series = library.add(*slices)
    db = viewer_home.connect()
    try:
        def numbers(order):
            return [i.instance_number for i in series_images(viewer_home, db, series, order)]

        assert numbers("instance") == [1, 2, 3]
        assert numbers("position") == [2, 3, 1]
        assert numbers("acquisition") == [3, 2, 1]
    finally:
        db.close()
