"""The worklist window at a million studies: opening, a refresh after an import, memory.

For each size (default 100,000, the anchor, and 1,000,000) a home is filled
with N studies (rows only, bulk inserted: bench/worklist_query.py's fill) and
kept under --work for the next run. A fresh process per size (so its memory
is its own) opens the window's model and table offscreen
(QT_QPA_PLATFORM=offscreen) and measures:

- open: from the search to the first rows painted, and the longest the GUI
  thread was busy meanwhile;
- re-sort: the same for a new sort (by patient name), a full search;
- refresh: 200 new files (10 studies of 20 small CT images) imported as the
  window imports them (a write job, then the broadcast naming the studies);
  the longest single stretch the GUI thread was busy from the broadcast
  until the rows are in place and painted, and how long the rows took;
- memory: the resident set (VmRSS) once open and after the refresh, and its
  peak (VmHWM), against the same process before the model existed.

GUI-thread time is read off a 5 ms QTimer heartbeat: the longest gap between
two beats, less the interval, is the longest event-loop iteration. The 1,000,000
case is reported as a ratio to the 100,000 case of the same run.

    .venv/bin/python bench/worklist_scale.py [--sizes 100000 1000000] [--work DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, machine  # noqa: E402  (puts the project on sys.path)

HEARTBEAT_MS = 5
FILES, STUDIES = 200, 10


def vm(key: str) -> float:
    """VmRSS / VmHWM of this process, in MB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def write_files(folder: Path, seed: int) -> None:
    """FILES small CT images in STUDIES new studies (new UIDs every run)."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.zeros((64, 64), dtype="<u2").tobytes()
    for s in range(STUDIES):
        study, series = generate_uid(), generate_uid()
        date = f"20{rng.randint(10, 26):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        for i in range(FILES // STUDIES):
            ds = Dataset()
            ds.file_meta = FileMetaDataset()
            ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
            ds.PatientName, ds.PatientID = f"SCALE^NEW{s}", f"SCALE{seed}-{s}"
            ds.StudyDate, ds.StudyTime, ds.Modality = date, "101500", "CT"
            ds.AccessionNumber, ds.StudyDescription = f"NEW{s:03d}", "CT SCALE"
            ds.SeriesNumber, ds.InstanceNumber = 1, i + 1
            ds.Rows = ds.Columns = 64
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
            ds.PixelData = pixels
            ds.save_as(folder / f"s{s}_{i}.dcm", enforce_file_format=True)


class Heartbeat:
    """The longest event-loop iteration on the GUI thread since :meth:`reset`:
    in wall-clock time (what a user waits, waits for the GIL and for a busy
    machine's cores included) and in the GUI thread's own CPU time (its work)."""

    def __init__(self):
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self._beat)
        self.reset()
        self.timer.start()

    def reset(self) -> None:
        self.last, self.longest = time.perf_counter(), 0.0
        self.last_cpu, self.longest_cpu = time.thread_time(), 0.0

    def _beat(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.longest = max(self.longest, now - self.last - HEARTBEAT_MS / 1000)
        self.longest_cpu = max(self.longest_cpu, cpu - self.last_cpu)
        self.last, self.last_cpu = now, cpu

    def ms(self) -> tuple[float, float]:
        """(wall, CPU) of the longest iteration, in ms."""
        self._beat()
        return round(self.longest * 1000, 1), round(self.longest_cpu * 1000, 1)


def wait(signal, seconds: float = 600) -> None:
    """Run the event loop until *signal* (the heartbeat keeps beating)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)


def settle(ms: int = 200) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def measure(home_dir: Path, files: list[Path]) -> dict:
    """One size, in this (fresh) process."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from app.home import Home, os_login
    from app.importing.importer import import_paths
    from app.accounts.accounts import get_user
    from app.worklist.query import Query
    from ui.cache_events import STUDIES, CacheChange, announce
    from ui.jobs import JobRunner
    from ui.worklist.model import WorklistModel, column_index
    from ui.worklist.view import WorklistView

    app = QApplication.instance() or QApplication([])
    home = Home(home_dir)
    db = home.connect()
    user = get_user(db, os_login())
    db.close()
    runner = JobRunner()
    rss_before = vm("VmRSS")
    beat = Heartbeat()
    model = WorklistModel(home, runner, user.name)
    view = WorklistView(model)
    view.resize(1400, 900)
    view.show()
    settle(300)  # the window's first show (style, fonts) is not the worklist's cost
    out: dict = {"rss_before_mb": round(rss_before, 1)}

    def timed_search(start) -> tuple[float, float]:
        beat.reset()
        t0 = time.perf_counter()
        start()
        wait(model.searched)
        view.viewport().repaint()  # the first rows on screen (fetched and painted)
        seconds = time.perf_counter() - t0
        settle(50)
        return round(seconds, 3), beat.ms()

    out["open_s"], (out["open_gui_max_ms"], out["open_gui_cpu_ms"]) = timed_search(
        lambda: model.search(Query(), audit=False))
    out["rows"] = model.rowCount()
    out["rss_open_mb"] = round(vm("VmRSS"), 1)
    out["resort_s"], (out["resort_gui_max_ms"], out["resort_gui_cpu_ms"]) = timed_search(
        lambda: view.horizontalHeader().setSortIndicator(column_index("patient_name"),
                                                         Qt.SortOrder.AscendingOrder))
    queries, refreshes = model.queries, []
    for folder in files:
        done = []
        job = runner.start("Import", lambda p, c, f=folder: import_paths(home, [f], user, mode="copy"),
                           kind="write", on_success=done.append)
        wait(job.finished)
        settle(50)
        beat.reset()
        t0 = time.perf_counter()
        announce(home, CacheChange.of(STUDIES, study_uids=done[0].studies))  # as ui/shell/importing.py
        wait(model.updated)
        view.viewport().repaint()
        seconds = time.perf_counter() - t0
        settle(100)
        refreshes.append((*beat.ms(), seconds))
    wall, cpu, seconds = (sorted(r[i] for r in refreshes)[len(refreshes) // 2] for i in range(3))
    out.update(refresh_s=round(seconds, 3), refresh_gui_max_ms=wall, refresh_gui_cpu_ms=cpu,
               refresh_gui_max_ms_all=[r[0] for r in refreshes],
               refresh_full_searches=model.queries - queries)
    out["rows_after"] = model.rowCount()
    out["rss_after_mb"] = round(vm("VmRSS"), 1)
    out["rss_peak_mb"] = round(vm("VmHWM"), 1)
    runner.shutdown()
    model.close()
    return out


def prepare(work: Path, n: int) -> Path:
    """A home with *n* study rows, filled once and kept under *work*."""
    from app.startup import open_home
    from worklist_query import fill

    folder = work / f"home{n}"
    if not (folder / ".filled").exists():
        home = open_home(folder)
        fill(home, n)
        (folder / ".filled").write_text(str(n))
    open_home(folder)  # migrations, first account: the child opens a ready home
    return folder


def run_case(work: Path, n: int, repeat: int) -> dict:
    home = prepare(work, n)
    folders = []
    for _ in range(repeat):
        folders.append(Path(tempfile.mkdtemp(prefix="import", dir=work)))
        write_files(folders[-1], seed=random.randrange(1 << 30))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, __file__, "--measure", str(home), *map(str, folders)], env=env,
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"size {n}: the measuring process failed\n{proc.stderr}")
    return {"studies": n, **json.loads(proc.stdout.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--work", type=Path, help="where the homes are kept (default: a temporary folder)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeat", type=int, default=3,
                        help="imports (and refreshes) per size; the median is reported (default 3)")
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), [Path(f) for f in args.measure[1:]])))
        return
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        cases = [run_case(work, n, args.repeat) for n in args.sizes]
    anchor = cases[0]
    for case in cases[1:]:
        case["ratio_to_anchor"] = {k: round(case[k] / anchor[k], 2) for k in (
            "open_s", "open_gui_cpu_ms", "refresh_gui_max_ms", "refresh_gui_cpu_ms", "rss_open_mb",
            "rss_peak_mb") if anchor[k]}
    report = {"machine": machine(), "anchor": f"{anchor['studies']:,} studies", "cases": cases}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for c in cases:
        print(f"{c['studies']:>9,} studies:\n"
              f"  open      {c['open_s']} s, GUI max {c['open_gui_max_ms']} ms (CPU {c['open_gui_cpu_ms']})\n"
              f"  re-sort   {c['resort_s']} s, GUI max {c['resort_gui_max_ms']} ms "
              f"(CPU {c['resort_gui_cpu_ms']})\n"
              f"  refresh   after {FILES} files: {c['refresh_s']} s, GUI max {c['refresh_gui_max_ms']} ms "
              f"(CPU {c['refresh_gui_cpu_ms']}; all {c['refresh_gui_max_ms_all']}), "
              f"{c['refresh_full_searches']} full searches\n"
              f"  RSS       {c['rss_before_mb']} MB before, {c['rss_open_mb']} open, {c['rss_after_mb']} after, "
              f"peak {c['rss_peak_mb']}")
        if "ratio_to_anchor" in c:
            print(f"{'':>9}  x {anchor['studies']:,}: {c['ratio_to_anchor']}")


if __name__ == "__main__":
    main()
