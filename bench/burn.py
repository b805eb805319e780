"""ISO creation with DICOMDIR against DCMTK + xorriso, in one run
(docs/performance/burn.md).

    .venv/bin/python bench/burn.py [--n 2000] [--repeat 1] [--json]
                                   [--data DIR] [--work DIR]

Generates N 512x512 int16 CT files (one study in a few series, ~0.5 MB
each; --data DIR reuses the .dcm files there), imports them into a fresh
home (not timed), warms the page cache, then measures:

  ours     app.media.burn to an ISO file, without the read-back: staging
           (hard links), DICOMDIR from the cache, README.TXT, INDEX.HTM and
           IHE_PDI/ with a preview per series, the SHA-256 manifest, the
           ISO 9660 image (level 1, Joliet, Rock Ridge)
  anchor   on the same files, already laid out under conformant names (not
           timed): DCMTK ``dcmmkdir +r`` (the DICOMDIR), then
           ``xorriso -as mkisofs -iso-level 1 -J -R`` (the image)
  verify   the read-back of our image against its manifest (reported apart:
           the anchor does not check anything)

Target: ours / anchor <= 1.3.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as common

from app.startup import open_home


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _home_with(data: Path, work: Path):
    from app.home import os_login
    from app.importing.importer import import_paths

    home = open_home(work / "home")
    result = import_paths(home, [data], os_login(), mode="copy")
    if result.rejected:
        _say(f"  warning: {len(result.rejected)} files refused")
    return home, os_login(), result.studies


def _ours(home, user, studies, target: Path, verify: bool) -> tuple[float, object]:
    from app.media import BurnOptions, burn

    target.unlink(missing_ok=True)
    os.sync()
    return common.timed(lambda: burn(home, user, studies, iso_path=target,
                                     options=BurnOptions(label="BENCH", verify=verify)))


def _anchor_tree(home, studies, folder: Path) -> Path:
    """The same stored files under conformant names (DICOM/PATn/STUn/SERn/IMn)."""
    from app.media import selection
    from app.media.names import numbered

    db = home.connect()
    try:
        chosen = selection.load(home, db, studies)
    finally:
        db.close()
    for s_no, study in enumerate(chosen, 1):
        for e_no, series in enumerate(study.series, 1):
            target = folder / "DICOM" / "PAT00001" / numbered("STU", s_no) / numbered("SER", e_no)
            target.mkdir(parents=True, exist_ok=True)
            for i_no, instance in enumerate(series.instances, 1):
                os.link(instance.source, target / numbered("IM", i_no))
    return folder


def _anchor(folder: Path, target: Path) -> tuple[float, float]:
    (folder / "DICOMDIR").unlink(missing_ok=True)
    target.unlink(missing_ok=True)
    os.sync()
    t0 = time.perf_counter()
    subprocess.run(["dcmmkdir", "+r", "+id", str(folder), "-q", "DICOM"], check=True, cwd=folder)
    t1 = time.perf_counter()
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-iso-level", "1", "-J", "-R",
                    "-V", "BENCH", "-o", str(target), str(folder)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return t1 - t0, time.perf_counter() - t1


def main(argv: list[str] | None = None) -> int:
    ap = common.bench_parser(__doc__, "the home, trees and images", repeat=1, series=True)
    args = ap.parse_args(argv)
    for tool in ("dcmmkdir", "xorriso"):
        if shutil.which(tool) is None:
            _say(f"bench/burn.py: {tool} is not installed (bash scripts/setup.sh --tests)")
            return 2

    work = Path(tempfile.mkdtemp(prefix="studydesk-bench-burn-", dir=args.work))
    try:
        data = args.data or work / "data"
        paths = common.dicom_files(data) if data.exists() else []
        if not paths:
            _say(f"generating {args.n} CT files in {data} ...")
            seconds, paths = common.timed(lambda: common.make_ct_study(data, args.n, args.series))
            _say(f"  {len(paths)} files in {seconds:.1f} s")
        _say("importing into a fresh home (not timed) ...")
        home, user, studies = _home_with(data, work)
        tree = _anchor_tree(home, studies, work / "anchor")
        size = common.warm(common.dicom_files(home.store))
        runs: dict[str, list[float]] = {"ours": [], "dcmmkdir": [], "mkisofs": [], "anchor": [],
                                        "ours_verified": []}
        for r in range(args.repeat):
            tag = f" ({r + 1}/{args.repeat})" if args.repeat > 1 else ""
            _say(f"dcmmkdir + xorriso -as mkisofs{tag} ...")
            dicomdir, mkisofs = _anchor(tree, work / "anchor.iso")
            runs["dcmmkdir"].append(dicomdir)
            runs["mkisofs"].append(mkisofs)
            runs["anchor"].append(dicomdir + mkisofs)
            _say(f"burn --iso (no read-back){tag} ...")
            runs["ours"].append(_ours(home, user, studies, work / "ours.iso", verify=False)[0])
            _say(f"burn --iso with read-back{tag} ...")
            seconds, result = _ours(home, user, studies, work / "ours.iso", verify=True)
            if not result.verified:
                _say("  warning: the read-back did not verify")
            runs["ours_verified"].append(seconds)
        iso_bytes = (work / "ours.iso").stat().st_size
        anchor_bytes = (work / "anchor.iso").stat().st_size
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = {k: common.median(v) for k, v in runs.items()}
    n = len(paths)
    report = {
        "machine": common.machine(), "n": n, "megabytes": round(size / 1e6, 1),
        "repeat": args.repeat, "median_seconds": {k: round(v, 3) for k, v in med.items()},
        "ours_over_anchor": round(med["ours"] / med["anchor"], 3),
        "image_megabytes": {"ours": round(iso_bytes / 1e6, 1), "anchor": round(anchor_bytes / 1e6, 1)},
        "seconds": {k: [round(s, 3) for s in v] for k, v in runs.items()},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    m = report["machine"]
    print(f"burn to ISO: {n} CT files, {report['megabytes']} MB, median of {args.repeat} run(s)")
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, {m['system']}, Python {m['python']}")
    for name, key in (("dcmmkdir +r", "dcmmkdir"), ("xorriso -as mkisofs", "mkisofs"),
                      ("anchor: dcmmkdir + mkisofs", "anchor"), ("ours: burn --iso --no-verify", "ours"),
                      ("ours with read-back", "ours_verified")):
        print(f"  {name:<32} {med[key]:7.2f} s  {n / med[key]:7,.0f} files/s")
    print(f"  ours / anchor: {report['ours_over_anchor']:.2f} (target <= 1.3)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
