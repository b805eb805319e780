"""The network commands of shared/CLI.md, end to end in fresh homes."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass

import pytest

from tests.factories import write_series
from tests.net.conftest import OUR_AET, _env, wait_for_port

pytestmark = pytest.mark.network

STUDY_KEYS = {"study_uid", "patient_id", "patient_name", "study_date", "accession", "modalities",
              "description", "series_count", "instance_count", "assigned_to", "locked_by", "staged"}


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def sd(home, *args, check=True) -> Run:
    """``studydesk --home HOME ARGS`` in this process (the same main() as the
    console script; a new interpreter per command would cost a second each)."""
    from app.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--home", str(home), *map(str, args)])
    run = Run(code, out.getvalue(), err.getvalue())
    if check:
        assert run.returncode == 0, run.stderr
    return run


def js(home, *args):
    return json.loads(sd(home, *args, "--json").stdout)


@pytest.fixture
def cli_home(tmp_path, orthanc):
    home = tmp_path / "cli-home"
    sd(home, "config", "set", "aet", OUR_AET)
    sd(home, "config", "set", "port", str(orthanc.our_port))
    added = js(home, "node", "add", "pacs", "--aet", orthanc.aet, "--host", "127.0.0.1",
               "--port", str(orthanc.port))
    assert added == {"name": "pacs", "aet": orthanc.aet, "host": "127.0.0.1", "port": orthanc.port,
                     "tls": False, "purposes": ["query-retrieve", "store"]}
    return home


def test_node_list_and_echo(cli_home):
    assert [n["name"] for n in js(cli_home, "node", "list")] == ["pacs"]
    echo = js(cli_home, "node", "echo", "pacs")
    assert echo["ok"] is True and echo["ms"] > 0
    assert sd(cli_home, "node", "echo", "nowhere", check=False).returncode == 4


def test_query_retrieve_by_get_and_move(cli_home, tmp_path, pacs_data):
    rows = js(cli_home, "query", "pacs", "--patient-name", "doe*")
    assert STUDY_KEYS <= set(rows[0])
    assert {r["study_uid"] for r in rows} == {pacs_data["chest"], pacs_data["knee"]}
    series = js(cli_home, "query", "pacs", "--series", pacs_data["chest"])
    assert sum(s["instance_count"] for s in series) == 7
    got = js(cli_home, "retrieve", "pacs", pacs_data["chest"])
    assert got["retrieved"] == 7 and got["failed"] == []
    assert [s["study_uid"] for s in js(cli_home, "studies")] == [pacs_data["chest"]]
    moved_home = tmp_path / "moved"
    sd(moved_home, "config", "set", "aet", OUR_AET)
    sd(moved_home, "config", "set", "port", str(js(cli_home, "config", "get", "port")["port"]))
    sd(moved_home, "node", "add", "pacs", "--aet", "ORTHANC", "--host", "127.0.0.1",
       "--port", str(js(cli_home, "node", "list")[0]["port"]))
    moved = js(moved_home, "retrieve", "pacs", pacs_data["knee"], "--method", "move")
    assert moved["retrieved"] == 2 and moved["method"] == "move"
    assert js(moved_home, "studies")[0]["instance_count"] == 2


def test_send_to_a_node(cli_home, tmp_path, orthanc):
    write_series(tmp_path / "src", 2, patient_id="CLISEND", patient_name="CLI^SENDER", study="cs")
    imported = js(cli_home, "import", str(tmp_path / "src"))
    sent = js(cli_home, "send", *imported["studies"], "--to", "pacs")
    assert sent["sent"] == 2 and sent["failed"] == []
    assert orthanc.instance_count(imported["studies"][0]) == 2


def test_listen_accepts_a_configured_node_and_refuses_a_stranger(tmp_path, free_port):
    """The command itself, in its own process, ended by Ctrl+C (SIGINT)."""
    home = tmp_path / "listening"
    port = free_port()
    sd(home, "node", "add", "modality", "--aet", "MODALITY", "--host", "127.0.0.1", "--port", "104")
    env = {k: v for k, v in _env().items() if not k.startswith("STUDYDESK_")}
    proc = subprocess.Popen([sys.executable, "-m", "app", "--home", str(home), "listen", "--port", str(port),
                             "--host", "127.0.0.1", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_for_port(port, proc, "studydesk listen")
        files = write_series(tmp_path / "in", 2, patient_id="CLILSN")

        def storescu(calling):
            return subprocess.run(["storescu", "-aet", calling, "-aec", "STUDYDESK", "127.0.0.1", str(port),
                                   *map(str, files)], capture_output=True, text=True, env=_env(), timeout=60)

        assert storescu("STRANGER").returncode != 0
        assert storescu("MODALITY").returncode == 0
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert json.loads(out) == {"received": 2, "rejected_associations": 1}
    assert "STRANGER" in err
    assert js(home, "studies")[0]["instance_count"] == 2


def test_worklist_command(tmp_path, worklist_server):
    from tests.net.test_worklist import worklist_item

    port, folder = worklist_server
    worklist_item(folder, "x", "CLIMWL", "SCHED^SAM", "20990707", "1015", "CT HEAD", "CT", "ER")
    home = tmp_path / "wl-home"
    sd(home, "node", "add", "ris", "--aet", "WLM", "--host", "127.0.0.1", "--port", str(port),
       "--purpose", "worklist")
    rows = js(home, "worklist", "ris", "--patient-id", "CLIMWL")
    assert [(r["date"], r["modality"], r["location"]) for r in rows] == [("20990707", "CT", "ER")]
    assert os.path.isdir(home)


def test_config_set_checks_tls_files(tmp_path):
    """`config set tls.*` refuses a missing file, a file that is no
    certificate and a key of another certificate, naming the file; a good
    pair is saved as absolute paths."""
    from tests.net.conftest import self_signed

    home = tmp_path / "tls-home"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cert, key = self_signed(tmp_path / "a")
    _, other_key = self_signed(tmp_path / "b")
    missing = sd(home, "config", "set", "tls.certificate", tmp_path / "nope.pem", check=False)
    assert missing.returncode == 2 and "nope.pem: no such file" in missing.stderr
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("hello")
    wrong = sd(home, "config", "set", "tls.certificate", not_pem, check=False)
    assert wrong.returncode == 2 and "notes.txt: not a PEM certificate" in wrong.stderr
    assert sd(home, "config", "get", "tls.certificate", check=False).stdout.strip() in ("", "None")
    assert js(home, "config", "set", "tls.certificate", cert) == {"tls.certificate": str(cert)}
    mismatch = sd(home, "config", "set", "tls.key", other_key, check=False)
    assert mismatch.returncode == 2 and "does not match the certificate" in mismatch.stderr
    assert js(home, "config", "set", "tls.key", key) == {"tls.key": str(key)}


def test_a_send_to_a_node_that_is_down_says_so_once(tmp_path, free_port):
    """Nothing listens on the node's port: every instance fails alike, and
    the command prints one line for the node, not one per image (exit 5:
    nothing sent); --json still lists every instance."""
    home = tmp_path / "send-down"
    write_series(tmp_path / "src", 4, patient_id="CLIDOWN", study="dn")
    imported = js(home, "import", str(tmp_path / "src"))
    sd(home, "node", "add", "down", "--aet", "DOWN", "--host", "127.0.0.1", "--port", str(free_port()))
    run = sd(home, "send", *imported["studies"], "--to", "down", check=False)
    lines = [line for line in run.stderr.splitlines() if line.startswith("failed:")]
    assert run.returncode == 5
    assert len(lines) == 1 and "4 instances to down" in lines[0] and "cannot connect" in lines[0]
    listed = json.loads(sd(home, "send", *imported["studies"], "--to", "down", "--json", check=False).stdout)
    assert listed["sent"] == 0 and len(listed["failed"]) == 4
