#!/usr/bin/env bash
# Build the one-folder bundle (PyInstaller) and start it headless.
#
#   bash scripts/bundle.sh              build dist/studydesk/, then smoke-test it
#   bash scripts/bundle.sh --no-smoke   build only
#
# After `bash scripts/setup.sh`. Installs the `bundle` extra into .venv,
# builds with pyinstaller.spec (work files in build/, the bundle in
# dist/studydesk/), then runs the bundle as a user would: `--version`, a demo
# home listed by `studies`, and the window, which must still be up after 5
# seconds under Xvfb (offscreen without xvfb-run). CI runs it after the tests
# (.ci/run). PyInstaller needs objdump and objcopy (Debian: binutils).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SMOKE=1
for arg in "$@"; do
    case "$arg" in
        --no-smoke) SMOKE=0 ;;
        -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bundle.sh: unknown option: $arg (use --no-smoke or --help)" >&2; exit 2 ;;
    esac
done

say() { printf 'bundle: %s\n' "$*" >&2; }
die() { printf 'bundle: error: %s\n' "$*" >&2; exit 1; }

PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || die "no .venv here: run 'bash scripts/setup.sh' first"

if ! command -v objdump >/dev/null 2>&1 || ! command -v objcopy >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing binutils (PyInstaller's objdump and objcopy)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq binutils >/dev/null
    else
        die "PyInstaller needs objdump and objcopy: install binutils"
    fi
fi

start=$SECONDS
"$PY" -m pip install -q -e '.[bundle]'
say "pip install took $((SECONDS - start)) s"

start=$SECONDS
"$PY" -m PyInstaller --noconfirm --log-level WARN --workpath build/pyinstaller --distpath dist pyinstaller.spec
say "PyInstaller took $((SECONDS - start)) s: dist/studydesk ($(du -sh dist/studydesk | cut -f1))"

EXE="$ROOT/dist/studydesk/studydesk"
[ -x "$EXE" ] || die "no $EXE after the build"
[ "$SMOKE" -eq 1 ] || exit 0

# -- smoke test: the bundle as a user starts it, with nothing from .venv ------
start=$SECONDS
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
export STUDYDESK_LOG_DIR="$TMP/log"      # the bundle's log file, checked below
unset STUDYDESK_HOME STUDYDESK_USER PYTHONPATH VIRTUAL_ENV
cd "$TMP"                                # nothing of the checkout on the path

version="$("$EXE" --version)"
[ "$version" = "studydesk $("$PY" -c 'import app; print(app.__version__)')" ] || die "--version printed: $version"
say "--version: $version"

"$EXE" --home "$TMP/home" demo --patients 2 >/dev/null || die "demo failed"
studies="$("$EXE" --home "$TMP/home" studies --json)" || die "studies failed"
count="$("$PY" -c 'import json, sys; print(len(json.loads(sys.argv[1])))' "$studies")"
[ "$count" -ge 2 ] || die "studies listed $count studies after demo"
say "demo + studies: $count studies"

# An image drawn through the frozen pixel pipeline (pydicom, numpy, Pillow).
series="$("$PY" -c 'import json, sys; print(json.loads(sys.argv[1])[0]["study_uid"])' "$studies")"
series="$("$EXE" --home "$TMP/home" series "$series" --json)" || die "series failed"
series="$("$PY" -c 'import json, sys; print(json.loads(sys.argv[1])[0]["series_uid"])' "$series")"
"$EXE" --home "$TMP/home" render "$series" --image 1 --out "$TMP/image.png" >/dev/null || die "render failed"
[ "$(head -c 8 "$TMP/image.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || die "render wrote no PNG"
say "render: a PNG of series $series"

# The window: started on the demo home, still up after 5 seconds (timeout's
# 124), and it logged its opening.
rc=0
if command -v xvfb-run >/dev/null 2>&1 && command -v xauth >/dev/null 2>&1; then
    xvfb-run -a -n "$((100 + RANDOM % 800))" -s "-screen 0 1600x1000x24" \
        timeout 5 "$EXE" --home "$TMP/home" gui >"$TMP/window.out" 2>&1 || rc=$?
else
    QT_QPA_PLATFORM=offscreen timeout 5 "$EXE" --home "$TMP/home" gui >"$TMP/window.out" 2>&1 || rc=$?
fi
if [ "$rc" -ne 124 ]; then
    cat "$TMP/window.out" >&2
    die "the window ended with exit code $rc within 5 seconds (expected to be still up: 124)"
fi
grep -q "window opened by" "$STUDYDESK_LOG_DIR/studydesk.log" || die "the window did not log its opening"
say "window: up for 5 s"
say "smoke test took $((SECONDS - start)) s"
