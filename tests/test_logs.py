"""The log file (app/logs.py): what a user or support reads after the fact.

Each command, refusal, network association, recovery and window job leaves a
line in ``$STUDYDESK_LOG_DIR/studydesk.log``; ``--verbose`` shows the lines
on stderr too; the file is rotated past its size."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from app import logs


def studydesk(home: Path, log_dir: Path, *args: str, user: str | None = None,
              env: dict | None = None, **popen) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYDESK_")}
    full_env.update({"STUDYDESK_LOG_DIR": str(log_dir)}, **(env or {}))
    cmd = [sys.executable, "-m", "app", "--home", str(home)] + (["--user", user] if user else [])
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=full_env, timeout=120)


def _log(log_dir: Path) -> str:
    return (log_dir / logs.FILE_NAME).read_text(encoding="utf-8")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_commands_refusals_and_exit_codes_are_in_the_log(tmp_path):
    home, log_dir = tmp_path / "home", tmp_path / "log"
    assert studydesk(home, log_dir, "demo", "--patients", "1").returncode == 0
    uid = studydesk(home, log_dir, "studies", "--json").stdout.split('"study_uid": "')[1].split('"')[0]
    assert studydesk(home, log_dir, "user", "add", "clerk1", "--role", "clerk").returncode == 0
    refused = studydesk(home, log_dir, "delete", uid, user="clerk1")
    assert refused.returncode == 3
    # stderr keeps its one line per refusal: the log lines stay in the file
    assert refused.stderr.strip().count("\n") == 0, refused.stderr

    text = _log(log_dir)
    assert "INFO studydesk: demo: run by " in text and f"on {home.resolve()}" in text
    assert "demo: exit code 0 (done)" in text
    assert "refused: delete by clerk1" in text and uid in text      # the audited refusal
    assert "delete: not allowed:" in text and "delete: exit code 3 (not allowed)" in text
    assert len({line.split()[2] for line in text.splitlines() if " INFO " in line}) == 4  # 4 processes


def test_verbose_prints_the_log_lines_on_stderr(tmp_path):
    home, log_dir = tmp_path / "home", tmp_path / "log"
    quiet = studydesk(home, log_dir, "studies")
    assert quiet.returncode == 0 and quiet.stderr == ""
    loud = studydesk(home, log_dir, "studies", "--verbose")
    assert loud.returncode == 0
    assert "studies: run by " in loud.stderr and "studies: exit code 0 (done)" in loud.stderr
    assert "--verbose" in studydesk(home, log_dir, "--help").stdout
    assert studydesk(home, log_dir, "--verbose", "studies").stderr.count("exit code 0") == 1


def test_the_file_is_rotated_past_its_size(tmp_path):
    home, log_dir = tmp_path / "home", tmp_path / "log"
    for _ in range(4):
        assert studydesk(home, log_dir, "studies", env={"STUDYDESK_LOG_MAX_BYTES": "300"}).returncode == 0
    files = sorted(p.name for p in log_dir.iterdir())
    assert files[:2] == ["studydesk.log", "studydesk.log.1"] and len(files) >= 3, files
    assert all(p.stat().st_size <= 300 for p in log_dir.iterdir())
    assert "studies: exit code 0" in _log(log_dir)


def test_a_recovery_after_a_kill_is_in_the_log(tmp_path):
    from app import recovery
    from app.startup import open_home

    home, log_dir = tmp_path / "home", tmp_path / "log"
    opened = open_home(home)
    recovery.end_session(opened.root)  # this test's process lets go, as a process that exits would
    orphan = opened.store / "1.2.3" / "4.5.6" / "7.8.9.dcm"   # renamed in, never committed
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"DICM")
    (opened.root / recovery.RUN / str(_dead_pid())).write_text("0")
    assert studydesk(home, log_dir, "studies").returncode == 0
    assert not orphan.exists()
    text = _log(log_dir)
    assert "WARNING studydesk: recovery: removed 1 files of the store" in text and "7.8.9.dcm" in text


def test_network_associations_accepted_and_rejected_are_in_the_log(tmp_path, free_port):
    """A listener and two callers, three processes writing one file: the
    known caller's association opened and released on both sides, the
    stranger's rejected on both sides, each with AE titles and address."""
    log_dir = tmp_path / "log"
    listening, known, stranger = tmp_path / "listening", tmp_path / "known", tmp_path / "stranger"
    port = free_port()
    assert studydesk(known, log_dir, "config", "set", "aet", "KNOWNAE").returncode == 0
    assert studydesk(stranger, log_dir, "config", "set", "aet", "STRANGER").returncode == 0
    for caller in (known, stranger):
        assert studydesk(caller, log_dir, "node", "add", "desk", "--aet", "STUDYDESK", "--host", "127.0.0.1",
                         "--port", str(port)).returncode == 0
    assert studydesk(listening, log_dir, "node", "add", "known", "--aet", "KNOWNAE", "--host", "127.0.0.1",
                     "--port", "104").returncode == 0

    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYDESK_")}
    env["STUDYDESK_LOG_DIR"] = str(log_dir)
    listener = subprocess.Popen([sys.executable, "-m", "app", "--home", str(listening), "listen",
                                 "--port", str(port), "--host", "127.0.0.1"],
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        assert "listening as STUDYDESK" in listener.stderr.readline()
        assert studydesk(known, log_dir, "node", "echo", "desk").returncode == 0
        refused = studydesk(stranger, log_dir, "node", "echo", "desk")
        assert refused.returncode == 5, refused.stderr
    finally:
        listener.send_signal(signal.SIGINT)
        listener.communicate(timeout=60)
    text = _log(log_dir)
    assert f"studydesk.net: association KNOWNAE -> STUDYDESK at 127.0.0.1:{port} opened" in text
    assert f"studydesk.net: association KNOWNAE -> STUDYDESK (127.0.0.1:{port}) released" in text
    assert f"listener on port {port}: accepted: known (KNOWNAE@127.0.0.1" in text
    assert f"listener on port {port}: released: known" in text
    assert f"association STRANGER -> STUDYDESK at 127.0.0.1:{port} not opened" in text
    assert f"listener on port {port}: rejected: STRANGER from 127.0.0.1" in text


def test_window_jobs_are_in_the_log(qtbot, home, tmp_path, monkeypatch):
    from app.errors import RuleRefused
    from ui.jobs import JobRunner

    monkeypatch.setenv("STUDYDESK_LOG_DIR", str(tmp_path / "log"))
    assert logs.setup() == tmp_path / "log" / logs.FILE_NAME
    runner = JobRunner()
    try:
        with qtbot.waitSignal(runner.write(home, "Count the studies", lambda db, progress, cancel: 0,
                                           visible=False).finished):
            pass

        def refuse(db, progress, cancel):
            raise RuleRefused("study 1.2.3: locked by chris")

        with qtbot.waitSignal(runner.write(home, "Delete a study", refuse, on_failure=lambda m: None).finished):
            pass
    finally:
        runner.shutdown()
        logs.teardown()
    text = _log(tmp_path / "log")
    assert "INFO ui.jobs: job" in text and "started: Count the studies" in text
    assert "done (Done): Count the studies" in text
    assert "WARNING ui.jobs: job" in text and "failed (study 1.2.3: locked by chris): Delete a study" in text


def test_a_log_folder_that_cannot_be_written_never_stops_a_command(tmp_path):
    blocker = tmp_path / "unwritable"
    blocker.write_text("a file where the folder should be")
    done = studydesk(tmp_path / "home", blocker / "log", "studies")
    assert done.returncode == 0 and "no log file" in done.stderr


def test_the_window_started_from_the_command_logs_its_start(tmp_path):
    """`studydesk gui --verbose`: the window opens (no command runs instead of
    it) and says so in the file and on stderr."""
    log_dir = tmp_path / "log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYDESK_")}
    env["STUDYDESK_LOG_DIR"] = str(log_dir)
    window = subprocess.Popen([sys.executable, "-m", "app", "--home", str(tmp_path / "home"), "gui", "--verbose"],
                              stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        line = ""
        for line in window.stderr:
            if "window opened" in line:
                break
        assert "window opened by " in line, window.stderr.read()
    finally:
        window.terminate()
        window.communicate(timeout=60)
    assert "INFO ui: window opened by " in _log(log_dir)
