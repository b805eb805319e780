"""`studydesk render`: image N of a series drawn exactly as the viewer draws
it (:mod:`app.viewer.display`), at its own size and without overlays,
written as a PNG (8-bit grey for monochrome, RGB for colour).

It lets tests, and anyone with a script, compare the viewer's pixels with
an independent computation of the standard's formulas.
"""

from __future__ import annotations

import math

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.errors import BadInput, NotFound
from app.viewer.display import Display, load_frame
from app.viewer.series import series_images


@dataclass
class Rendered:
    display: Display
    sop_instance_uid: str
    image: int  # 1-based, in display order
    frame: int  # 1-based
    frames: int

    @property
    def rows(self) -> int:
        return int(self.display.pixels.shape[0])

    @property
    def columns(self) -> int:
        return int(self.display.pixels.shape[1])


def render_image(home, db, series_uid: str, image: int, frame: int = 1,
                 window: tuple[float, float] | None = None) -> Rendered:
    """Draw image `image` (1-based, display order), frame `frame` (1-based).

    `window` (centre, width) replaces the header's VOI stage. Raises
    NotFound for an unknown series or an image or frame it does not have,
    BadInput for numbers below 1 or a width that is not positive, and
    Undisplayable (exit 5) naming the file and the reason when the frame
    cannot be decoded or holds no pixel data.
    """
    if image < 1:
        raise BadInput(f"--image is 1-based, got {image}")
    if frame < 1:
        raise BadInput(f"--frame is 1-based, got {frame}")
    if window is not None and not all(math.isfinite(float(v)) for v in window):
        raise BadInput(f"window centre and width must be finite numbers, got {window[0]:g} "
                       f"{window[1]:g}")
    if window is not None and not float(window[1]) > 0:
        raise BadInput(f"window width must be positive, got {window[1]:g}")
    images = series_images(home, db, series_uid)
    if image > len(images):
        raise NotFound(f"series {series_uid}: no image {image} (it has {len(images)})")
    chosen = images[image - 1]
    if frame > chosen.frames:
        raise NotFound(f"image {image} of series {series_uid}: no frame {frame} "
                       f"(it has {chosen.frames})")
    loaded = load_frame(chosen.path, frame - 1)
    return Rendered(loaded.draw(window), chosen.sop_instance_uid, image, frame, loaded.frames)


def write_png(path: str | os.PathLike, pixels: np.ndarray) -> Path:
    """Write uint8 grey (H, W) or RGB (H, W, 3) pixels as a PNG, whole or
    not at all (a temporary file renamed into place). Returns the path."""
    from PIL import Image  # a dependency already (disc previews); loaded only here

    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".render-", suffix=".png", dir=target.parent)
    except OSError as exc:
        raise BadInput(f"{target}: cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(f, "PNG")
        os.replace(tmp, target)
    except OSError as exc:
        raise BadInput(f"{target}: cannot write ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
