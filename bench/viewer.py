"""The viewer window: the first image, scrolling uncached, memory over 2,000 images.

Two series of 512x512 int16 CT (bench/_common.py's chest phantom, ~0.5 MB a
file), one of --n images (default 500) and one of --big (default 2,000),
are written once (kept under --data) and linked into a temporary home. Then,
in this process, with the viewer window (ui/viewer) of the size a user
opens (1100x800) on Xvfb or Qt's offscreen platform:

- first image: from open_viewer() to the first image painted (the series
  read through the runner, the file decoded on the viewers' pool, the
  frame cache emptied before each open); the median of --repeat opens;
- scroll rate: the --n series from first to last image, each next image
  asked for as soon as the previous one is painted, with the frame cache
  empty (every image decoded from its file): images painted per second;
- anchor: the least that work costs, a bare loop over the same files of
  pydicom decode (dcmread + pixel_array) and numpy windowing (rescale,
  linear window to uint8), on one thread, run just before each scroll in
  --rounds interleaved rounds (the machine is shared): the medians of the
  rates and of the rounds' ratios;
- a --frames multi-frame (native and JPEG 2000) scrolled the same way, and
  the window/level drag rate (bench/viewer_more.py), in the same rounds;
- GUI stall: the longest gap between beats of a 5 ms QTimer heartbeat,
  less its interval, while scrolling;
- memory: the resident set (VmRSS) while scrolling the --big series from
  first to last, its peak (VmHWM), and the process before the window; and
  the decoder processes the JPEG 2000 series started (app.viewer.decoder).

The files are read once before timing (page cache warm for both the
viewer and the anchor: the comparison is of the work, not of the disk).

    xvfb-run -a .venv/bin/python bench/viewer.py [--n 500] [--big 2000] [--frames 200]
        [--repeat 5] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

from _common import dicom_files, machine, make_ct_study, median, warm  # noqa: E402

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

HEARTBEAT_MS = 5


def vm(key: str, pid: str = "self") -> float:
    """VmRSS / VmHWM of this process (or another), in MB."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:  # gone meanwhile
        pass
    return 0.0


def series_files(data: Path, name: str, n: int) -> list[Path]:
    folder = data / name
    paths = dicom_files(folder)
    if len(paths) != n:
        print(f"writing {n} CT files to {folder} ...", file=sys.stderr)
        for p in paths:
            p.unlink()
        paths = make_ct_study(folder, n, series=1, seed=n)
    return paths


def bare_loop(paths: list[Path]) -> float:
    """Images per second: pydicom decode + numpy windowing, nothing else."""
    import numpy as np
    import pydicom

    t0 = time.perf_counter()
    for p in paths:
        ds = pydicom.dcmread(p)
        hu = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        c, w = float(ds.WindowCenter), float(ds.WindowWidth)
        out = ((hu - (c - 0.5)) / (w - 1) + 0.5) * 255
        np.clip(out, 0, 255, out=out).astype(np.uint8)
    return len(paths) / (time.perf_counter() - t0)


class Heartbeat:
    """The longest event-loop iteration, from the gaps between 5 ms beats."""

    def __init__(self):
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self._beat)
        self.last, self.longest = 0.0, 0.0

    def start(self):
        self.last, self.longest = time.perf_counter(), 0.0
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        return max(0.0, self.longest - HEARTBEAT_MS / 1000)

    def _beat(self):
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.last)
        self.last = now


def run_until(qapp, done, timeout: float = 600) -> None:
    """Run Qt's event loop, as the application does, until done().

    Not a Python loop around processEvents: each return to Python takes
    the interpreter lock back from the decode threads (tens of thousands of
    times a second while events flow), which cost the scroll a fifth of its
    rate and is not what the application does. A 2 ms timer asks done()."""
    from PySide6.QtCore import QEventLoop, QTimer

    if done():
        qapp.processEvents()
        return
    loop = QEventLoop()
    deadline = time.monotonic() + timeout
    failed = []

    def check() -> None:
        if done():
            loop.quit()
        elif time.monotonic() > deadline:
            failed.append(True)
            loop.quit()

    timer = QTimer()
    timer.setInterval(2)
    timer.timeout.connect(check)
    timer.start()
    loop.exec()
    timer.stop()
    if failed:
        raise TimeoutError("bench/viewer.py: the window did not get there")


def open_and_wait(qapp, home, user, runner, series_uid: str):
    """(seconds from open_viewer to the first image painted, the window)."""
    from ui.viewer import open_viewer
    from ui.viewer.loader import CACHE

    CACHE._entries.clear()
    CACHE.used = 0
    painted = []
    t0 = time.perf_counter()
    window = open_viewer(None, home, user, runner, series_uid)
    window.resize(1100, 800)
    viewport = window.panes[0].viewport
    viewport.shown.connect(lambda i: painted.append(time.perf_counter()) if not painted else None)
    run_until(qapp, lambda: painted)
    return painted[0] - t0, window


def scroll_through(qapp, window, sample=None, painted: bool = True) -> tuple[float, float]:
    """Scroll from the first image to the last; (images per second, longest
    GUI stall in s).

    `painted`: each next image is asked for once the last one is painted
    (every image reaches the screen). Otherwise the position moves on as
    soon as the current image is ready (decoded and windowed), as a wheel
    turned faster than the screen refreshes does: the viewport paints
    whenever the event loop gets to it, the latest image then."""
    from PySide6.QtCore import QTimer

    viewport = window.panes[0].viewport
    loader = viewport.loader
    last = viewport.count - 1
    state = {"at": 1, "done": False}

    def shown(index: int) -> None:
        if sample:
            sample()
        if index == last:
            state["done"] = True
        elif painted and index == state["at"]:
            state["at"] = index + 1
            QTimer.singleShot(0, lambda: viewport.set_index(state["at"]))

    def ready(index: int) -> None:
        while state["at"] < last and loader.get(state["at"]) is not None:
            state["at"] += 1
            viewport.set_index(state["at"])

    viewport.shown.connect(shown)
    if not painted:
        loader.ready.connect(ready)
    beat = Heartbeat()
    beat.start()
    t0 = time.perf_counter()
    viewport.set_index(1)
    run_until(qapp, lambda: state["done"])
    seconds = time.perf_counter() - t0
    stall = beat.stop()
    viewport.shown.disconnect(shown)
    if not painted:
        loader.ready.disconnect(ready)
    return last / seconds, stall


def rounds_of(pairs: list[tuple[float, float]]) -> dict:
    """Interleaved (rate, anchor) rounds: medians and the median ratio."""
    return {"rate": round(median([r for r, _ in pairs]), 1),
            "anchor": round(median([a for _, a in pairs]), 1),
            "ratio": round(median([r / a for r, a in pairs]), 2),
            "rounds": [[round(r, 1), round(a, 1)] for r, a in pairs]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=500, help="images of the scrolled series (default 500)")
    ap.add_argument("--big", type=int, default=2000, help="images of the memory series (default 2000)")
    ap.add_argument("--frames", type=int, default=200, help="frames of the multi-frame (default 200)")
    ap.add_argument("--repeat", type=int, default=5, help="opens timed for the first image (median)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="interleaved rounds of each rate and its anchor (median)")
    ap.add_argument("--data", type=Path, help="where the CT files are kept between runs")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON document")
    args = ap.parse_args(argv)

    from app.accounts import accounts
    from app.home import os_login
    from app.importing.importer import import_paths
    from app.startup import open_home
    from viewer_more import drag_rate, frame_anchor, multiframe_files

    load_before = os.getloadavg()
    data = args.data or Path(tempfile.gettempdir()) / "studydesk-bench-viewer"
    scroll_paths = series_files(data, f"ct{args.n}", args.n)
    big_paths = series_files(data, f"ct{args.big}", args.big)
    multi = multiframe_files(data, args.frames)
    work = Path(tempfile.mkdtemp(prefix="studydesk-bench-viewer-"))
    home = open_home(work / "home")
    result = import_paths(home, [data / f"ct{args.n}", data / f"ct{args.big}",
                                 *(p.parent for p in multi.values())], os_login(), mode="link")
    assert not result.rejected, result.rejected
    with closing(home.connect()) as db:
        user = accounts.get_user(db, os_login())
        uids = dict(db.execute("SELECT COUNT(*), series_instance_uid FROM instances"
                               " GROUP BY series_instance_uid HAVING COUNT(*) > 1").fetchall())
        by_path = dict(db.execute("SELECT path, series_instance_uid FROM instances"
                                  " WHERE number_of_frames > 1").fetchall())
    multi_uids = {kind: uid for kind, p in multi.items() for path, uid in by_path.items()
                  if Path(path).resolve() == p.resolve()}
    warm(scroll_paths + big_paths + list(multi.values()))

    from ui.app import application, apply_theme
    from ui.jobs import JobRunner

    qapp = application()
    apply_theme(qapp)
    runner = JobRunner()
    rss_before = vm("VmRSS")
    opens = []
    for _ in range(max(1, args.repeat)):
        seconds, window = open_and_wait(qapp, home, user, runner, uids[args.n])
        opens.append(seconds)
        window.close()
        run_until(qapp, lambda: True)
    _, window = open_and_wait(qapp, home, user, runner, uids[args.n])
    painted_rate, painted_stall = scroll_through(qapp, window, painted=True)
    window.close()

    scroll, stalls = [], []
    frames = {kind: [] for kind in multi_uids}
    drags = []
    for _ in range(max(1, args.rounds)):  # interleaved: the machine is shared
        anchor = bare_loop(scroll_paths)
        _, window = open_and_wait(qapp, home, user, runner, uids[args.n])
        rate, stall = scroll_through(qapp, window, painted=False)
        scroll.append((rate, anchor))
        stalls.append(stall)
        drags.append(drag_rate(qapp, window, run_until))
        window.close()
        for kind, uid in multi_uids.items():
            anchor = frame_anchor(multi[kind], args.frames)
            _, window = open_and_wait(qapp, home, user, runner, uid)
            frames[kind].append((scroll_through(qapp, window, painted=False)[0], anchor))
            window.close()

    peak_rss = [0.0]
    _, window = open_and_wait(qapp, home, user, runner, uids[args.big])
    big_rate, big_stall = scroll_through(
        qapp, window, sample=lambda: peak_rss.__setitem__(0, max(peak_rss[0], vm("VmRSS"))),
        painted=False)
    from app.viewer import decoder

    workers = decoder.worker_pids()  # started by the JPEG 2000 series: the viewer's memory too
    workers_mb = sum(vm("VmRSS", str(pid)) for pid in workers)
    window.close()
    runner.shutdown()
    from ui.viewer.loader import decode_pool

    decode_pool().waitForDone(30000)
    shutil.rmtree(work, ignore_errors=True)

    out = {
        "machine": machine(),
        "platform": qapp.platformName(),
        "load_average_before_after": [round(x, 2) for x in (*load_before, *os.getloadavg())],
        "first_image_ms": round(median(opens) * 1000, 1),
        "first_image_all_ms": [round(s * 1000, 1) for s in opens],
        "scroll_painted_images_per_s": round(painted_rate, 1),
        "gui_stall_painted_max_ms": round(painted_stall * 1000, 1),
        "scroll": rounds_of(scroll),
        "gui_stall_max_ms": round(max(stalls) * 1000, 1),
        "multiframe": {kind: rounds_of(pairs) for kind, pairs in frames.items()},
        "window_drag": rounds_of(drags),
        "scroll_big_images_per_s": round(big_rate, 1),
        "gui_stall_big_max_ms": round(big_stall * 1000, 1),
        "rss_before_window_mb": round(rss_before, 1),
        "rss_scrolling_max_mb": round(peak_rss[0], 1),
        "rss_peak_mb": round(vm("VmHWM"), 1),
        "decoder_workers": len(workers), "decoder_workers_rss_mb": round(workers_mb, 1),
        "n": args.n, "big": args.big, "frames": args.frames, "rounds": args.rounds,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    sc, wd = out["scroll"], out["window_drag"]
    print(f"load average  {out['load_average_before_after']} (1, 5, 15 min; before, after)")
    print(f"first image   {out['first_image_ms']} ms (median of {len(opens)}: "
          f"{out['first_image_all_ms']})")
    print(f"painted       {out['scroll_painted_images_per_s']} images/s, every image painted "
          f"({args.n} images, uncached); GUI stall max {out['gui_stall_painted_max_ms']} ms")
    print(f"scroll        {sc['rate']} images/s uncached ({args.n} images), anchor {sc['anchor']}/s: "
          f"{sc['ratio']}x (median of {args.rounds} rounds {sc['rounds']}); "
          f"GUI stall max {out['gui_stall_max_ms']} ms")
    for kind, mf in out["multiframe"].items():
        print(f"multi-frame   {kind}: {mf['rate']} frames/s ({args.frames} frames, uncached), "
              f"anchor {mf['anchor']}/s: {mf['ratio']}x {mf['rounds']}")
    print(f"window drag   {wd['rate']} redraws/s (512x512 CT), numpy window alone {wd['anchor']}/s: "
          f"{wd['ratio']}x {wd['rounds']}")
    print(f"memory        {out['rss_scrolling_max_mb']} MB while scrolling {args.big} images "
          f"({out['scroll_big_images_per_s']}/s, stall max {out['gui_stall_big_max_ms']} ms); "
          f"{out['rss_before_window_mb']} MB before the window, peak {out['rss_peak_mb']} MB; "
          f"+{out['decoder_workers_rss_mb']} MB in {out['decoder_workers']} decoder processes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
