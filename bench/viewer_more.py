"""bench/viewer.py's other figures: scrolling a 200-frame multi-frame (native
and JPEG 2000 lossless) and the window/level drag rate.

- multi-frame: one file of --frames 512x512 frames (the chest phantom of
  bench/_common.py as a Multi-frame Grayscale Word Secondary Capture with a
  rescale to HU and a window), written once under --data, natively and, if
  the installed encoders can (pylibjpeg-openjpeg), in JPEG 2000 lossless.
  Scrolled as the 500-image series is (every frame decoded, the position
  moving on as soon as the frame is ready), against the same kind of
  anchor: a bare loop of pydicom's frame decode (``pixel_array(path,
  index=i)``, which reads only that frame) and the numpy window.
- window/level drag: the right button held on a 512x512 CT and moved, one
  step each time the last step is painted (what a mouse faster than the
  screen gets): redraws per second, against a bare numpy window of the same
  frame's HU (the least one redraw costs).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from _common import SIZE, _ct_template, _Phantom

SC_WORD = "1.2.840.10008.5.1.4.1.1.7.3"  # Multi-frame Grayscale Word SC Image Storage


def multiframe_files(data: Path, frames: int) -> dict[str, Path]:
    """{"native": path, "jpeg2000": path (when it can be encoded)}, written once."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, generate_uid

    folder = data / f"mf{frames}"
    folder.mkdir(parents=True, exist_ok=True)
    out = {"native": folder / "native" / "MF.dcm", "jpeg2000": folder / "j2k" / "MF.dcm"}
    if out["native"].exists() and out["jpeg2000"].exists():
        return out
    phantom = _Phantom(frames)
    ds = _ct_template(generate_uid(), generate_uid())
    ds.SOPClassUID = SC_WORD
    ds.ConversionType = "WSD"
    ds.NumberOfFrames = frames
    ds.FrameIncrementPointer = 0x00181063  # Frame Time
    ds.FrameTime = "40"
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 15, 1
    for keyword in ("ImagePositionPatient", "SliceLocation"):
        if keyword in ds:
            delattr(ds, keyword)
    stack = np.stack([phantom.slice_hu(i / max(1, frames - 1)) for i in range(frames)])
    ds.PixelData = np.clip(stack + 1024.0, -32768, 32767).astype("<i2").tobytes()
    for name, path in out.items():
        ds.SeriesInstanceUID = generate_uid()
        ds.SeriesDescription = f"MULTI-FRAME {name.upper()}"
        ds.SOPInstanceUID = generate_uid()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = SC_WORD
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        path.parent.mkdir(exist_ok=True)
        if name == "jpeg2000":
            try:
                copy = ds.copy()
                copy.compress(JPEG2000Lossless)
            except Exception as exc:  # noqa: BLE001 - no encoder here: native only
                print(f"no JPEG 2000 multi-frame ({type(exc).__name__}: {exc})")
                out.pop(name)
                continue
            copy.save_as(path, enforce_file_format=True)
        else:
            ds.save_as(path, enforce_file_format=True)
    return out


def frame_anchor(path: Path, frames: int) -> float:
    """Frames per second: pydicom's frame decode + the numpy window, bare."""
    import pydicom
    from pydicom.pixels import pixel_array

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
    c, w = float(ds.WindowCenter), float(ds.WindowWidth)
    t0 = time.perf_counter()
    for i in range(frames):
        hu = pixel_array(path, index=i).astype(np.float32) * slope + intercept
        out = ((hu - (c - 0.5)) / (w - 1) + 0.5) * 255
        np.clip(out, 0, 255, out=out).astype(np.uint8)
    return frames / (time.perf_counter() - t0)


def window_anchor(hu: np.ndarray, steps: int = 200) -> float:
    """Windows per second of one frame's HU to uint8 in numpy, bare."""
    t0 = time.perf_counter()
    for i in range(steps):
        c, w = 40.0 + i % 50, 400.0 + i % 70
        out = ((hu - (c - 0.5)) / (w - 1) + 0.5) * 255
        np.clip(out, 0, 255, out=out).astype(np.uint8)
    return steps / (time.perf_counter() - t0)


def drag_rate(qapp, window, run_until, steps: int = 200) -> tuple[float, float]:
    """(redraws per second, the anchor's windows per second) for a right-drag
    on the window's first viewport, each step once the last one is painted."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent

    viewport = window.panes[0].viewport
    entry = viewport.current()
    start = QPointF(viewport.width() / 2, viewport.height() / 2)

    def send(kind, pos, button, buttons):
        event = QMouseEvent(kind, pos, viewport.mapToGlobal(pos), button, buttons,
                            Qt.KeyboardModifier.NoModifier)
        qapp.sendEvent(viewport, event)

    right = Qt.MouseButton.RightButton
    send(QEvent.Type.MouseButtonPress, start, right, right)
    painted = {"n": 0}
    viewport.shown.connect(lambda _i: painted.__setitem__("n", painted["n"] + 1))
    t0 = time.perf_counter()
    for i in range(1, steps + 1):
        before = painted["n"]
        offset = (i % 40) - 20  # back and forth over 40 px: the window stays in range
        send(QEvent.Type.MouseMove, start + QPointF(offset, -offset), Qt.MouseButton.NoButton, right)
        run_until(qapp, lambda: painted["n"] > before)
    seconds = time.perf_counter() - t0
    send(QEvent.Type.MouseButtonRelease, start, right, Qt.MouseButton.NoButton)
    return steps / seconds, window_anchor(entry.frame.values)
