#!/usr/bin/env bash
# Run the test suite (arguments go to pytest), after `bash scripts/setup.sh --tests`.
#
# The window tests run on a virtual X screen (xvfb-run -a); without xvfb-run
# they fall back to Qt's offscreen platform. TCP_NODELAY=1 is exported so that
# DCMTK and Orthanc started by the tests disable Nagle's algorithm (otherwise
# every DICOM transfer on loopback crawls at ~20 files/s: shared/FACTS.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PY="$ROOT/.venv/bin/python"
if [ ! -x "$PY" ]; then
    echo "test.sh: no .venv here: run 'bash scripts/setup.sh --tests' first" >&2
    exit 2
fi

export TCP_NODELAY=1

if command -v xvfb-run >/dev/null 2>&1 && command -v xauth >/dev/null 2>&1; then
    # -a takes the first free display from -n on; a random start keeps two
    # runs on one machine from racing for the same display number.
    exec xvfb-run -a -n "$((100 + RANDOM % 800))" -s "-screen 0 1600x1000x24" \
        "$PY" -m pytest "$@"
else
    echo "test.sh: xvfb-run not found: using QT_QPA_PLATFORM=offscreen" >&2
    export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
    exec "$PY" -m pytest "$@"
fi
