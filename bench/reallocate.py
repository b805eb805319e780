"""Reallocating a 1,000-image series, or an RT chain, against a bare pydicom loop.

Writes one study of N (default 1,000) 512x512 CT images in one series plus a
destination study of one image, imports both (copy) into a fresh home, then
in one run times:

- anchor: a bare read-modify-write loop over the same files: `dcmread`, set
  the twelve Patient and Study attributes a reallocation sets, `save_as` to a
  new file (no fsync, no database);
- StudyDesk: what the Content Manager's drag runs (and `studydesk
  reallocate` at once): the read job, `app.changes.view.preview` (the rules,
  the dependents and AI results, the plan and its fingerprint), then the
  write job, `app.changes.reallocate.apply_reallocation` (the checks again,
  the same rewrite plus a SHA-256 of each new file, the files synced to
  disk, rows moved in one transaction, journal and audit entries).

With ``--rt`` the moved series is the demo's RT planning CT (app/demo: 30
CT images) with its dependents moved along: a structure set, two plans and
two doses that refer to it, found by reading the candidates' files; the
anchor loops over the same 35 files. The read job's time is given apart.

The disks are synced before each timed part (not timed), so neither pays
for the other's writes. With ``--iocm`` the reallocation runs in IOCM mode
(new Series and SOP Instance UIDs through the UID map applied to every
element, a rejection note, the outbox entries).

Target: StudyDesk at most 1.5x the anchor's time.

    .venv/bin/python bench/reallocate.py [--n 1000] [--rt] [--iocm] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from _common import machine, make_ct_study, warm  # sets sys.path for app

import pydicom  # noqa: E402

from app.accounts import accounts  # noqa: E402
from app.changes import iocm, journal  # noqa: E402
from app.changes import view as content  # noqa: E402
from app.changes.reallocate import apply_reallocation  # noqa: E402
from app.home import os_login  # noqa: E402
from app.importing.importer import import_paths  # noqa: E402
from app.startup import open_home  # noqa: E402


def bare_loop(paths: list[Path], out: Path, attrs: dict[str, str]) -> float:
    out.mkdir()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n, path in enumerate(paths):
            ds = pydicom.dcmread(path)
            for keyword, value in attrs.items():
                setattr(ds, keyword, value)
            ds.save_as(out / f"{n}.dcm", enforce_file_format=False)
    return time.perf_counter() - start


def ct_case(root: Path, n: int) -> list[Path]:
    """A study of *n* CT images and a destination study of one."""
    make_ct_study(root / "source", n, series=1, seed=1)
    make_ct_study(root / "dest", 1, series=1, seed=2)
    return [root / "source", root / "dest"]


def choose(db, rt: bool, n: int) -> tuple[str, str, str]:
    """(series to move, its study, destination study)."""
    if rt:
        study = dict(db.execute("SELECT accession_number, study_instance_uid FROM studies"))
        source = study["ACC10011"]
        series = db.execute("SELECT series_instance_uid FROM series WHERE modality = 'CT'"
                            " AND study_instance_uid = ?", [source]).fetchone()[0]
        return series, source, study["ACC10022"]
    (series, source), = [(s, st) for (s, st, c) in db.execute(
        "SELECT series_instance_uid, study_instance_uid, instance_count FROM series") if c == n]
    (dest,) = [s for (s, c) in db.execute("SELECT study_instance_uid, instance_count FROM studies") if c == 1]
    return series, source, dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rt", action="store_true",
                        help="move the demo's RT planning CT with its RTSTRUCT, RTPLANs and RTDOSEs")
    parser.add_argument("--iocm", action="store_true", help="reallocate in IOCM mode")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs (each reallocation undone, untimed, before the next); medians")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.rt:
            from app.demo import generate_demo

            generate_demo(root / "demo", patients=2)
            inputs = [root / "demo"]
        else:
            inputs = ct_case(root, args.n)
        home = open_home(root / "home")
        if args.iocm:
            home.set_setting("iocm", "true")
        import_paths(home, inputs, os_login())
        db = home.connect()
        user = accounts.get_user(db, os_login())
        series, source, dest = choose(db, args.rt, args.n)
        files = [home.root / p for (p,) in db.execute(
            "SELECT i.path FROM instances i JOIN series s USING (series_instance_uid)"
            " WHERE s.study_instance_uid = ?", [source])]
        warm(files)
        bares, plans, ours, dependents = [], [], [], 0
        for run in range(args.repeat):
            os.sync()  # each timed part starts with no dirty pages of what came before
            preview = content.preview(home, db, user, [series], dest)  # untimed: the attributes
            bares.append(bare_loop(files, root / f"bare{run}", preview.plan.attrs))
            os.sync()
            start = time.perf_counter()
            preview = content.preview(home, db, user, [series], dest)        # the read job
            planned = time.perf_counter()
            outcome = apply_reallocation(home, db, user, preview.plan, with_dependents=True,
                                         force=True, reason="bench")        # the write job
            ours.append(time.perf_counter() - start)
            plans.append(planned - start)
            dependents = len(preview.dependents)
            if run + 1 < args.repeat:  # untimed: back to the start, as the window's Undo does
                journal.undo(home, db, outcome.change_id, user)
                iocm.sweep_staging(home, db)
                shutil.rmtree(root / f"bare{run}")
        db.close()
    bare, ours, plan = statistics.median(bares), statistics.median(ours), statistics.median(plans)
    report = {"machine": machine(), "case": "rt" if args.rt else "ct", "files": len(files),
              "dependents": dependents, "iocm": args.iocm, "repeat": args.repeat,
              "load_average": [round(v, 2) for v in os.getloadavg()],
              "bare_s": round(bare, 3), "studydesk_s": round(ours, 3), "read_job_s": round(plan, 3),
              "ratio": round(ours / bare, 2), "target": "<= 1.5"}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        mode = " (IOCM mode)" if args.iocm else ""
        what = f"RT chain ({len(files)} files, {dependents} dependent series)" if args.rt \
            else f"{len(files)} images"
        print(f"{what}: bare read-modify-write {bare:.3f} s, StudyDesk reallocate{mode} {ours:.3f} s "
              f"(read job {plan:.3f} s): {ours / bare:.2f}x the anchor (target <= 1.5x); "
              f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
