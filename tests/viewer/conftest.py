"""Fixtures of the viewer tests: a home holding images, and `studydesk
render` run as a user would (the real command, its PNG read back)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from app.startup import open_home
from tests.viewer.helpers import Library


@pytest.fixture(scope="module")
def viewer_home(tmp_path_factory):
    """One home for a module's images (each added as a series of its own)."""
    return open_home(tmp_path_factory.mktemp("viewer") / "home")


@pytest.fixture(scope="module")
def library(viewer_home, tmp_path_factory) -> Library:
    return Library(viewer_home, tmp_path_factory.mktemp("sources"))


@pytest.fixture
def render(viewer_home, tmp_path, capsys):
    """``render(series, "--image", "1", ...)`` -> (exit code, JSON, pixels or None, stderr)."""

    def run(series: str, *args: str):
        out = tmp_path / f"r{len(list(tmp_path.iterdir()))}.png"
        code = main(["--home", str(viewer_home.root), "render", series, *args,
                     "--out", str(out), "--json"])
        captured = capsys.readouterr()
        doc = json.loads(captured.out) if code == 0 else None
        pixels = np.asarray(Image.open(out)) if code == 0 else None
        if code == 0:
            assert doc["path"] == str(out)
            assert [doc["rows"], doc["columns"]] == list(pixels.shape[:2])
        return code, doc, pixels, captured.err

    return run
