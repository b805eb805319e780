"""kill -9 of the application: no worker process survives it.

The process that makes the pool is killed while its workers run; every
process it started (workers, the fork server) must be gone soon after.
Processes are found through /proc (their parent pids), so these tests run
on Linux only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")

ROOT = Path(__file__).resolve().parents[2]


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def descendants(pid: int) -> set[int]:
    """Every live process below *pid* (children, their children, ...)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _stat(int(entry))
            if info and info[0] != "Z":
                parents[int(entry)] = info[1]
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    info = _stat(pid)
    return info is not None and info[0] != "Z"


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


def kill_and_check(proc: subprocess.Popen, want: int, timeout: float = 10.0) -> set[int]:
    """Wait for at least *want* processes below *proc*, kill -9 it, and
    assert that all of them end within *timeout* seconds."""
    def started():
        found = descendants(proc.pid)
        return found if len(found) >= want else None

    workers = wait_for(started, 60, f"{want} worker processes started")
    workers |= descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    try:
        wait_for(lambda: not any(alive(p) for p in workers), timeout,
                 "every worker gone after the kill")
    finally:
        for pid in workers:  # never leave them behind, whatever the test said
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    return workers


SLOW = """
import time

def slow(chunk):
    time.sleep(3600)   # a worker busy for good: only its parent's death ends it
    return chunk
"""

RUNNER = """
import sys, threading
sys.path[:0] = [{root!r}, {helpers!r}]
from app import parallel
from app.jobs import CancelToken
import slowwork

if {forkserver!r}:
    threading.Thread(target=threading.Event().wait, daemon=True).start()  # picks forkserver
for _ in parallel.map_chunks(slowwork.slow, [[n] for n in range(8)], CancelToken(), 3):
    pass
"""


@pytest.mark.parametrize("forkserver", [False, True], ids=["fork", "forkserver"])
def test_pool_workers_end_with_a_killed_parent(tmp_path, forkserver):
    (tmp_path / "slowwork.py").write_text(SLOW)
    script = RUNNER.format(root=str(ROOT), helpers=str(tmp_path), forkserver=forkserver)
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], cwd=tmp_path)
    # fork: 3 workers; forkserver: the server and its 3 workers (and a resource tracker)
    kill_and_check(proc, want=4 if forkserver else 3)


def test_import_workers_end_when_the_import_is_killed(tmp_path):
    from tests.factories import ct_dataset, write

    folder = tmp_path / "many"
    for n in range(1, 601):
        write(ct_dataset(study="k", series=f"se{n % 3}", number=n), folder / f"f{n}.dcm")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYDESK_")}
    proc = subprocess.Popen([sys.executable, "-m", "app", "--home", str(tmp_path / "home"),
                             "import", str(folder)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_and_check(proc, want=2)
