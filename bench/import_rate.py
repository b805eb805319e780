"""Import rate against its anchors, in one run (docs/PERFORMANCE.md).

    .venv/bin/python bench/import_rate.py [--n 2000] [--repeat 1] [--json]
                                          [--data DIR] [--work DIR]

Generates N 512x512 int16 CT files (one study, a few series, ~0.5 MB each),
warms the page cache, then measures in this process:

  bare   pydicom.dcmread(path, stop_before_pixels=True) over every file: the
         least any import must do (the anchor for link mode)
  link   import_paths(home, [folder], mode="link") into a fresh home
  cp     cp -r of the folder, then sync: the anchor for copy mode
  copy   import_paths(home, [folder], mode="copy") into a fresh home, then sync

and prints files/s for each (median of --repeat runs) with the ratios
link/bare (target >= 0.9) and copy/cp. --data DIR reuses the .dcm files in DIR
(generating N there when it has none). The homes and copies are made under
--work (default: a temporary folder) and removed afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import _common as common

import pydicom  # noqa: E402

from app.startup import open_home  # noqa: E402


def _bare(paths: list[Path]) -> int:
    for p in paths:
        pydicom.dcmread(p, stop_before_pixels=True)
    return len(paths)


def _import(data: Path, home_dir: Path, mode: str, user: str):
    from app.importing.importer import import_paths

    home = open_home(home_dir)
    os.sync()

    def run():
        result = import_paths(home, [data], user=user, mode=mode, progress=None, cancel=None)
        if mode == "copy":
            os.sync()  # on equal terms with cp -r + sync
        return result

    seconds, result = common.timed(run)
    return seconds, result


def _cp(data: Path, dest: Path) -> float:
    os.sync()

    def run():
        subprocess.run(["cp", "-r", str(data), str(dest)], check=True)
        subprocess.run(["sync"], check=True)

    seconds, _ = common.timed(run)
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = common.bench_parser(__doc__, "the homes and copies", repeat=1, series=True)
    args = ap.parse_args(argv)

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    from app.home import os_login

    user = os_login()  # the first admin of a new home
    work = Path(tempfile.mkdtemp(prefix="studydesk-bench-", dir=args.work))
    try:
        data = args.data or work / "data"
        paths = common.dicom_files(data) if data.exists() else []
        if not paths:
            say(f"generating {args.n} CT files in {data} ...")
            seconds, paths = common.timed(lambda: common.make_ct_study(data, args.n, args.series))
            say(f"  {len(paths)} files in {seconds:.1f} s")
        n = len(paths)
        size = common.warm(paths)  # page cache warm for every measurement

        runs: dict[str, list[float]] = {"bare": [], "link": [], "cp": [], "copy": []}
        for r in range(args.repeat):
            tag = f" ({r + 1}/{args.repeat})" if args.repeat > 1 else ""
            say(f"bare parse{tag} ...")
            runs["bare"].append(common.timed(lambda: _bare(paths))[0])

            say(f"import --link{tag} ...")
            home = work / f"home-link-{r}"
            seconds, result = _import(data, home, "link", user)
            if result.imported != n:
                say(f"  warning: imported {result.imported} of {n} ({len(result.rejected)} refused)")
            runs["link"].append(seconds)
            shutil.rmtree(home, ignore_errors=True)

            say(f"cp -r + sync{tag} ...")
            dest = work / f"cp-{r}"
            runs["cp"].append(_cp(data, dest))
            shutil.rmtree(dest, ignore_errors=True)

            say(f"import --copy + sync{tag} ...")
            home = work / f"home-copy-{r}"
            seconds, result = _import(data, home, "copy", user)
            if result.imported != n:
                say(f"  warning: imported {result.imported} of {n} ({len(result.rejected)} refused)")
            runs["copy"].append(seconds)
            shutil.rmtree(home, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rate = {k: n / common.median(v) for k, v in runs.items()}
    report = {
        "machine": common.machine(),
        "n": n,
        "megabytes": round(size / 1e6, 1),
        "repeat": args.repeat,
        "files_per_s": {k: round(v, 1) for k, v in rate.items()},
        "link_over_bare": round(rate["link"] / rate["bare"], 3),
        "copy_over_cp": round(rate["copy"] / rate["cp"], 3),
        "seconds": {k: [round(s, 3) for s in v] for k, v in runs.items()},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0

    m = report["machine"]
    print(f"import rate: {n} CT files, {report['megabytes']} MB, median of {args.repeat} run(s)")
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, Python {m['python']}")
    rows = [
        ("bare parse (dcmread, stop_before_pixels)", rate["bare"], ""),
        ("import --link", rate["link"], f"link/bare {report['link_over_bare']:.2f} (target >= 0.9)"),
        ("cp -r + sync", rate["cp"], ""),
        ("import --copy + sync", rate["copy"], f"copy/cp {report['copy_over_cp']:.2f}"),
    ]
    for name, value, note in rows:
        print(f"  {name:<42} {value:>8,.0f} files/s   {note}".rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
