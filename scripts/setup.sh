#!/usr/bin/env bash
# Install StudyDesk from a clone on a fresh Debian/Ubuntu machine (idempotent).
#
#   bash scripts/setup.sh            the workstation: Qt's system libraries, .venv
#   bash scripts/setup.sh --tests    also what the tests talk to: Orthanc, DCMTK,
#                                    dicom3tools, xorriso
#
# System packages are installed with apt-get when running as root or with
# sudo; otherwise the missing ones are listed and the rest goes on.
# Python: $PYTHON if set, else python3; 3.11 or newer. The venv is .venv in
# the project root, with StudyDesk installed editable ('.[test]').
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

WITH_TESTS=0
for arg in "$@"; do
    case "$arg" in
        --tests) WITH_TESTS=1 ;;
        -h | --help)
            sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "setup.sh: unknown option: $arg (use --tests or --help)" >&2
            exit 2
            ;;
    esac
done

say() { printf 'setup: %s\n' "$*" >&2; }
die() {
    printf 'setup: error: %s\n' "$*" >&2
    exit 1
}

# Run a command quietly; show its output only when it fails.
quiet() {
    local log rc=0
    log="$(mktemp)"
    "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$log" >&2
        rm -f "$log"
        die "failed ($rc): $*"
    fi
    rm -f "$log"
}

# Qt's xcb platform plugin and what it loads (shared/FACTS.md: found with ldd
# on libqxcb.so under Xvfb on a fresh Debian 12).
WINDOW_PACKAGES=(
    xvfb xauth libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0
    libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0
    libxcb-render-util0 libxcb-shape0 libxcb-sync1 libxcb-xfixes0 libxcb-xkb1
    libx11-xcb1 libfontconfig1 libfreetype6 libdbus-1-3 libglib2.0-0
    fonts-dejavu-core
)
# The real servers and tools the tests use (shared/ARCHITECTURE.md).
TEST_PACKAGES=(orthanc orthanc-dicomweb dcmtk dicom3tools xorriso openssl binutils)  # openssl: throwaway TLS certificates; binutils: objdump and objcopy for PyInstaller (scripts/bundle.sh);
# orthanc-dicomweb: the DICOMweb plugin the DICOMweb node tests load (tests/net/test_dicomweb.py)

# --- which Python -----------------------------------------------------------

PY="${PYTHON:-python3}"
if [ -x .venv/bin/python ] && .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    HAVE_VENV=1
else
    HAVE_VENV=0
fi

py_ok() { command -v "$PY" >/dev/null 2>&1 && "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
py_can_venv() { "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; }

PACKAGES=("${WINDOW_PACKAGES[@]}")
if [ "$WITH_TESTS" -eq 1 ]; then
    PACKAGES+=("${TEST_PACKAGES[@]}")
fi
if [ "$HAVE_VENV" -eq 0 ]; then
    if ! command -v "$PY" >/dev/null 2>&1; then
        # A minimal Debian without Python: Debian 12's python3 is 3.11.
        PACKAGES+=(python3 python3-venv)
    elif py_ok && ! py_can_venv; then
        # Debian splits venv/ensurepip off into pythonX.Y-venv.
        if [ "$(readlink -f "$(command -v "$PY")")" = "$(readlink -f /usr/bin/python3 2>/dev/null)" ]; then
            PACKAGES+=(python3-venv)
        else
            PACKAGES+=("python$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv")
        fi
    fi
fi

# --- system packages -------------------------------------------------------

is_installed() {
    # Ubuntu 24.04 renamed some libraries with a t64 suffix (libglib2.0-0t64).
    local p
    for p in "$1" "${1}t64"; do
        if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ]; then
            return 0
        fi
    done
    return 1
}

MISSING=()
if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    for p in "${PACKAGES[@]}"; do
        is_installed "$p" || MISSING+=("$p")
    done
    if [ "${#MISSING[@]}" -gt 0 ]; then
        SUDO=()
        CAN_INSTALL=1
        if [ "$(id -u)" -ne 0 ]; then
            if command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
                SUDO=(sudo)
            else
                CAN_INSTALL=0
            fi
        fi
        if [ "$CAN_INSTALL" -eq 1 ]; then
            say "installing ${#MISSING[@]} Debian packages: ${MISSING[*]}"
            quiet "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
            quiet "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                --no-install-recommends "${MISSING[@]}"
            MISSING=()
        else
            say "warning: not root and no sudo: these Debian packages are missing, install them with"
            say "    apt-get install ${MISSING[*]}"
        fi
    fi
else
    say "warning: not a Debian/Ubuntu system (no apt-get): install the equivalents of"
    say "    ${PACKAGES[*]}"
fi

# --- the virtual environment -----------------------------------------------

if [ "$HAVE_VENV" -eq 0 ]; then
    if ! command -v "$PY" >/dev/null 2>&1; then
        die "no Python found ('$PY'). StudyDesk needs Python 3.11 or newer: install python3 (Debian 12 has 3.11) or set PYTHON=/path/to/python3.11"
    fi
    if ! py_ok; then
        die "StudyDesk needs Python 3.11 or newer; '$PY' is $("$PY" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo unknown). Set PYTHON=/path/to/python3.11 (or newer) and run again."
    fi
    if ! py_can_venv; then
        die "'$PY' cannot create virtual environments (no venv/ensurepip): install python3-venv and run again"
    fi
    say "creating .venv with $("$PY" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    if [ -e .venv ]; then
        quiet "$PY" -m venv --clear .venv # a broken or too old venv
    else
        quiet "$PY" -m venv .venv
    fi
fi

# Reinstall only when pyproject.toml changed or the editable install does not
# point at this clone (a moved or fresh checkout).
STAMP=.venv/.studydesk-setup
WANT="$(sha256sum pyproject.toml | cut -d' ' -f1)"
installed_here() {
    [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] || return 1
    local where
    where="$(cd / && "$ROOT/.venv/bin/python" -c 'import app, os; print(os.path.dirname(os.path.dirname(os.path.abspath(app.__file__))))' 2>/dev/null)" || return 1
    [ "$where" = "$ROOT" ] && [ -x .venv/bin/studydesk ]
}
if installed_here; then
    say "Python packages up to date"
else
    say "installing StudyDesk and its Python packages into .venv (editable, with test extras; minutes on a fresh machine)"
    rm -f "$STAMP"
    # The build backend's warnings are noise here; the whole log shows on failure.
    quiet env PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
        .venv/bin/python -m pip install -q -e '.[test]'
    printf '%s\n' "$WANT" >"$STAMP"
fi

if [ "${#MISSING[@]}" -gt 0 ]; then
    say "done, but with system packages missing (see above): the window or the tests may not start"
else
    say "done: .venv/bin/studydesk"
fi
