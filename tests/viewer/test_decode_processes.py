"""The viewer decodes compressed frames in worker processes (app.viewer.decoder)
and native ones in the calling thread: same frames, same refusals, the GUI
process's interpreter lock free while a JPEG 2000 frame decodes (asserted by
where each frame was decoded, not by timing)."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from app.viewer import decoder
from app.viewer.display import load_frame, load_native_frame
from tests.viewer.helpers import sample


@pytest.fixture(scope="module", autouse=True)
def pool():
    decoder.warm()
    yield
    decoder._POOL.discard(decoder._POOL._executor)


def _same(a, b):
    assert a.error == b.error == ""
    for name in ("values", "rgb"):
        x, y = getattr(a.frame, name), getattr(b.frame, name)
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.display.pixels, b.display.pixels)
    assert (a.display.window, a.display.function, a.display.aspect, a.display.inverted) == \
        (b.display.window, b.display.function, b.display.aspect, b.display.inverted)
    assert (a.frame.index, a.frame.frames, a.frame.header_window, a.frame.function) == \
        (b.frame.index, b.frame.frames, b.frame.header_window, b.frame.function)


@pytest.mark.parametrize("name, frame, drawn_for", [
    ("MR_small_jp2klossless.dcm", 0, (None, False)),   # JPEG 2000 lossless
    ("US1_J2KI.dcm", 0, (None, True)),                 # JPEG 2000, colour, inverted
    ("MR_small_RLE.dcm", 0, ((600, 1200), False)),      # RLE, a window given
    ("SC_rgb_rle_2frame.dcm", 1, (None, False)),       # a second frame
])
def test_compressed_frame_decodes_in_a_worker_as_it_does_here(name, frame, drawn_for):
    path = str(sample(name))
    assert load_native_frame(path, frame) is None  # not the native reader's
    pooled = decoder.decode(path, frame, drawn_for)
    here = decoder.decode_here(path, frame, drawn_for)
    assert here.pid == os.getpid()
    assert pooled.pid != os.getpid()  # another process held its interpreter lock
    _same(pooled, here)
    # the frame that came back behaves like a local one
    local = load_frame(path, frame)
    assert pooled.frame.ds.SOPInstanceUID == local.ds.SOPInstanceUID
    assert "PixelData" not in pooled.frame.ds  # the pixels travel once, decoded
    np.testing.assert_array_equal(pooled.frame.draw((40, 400), True).pixels,
                                  local.draw((40, 400), True).pixels)


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small_implicit.dcm"])
def test_native_frame_decodes_in_this_process(name):
    path = str(sample(name))
    assert load_native_frame(path, 0) is not None
    decoded = decoder.decode(path, 0)
    assert decoded.pid == os.getpid() and decoded.error == ""
    np.testing.assert_array_equal(decoded.frame.values, load_frame(path, 0).values)


def test_an_object_without_pixels_says_so_from_the_worker():
    decoded = decoder.decode(str(sample("rtstruct.dcm")), 0)
    assert decoded.frame is None and "no pixel data to display" in decoded.error


@pytest.mark.parametrize("name", ["JPEG-lossy.dcm", "JPEG2000-embedded-sequence-delimiter.dcm"])
def test_undecodable_frame_gives_the_same_placeholder(name):
    path = str(sample(name))
    pooled = decoder.decode(path, 0)
    here = decoder.decode_here(path, 0)
    assert pooled.pid != os.getpid()
    assert pooled.frame is None and here.frame is None
    assert pooled.error == here.error and "cannot display pixel data" in pooled.error


def test_missing_file_gives_a_placeholder(tmp_path):
    decoded = decoder.decode(str(tmp_path / "gone.dcm"), 0)
    assert decoded.frame is None and "gone.dcm" in decoded.error


def test_result_pickles():
    decoded = decoder.decode_here(str(sample("MR_small_jp2klossless.dcm")), 0)
    back = pickle.loads(pickle.dumps(decoded))
    _same(back, decoded)


def test_a_broken_pool_decodes_here_then_a_new_pool(monkeypatch):
    path = str(sample("MR_small_jp2klossless.dcm"))
    first = decoder._POOL.ready()
    assert first is not None
    for process in list(first._processes.values()):
        process.kill()
    decoded = decoder.decode(path, 0)  # the broken pool: decoded here, nothing lost
    assert decoded.error == "" and decoded.frame is not None
    again = decoder.decode(path, 0)
    assert again.pid != os.getpid()
    assert decoder._POOL.ready() is not first


def test_no_pool_decodes_here(monkeypatch):
    monkeypatch.setattr(decoder._POOL, "ready", lambda: None)
    decoded = decoder.decode(str(sample("MR_small_jp2klossless.dcm")), 0)
    assert decoded.pid == os.getpid() and decoded.error == ""


def test_workers_end_with_the_pool():
    pool = decoder._POOL.ready()
    processes = list(pool._processes.values())
    assert processes and all(p.is_alive() for p in processes)
    decoder._POOL.discard(pool)
    for p in processes:
        p.join(10)
    assert not any(p.is_alive() for p in processes)
    assert decoder.decode(str(sample("MR_small_jp2klossless.dcm")), 0).pid != os.getpid()
