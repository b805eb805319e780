"""The standard's formulas, written out again for the tests: the reference
that `studydesk render` is compared with. Deliberately plain numpy in
float64, sharing nothing with app/ (PS3.3 C.11.1, C.11.2.1.2, C.11.2.1.3,
C.7.6.3.1.2, C.7.6.3.1.5)."""

from __future__ import annotations

import numpy as np


def voi_linear(x, c: float, w: float) -> np.ndarray:
    """C.11.2.1.2.1, output range 0..255."""
    x = np.asarray(x, np.float64)
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0
    y[x <= c - 0.5 - (w - 1) / 2] = 0
    y[x > c - 0.5 + (w - 1) / 2] = 255
    return y


def voi_linear_exact(x, c: float, w: float) -> np.ndarray:
    """C.11.2.1.3.2."""
    x = np.asarray(x, np.float64)
    y = ((x - c) / w + 0.5) * 255.0
    y[x <= c - w / 2] = 0
    y[x > c + w / 2] = 255
    return y


def voi_sigmoid(x, c: float, w: float) -> np.ndarray:
    """C.11.2.1.3.1."""
    x = np.asarray(x, np.float64)
    return 255.0 / (1.0 + np.exp(-4.0 * (x - c) / w))


def table_lookup(x, descriptor, data) -> np.ndarray:
    """A Modality or VOI LUT (C.11.1.1, C.11.2.1.1): inputs below the first
    mapped value take the first entry, above the last the last."""
    entries = int(descriptor[0]) or 65536
    first = int(descriptor[1])
    table = np.asarray(data, np.float64)[:entries]
    index = np.clip(np.asarray(x, np.int64) - first, 0, entries - 1)
    return table[index]


def ybr_full_to_rgb(ybr) -> np.ndarray:
    """C.7.6.3.1.2 YBR_FULL (and YBR_FULL_422 once its chroma is repeated)."""
    y, cb, cr = (np.asarray(ybr, np.float64)[..., i] for i in range(3))
    r = y + 1.402 * (cr - 128)
    g = y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128)
    b = y + 1.772 * (cb - 128)
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255)


def scale_to_8_bits(values, bits: int) -> np.ndarray:
    return np.asarray(values, np.float64) * (255.0 / ((1 << bits) - 1))


def assert_close(png: np.ndarray, reference: np.ndarray, tolerance: float = 1.0) -> None:
    """Rendered uint8 against the float reference: rounding apart, equal."""
    assert png.shape == reference.shape, (png.shape, reference.shape)
    diff = np.abs(png.astype(np.float64) - reference)
    assert diff.max() <= tolerance, f"max difference {diff.max():.2f} at {np.unravel_index(diff.argmax(), diff.shape)}"
    assert diff.mean() <= 0.5, f"mean difference {diff.mean():.3f}"
