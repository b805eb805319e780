"""Anonymised ZIP export against its anchors, in one run (docs/performance/anonymize.md).

    .venv/bin/python bench/anonymize.py [--n 2000] [--repeat 1] [--json]
                                        [--data DIR] [--work DIR]

Generates N 512x512 int16 CT files (~0.5 MB each, bench/_common.py), imports
them (link mode) into a fresh home, warms the page cache, then measures:

  bare       pydicom.dcmread(path) + ds.save_as(out) over every file: the least
             any tool that rewrites the files must do (each tool's run ends
             with os.sync(), as the export makes its ZIP durable)
  dicognito  dicognito's Anonymizer().anonymize(ds) between the same read and
             write (a benchmark-only dependency: pip install dicognito)
  studydesk  export_zip(..., anonymize=True): read, PS3.15 Basic Profile,
             write into one ZIP, residual-identifier scan of every output,
             verification report (worker processes: app.parallel)
  plain      export_zip(...) without anonymisation (streams files into the ZIP)

and prints files/s for each (median of --repeat runs) with the ratios
studydesk/dicognito (target >= 2) and studydesk/bare (target >= 0.5).
Outputs go to --work (default: a temporary folder), removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import _common as common

import pydicom  # noqa: E402

from app.startup import open_home  # noqa: E402


def _bare(paths: list[Path], out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for n, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        ds.save_as(out / f"{n:06d}.dcm")
    os.sync()  # on equal terms with the export, which makes its ZIP durable
    return len(paths)


def _dicognito(paths: list[Path], out: Path) -> int:
    from dicognito.anonymizer import Anonymizer

    out.mkdir(parents=True, exist_ok=True)
    anonymizer = Anonymizer()
    for n, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        anonymizer.anonymize(ds)
        ds.save_as(out / f"{n:06d}.dcm")
    os.sync()
    return len(paths)


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (the workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _measured(fn):
    """(wall seconds, CPU seconds, result) of fn()."""
    cpu = _cpu()
    seconds, result = common.timed(fn)
    return seconds, _cpu() - cpu, result


def _export(home, user, studies, target: Path, anonymize: bool):
    from app.export import export_zip

    result = export_zip(home, user, studies, target, anonymize=anonymize)
    os.sync()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")

    work = Path(tempfile.mkdtemp(prefix="bench-anon-", dir=args.work))
    try:
        data = args.data or work / "data"
        paths = common.dicom_files(data) if data.exists() else []
        if not paths:
            paths = common.make_ct_study(data, args.n)
        paths = paths[:args.n]

        from app.accounts import accounts
        from app.home import os_login
        from app.importing.importer import import_paths

        home = open_home(work / "home")
        db = home.connect()
        user = accounts.get_user(db, os_login())
        db.close()
        imported = import_paths(home, [data], user, mode="link")
        studies = imported.studies
        common.warm(paths)
        runs: dict[str, list[float]] = {"bare": [], "dicognito": [], "studydesk": [], "plain": []}
        cpu: dict[str, list[float]] = {k: [] for k in runs}
        for r in range(args.repeat):
            out = work / f"out{r}"
            tools = {
                "bare": lambda: _bare(paths, out / "bare"),
                "dicognito": lambda: _dicognito(paths, out / "dicognito"),
                "studydesk": lambda: _export(home, user, studies, out / "anon.zip", True),
                "plain": lambda: _export(home, user, studies, out / "plain.zip", False),
            }
            for name, fn in tools.items():
                seconds, used, result = _measured(fn)
                if name == "studydesk":
                    assert result.instances_out == len(paths), result
                    assert result.report["residual_scan"]["passed"], result.report["residual_scan"]
                runs[name].append(seconds)
                cpu[name].append(used)
            shutil.rmtree(out, ignore_errors=True)
        rate = {k: len(paths) / common.median(v) for k, v in runs.items()}
        cpu_ms = {k: round(common.median(v) / len(paths) * 1000, 2) for k, v in cpu.items()}
        document = {
            "files": len(paths),
            "file_mb": round(sum(p.stat().st_size for p in paths) / len(paths) / 2**20, 2),
            "files_per_s": {k: round(v, 1) for k, v in rate.items()},
            "cpu_ms_per_file": cpu_ms,
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "studydesk_vs_dicognito": round(rate["studydesk"] / rate["dicognito"], 2),
            "studydesk_vs_bare": round(rate["studydesk"] / rate["bare"], 2),
            "workers": __import__("app.parallel", fromlist=["x"]).worker_count(),
            "machine": common.machine(),
        }
        if args.json:
            print(json.dumps(document, indent=2))
        else:
            for k, v in rate.items():
                print(f"{k:10s} {v:8.1f} files/s  {cpu_ms[k]:6.2f} ms CPU per file")
            print(f"studydesk / dicognito = {document['studydesk_vs_dicognito']} (target >= 2)")
            print(f"studydesk / bare      = {document['studydesk_vs_bare']} (target >= 0.5)")
            print(json.dumps(document["machine"]))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    raise SystemExit(main())
