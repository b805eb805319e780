"""Fixtures shared by every test. Keep this small: area fixtures live in the
sub-folders' own conftest.py (tests/core, tests/cli, tests/ui)."""

from __future__ import annotations

import os
import socket

import pytest

from app.startup import open_home

# The window tests need a display: scripts/test.sh runs pytest under xvfb-run;
# anywhere else without a display, Qt draws offscreen.
if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# DCMTK and Orthanc started by tests read this; without it Nagle's algorithm
# costs ~45 ms per file on loopback (shared/FACTS.md). scripts/test.sh sets it
# too; this covers a bare `pytest`.
os.environ.setdefault("TCP_NODELAY", "1")


def _free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def free_port():
    """The helper itself: ``port = free_port()`` (one new port per call)."""
    return _free_port


@pytest.fixture
def home(tmp_path):
    """A new, initialised data folder (its first admin is the OS login name)."""

    return open_home(tmp_path / "home")
