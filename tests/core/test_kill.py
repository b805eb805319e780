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
import os, sys, threading
sys.path[:0] = [{root!r}, {helpers!r}]
if {watch_only!r}:
    os.environ["STUDYDESK_FAULT"] = "no-pdeathsig"  # the parent-watching thread alone
from app import parallel
from app.jobs import CancelToken
import slowwork

if {forkserver!r}:
    threading.Thread(target=threading.Event().wait, daemon=True).start()  # picks forkserver
for _ in parallel.map_chunks(slowwork.slow, [[n] for n in range(8)], CancelToken(), 3):
    pass
"""


@pytest.mark.parametrize("forkserver,watch_only", [(False, False), (True, False), (False, True)],
                         ids=["fork", "forkserver", "fork-without-pdeathsig"])
def test_pool_workers_end_with_a_killed_parent(tmp_path, forkserver, watch_only):
    (tmp_path / "slowwork.py").write_text(SLOW)
    script = RUNNER.format(root=str(ROOT), helpers=str(tmp_path), forkserver=forkserver,
                           watch_only=watch_only)
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


# -- what kills leave behind: nothing, once the home is opened again -------------------


def _studydesk(home: Path, *args: str, **popen) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYDESK_")}
    return subprocess.Popen([sys.executable, "-m", "app", "--home", str(home), *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def _consistent(home: Path) -> None:
    """Open the home again (recovery runs) and check: every row has its
    file, every store file has its row, no partial output, no session of
    a dead process."""
    import sqlite3

    reopened = _studydesk(home, "studies", "--json")
    out, err = reopened.communicate(timeout=120)
    assert reopened.returncode == 0, err
    conn = sqlite3.connect(home / "cache.sqlite")
    try:
        rows = {p for (p,) in conn.execute("SELECT path FROM instances WHERE linked = 0")}
    finally:
        conn.close()
    files = {p.relative_to(home).as_posix() for p in (home / "store").rglob("*") if p.is_file()}
    assert rows - files == set(), "rows without their file"
    assert files - rows == set(), "store files that no row names"
    verified = _studydesk(home, "audit", "--verify")
    err = verified.communicate(timeout=120)[1]
    assert verified.returncode == 0, f"a kill is not tampering: {err}"


def _kill_at_random(proc: subprocess.Popen, started, rng) -> None:
    wait_for(lambda: started() or proc.poll() is not None, 60, "the work started")
    deadline = time.monotonic() + rng.uniform(0, 0.8)   # a random moment of the work
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    workers = descendants(proc.pid)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    try:
        wait_for(lambda: not any(alive(p) for p in workers), 10, "no worker left after the kill")
    finally:
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=30)


def test_killed_imports_leave_no_file_without_a_row(tmp_path):
    import random

    from tests.factories import ct_dataset, write

    rng = random.Random(13)
    home = tmp_path / "home"
    folder = tmp_path / "many"
    for n in range(1, 301):
        write(ct_dataset(study=f"k{n % 2}", series=f"se{n % 3}", number=n), folder / f"f{n}.dcm")
    for _ in range(4):
        proc = _studydesk(home, "import", str(folder))
        _kill_at_random(proc, lambda: (home / "store").exists() and any((home / "store").iterdir()),
                        rng)
        _consistent(home)
    done = _studydesk(home, "import", str(folder), "--json")
    assert done.communicate(timeout=300) and done.returncode in (0, 6)
    _consistent(home)


KILL_AFTER_RENAME = """
import os, sys
sys.path.insert(0, {root!r})
from app import store

renamed = []
real = store.PendingFile.commit

def commit(self):  # the process dies between a rename into the store and its commit
    real(self)
    renamed.append(self.final)
    if len(renamed) == {after}:
        os._exit(137)

store.PendingFile.commit = commit
from app.cli import main
sys.exit(main(["--home", {home!r}, "import", {folder!r}]))
"""


def test_a_kill_between_rename_and_commit_leaves_no_file_without_a_row(tmp_path):
    from tests.factories import write_series

    home = tmp_path / "home"
    folder = tmp_path / "few"
    write_series(folder, 40, study="r")
    script = KILL_AFTER_RENAME.format(root=str(ROOT), after=25, home=str(home), folder=str(folder))
    killed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True)
    assert killed.returncode == 137
    assert len([p for p in (home / "store").rglob("*.dcm")]) == 25   # renamed, not recorded
    _consistent(home)
    assert not [p for p in (home / "store").rglob("*") if p.is_file()]


def test_killed_exports_leave_no_partial(tmp_path):
    import json
    import random

    from tests.factories import ct_dataset, write

    rng = random.Random(31)
    home = tmp_path / "home"
    folder = tmp_path / "many"
    for n in range(1, 301):
        write(ct_dataset(study="x", series=f"se{n % 3}", number=n), folder / f"f{n}.dcm")
    imported = _studydesk(home, "import", str(folder))
    imported.communicate(timeout=300)
    study = json.loads(_studydesk(home, "studies", "--json").communicate(timeout=60)[0])[0]["study_uid"]
    out = tmp_path / "out"
    out.mkdir()
    for anonymize in (True, False, True):
        extra = ["--anonymize"] if anonymize else []
        proc = _studydesk(home, "export", study, "--zip", str(out / "x.zip"), *extra)
        _kill_at_random(proc, lambda: any(out.iterdir()), rng)
        _consistent(home)
        assert [p.name for p in out.iterdir() if p.name.endswith(".partial")] == []
    (out / "x.zip").unlink(missing_ok=True)


@pytest.mark.network
@pytest.mark.timeout(180)
def test_killed_receives_leave_no_file_without_a_row(tmp_path, free_port):
    import threading

    from app import recovery
    from tests.factories import write_series
    from tests.net.test_cli_net import sd
    from tests.net.test_durability import PEER, Sender, start_listener

    pytest.importorskip("pynetdicom")
    home = tmp_path / "home"
    sd(home, "node", "add", "modality", "--aet", PEER, "--host", "127.0.0.1", "--port", "104")
    recovery.end_session(home.resolve())   # this process holds the home no more
    for round_, kill_after in enumerate((2, 7, 13)):
        paths = write_series(tmp_path / f"in{round_}", 20, patient_id=f"RCV{round_}", study=f"r{round_}",
                             size=128)
        proc = start_listener(home, free_port())
        port = int(proc.args[proc.args.index("--port") + 1])
        lock, count = threading.Lock(), [0]

        def counted():
            with lock:
                count[0] += 1
                if count[0] == kill_after:
                    os.kill(proc.pid, signal.SIGKILL)

        senders = [Sender(port, paths[0::2], counted), Sender(port, paths[1::2], counted)]
        try:
            for sender in senders:
                sender.start()
            for sender in senders:
                sender.join(60)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        _consistent(home)
