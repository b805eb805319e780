"""Reallocating a 1,000-image series, against a bare pydicom loop.

Writes one study of N (default 1,000) 512x512 CT images in one series plus a
destination study of one image, imports both (copy) into a fresh home, then
in one run times:

- anchor: a bare read-modify-write loop over the same files: `dcmread`, set
  the twelve Patient and Study attributes a reallocation sets, `save_as` to a
  new file (no fsync, no database);
- StudyDesk: `app.changes.reallocate.reallocate` (what `studydesk
  reallocate` and the Content Manager's drag run): the same rewrite plus a
  SHA-256 of each new file, the files synced to disk, rows moved in one
  transaction, journal and audit entries.

The disks are synced before each timed part (not timed), so neither pays
for the other's writes. With ``--iocm`` the reallocation runs in IOCM mode
(new Series and SOP Instance UIDs through the UID map applied to every
element, a rejection note, the outbox entries).

Target: StudyDesk at most 1.5x the anchor's time.

    .venv/bin/python bench/reallocate.py [--n 1000] [--iocm] [--repeat 3] [--json]
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

from app.accounts import accounts
from app.changes import iocm, journal  # noqa: E402
from app.changes.plans import patient_attrs, snapshot, study_attrs  # noqa: E402
from app.changes.reallocate import reallocate  # noqa: E402
from app.home import Home, os_login  # noqa: E402
from app.importing.importer import import_paths  # noqa: E402
from app.startup import open_home


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--iocm", action="store_true", help="reallocate in IOCM mode")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs (each reallocation undone, untimed, before the next); medians")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_ct_study(root / "source", args.n, series=1, seed=1)
        make_ct_study(root / "dest", 1, series=1, seed=2)
        home = open_home(root / "home")
        if args.iocm:
            home.set_setting("iocm", "true")
        import_paths(home, [root / "source", root / "dest"], os_login())
        db = home.connect()
        user = accounts.get_user(db, os_login())
        (source_series,) = [s for (s, c) in db.execute(
            "SELECT series_instance_uid, instance_count FROM series") if c == args.n]
        (dest_study,) = [s for (s, c) in db.execute(
            "SELECT study_instance_uid, instance_count FROM studies") if c == 1]
        files = [home.root / p for (p,) in db.execute(
            "SELECT path FROM instances WHERE series_instance_uid = ?", [source_series])]
        dest = snapshot(db, "studies", "study_instance_uid = ?", [dest_study])[0]
        attrs = dict(patient_attrs(snapshot(db, "patients", "id = ?", [dest["patient_pk"]])[0]),
                     **study_attrs(dest))
        warm(files)
        bares, ours = [], []
        for run in range(args.repeat):
            os.sync()  # each timed part starts with no dirty pages of what came before
            bares.append(bare_loop(files, root / f"bare{run}", attrs))
            os.sync()
            start = time.perf_counter()
            change = reallocate(home, db, user, source_series, dest_study, force=True, reason="bench")
            ours.append(time.perf_counter() - start)
            if run + 1 < args.repeat:  # untimed: back to the start, as the window's Undo does
                journal.undo(home, db, change, user.name)
                iocm.sweep_staging(home, db)
                shutil.rmtree(root / f"bare{run}")
        db.close()
    bare, ours = statistics.median(bares), statistics.median(ours)
    report = {"machine": machine(), "n": args.n, "iocm": args.iocm, "repeat": args.repeat,
              "bare_s": round(bare, 3), "studydesk_s": round(ours, 3),
              "ratio": round(ours / bare, 2), "target": "<= 1.5"}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        mode = " (IOCM mode)" if args.iocm else ""
        print(f"{args.n} images: bare read-modify-write {bare:.2f} s, StudyDesk reallocate{mode} "
              f"{ours:.2f} s: {ours / bare:.2f}x the anchor (target <= 1.5x)")


if __name__ == "__main__":
    main()
