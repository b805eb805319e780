"""Screenshot of the worklist's Remote source, for the docs (remote.png).

    python -m tools.screenshots.remote OUT_DIR [--width 1600 --height 1000]

Needs Orthanc (Debian ``orthanc``). Starts one on free loopback ports with a
generated configuration (as tests/net/conftest.py does), loads the demo set
into it over its REST API, and opens the window on a temporary home that
knows it as the node ``pacs``: one study retrieved beforehand (✓ in the In
cache column), part of another imported (6/12), the listener on. Then it
searches the node for every study, ticks two, starts retrieving them and
saves OUT_DIR/remote.png while the jobs panel shows the progress.

Then, once that retrieve is done: OUT_DIR/remote_series.png, a study not in
the cache highlighted, its series as the node lists them in the pane beside
the strip, two of them ticked; and OUT_DIR/settings_tls.png, the settings
dialog's TLS page with generated certificates (the ``openssl`` command)
after a Save refused a key that belongs to another certificate.

Last, OUT_DIR/outbox.png on a home of its own (tools/screenshots/outbox.py): an
IOCM correction of studies retrieved from the node sent from the Outbox by
Send now, another held (its studies came from files), the status bar still
counting the held entries.
Run it under ``xvfb-run -a`` on a machine without a display.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from app.startup import open_home
from tools.screenshots.screenshot import save_widget

OUR_AET = "STUDYDESK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rest(http_port: int, path: str, body: bytes | None = None):
    request = urllib.request.Request(f"http://127.0.0.1:{http_port}{path}", data=body,
                                     method="POST" if body is not None else "GET")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def start_orthanc(folder: Path, our_port: int) -> tuple[subprocess.Popen, int, int]:
    """Orthanc on free ports, knowing our AE; returns (process, DICOM port, HTTP port)."""
    if shutil.which("Orthanc") is None:
        raise SystemExit("screenshot: Orthanc is not installed (apt-get install orthanc)")
    port, http_port = _free_port(), _free_port()
    config = {"Name": "StudyDesk screenshot", "StorageDirectory": str(folder / "db"),
              "IndexDirectory": str(folder / "db"), "Plugins": [], "HttpPort": http_port,
              "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "DicomAet": "ORTHANC",
              "DicomPort": port, "DicomModalities": {"studydesk": [OUR_AET, "127.0.0.1", our_port]},
              "SaveJobs": False}
    (folder / "orthanc.json").write_text(json.dumps(config))
    log = open(folder / "orthanc.log", "w")
    proc = subprocess.Popen(["Orthanc", str(folder / "orthanc.json")], stdout=log, stderr=log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            _rest(http_port, "/system")
            return proc, port, http_port
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"screenshot: Orthanc exited ({folder / 'orthanc.log'})")
            time.sleep(0.1)  # a script waiting for a server, not the GUI
    raise SystemExit("screenshot: Orthanc did not answer")


def prepare(root: Path, patients: int) -> tuple[subprocess.Popen, object, object]:
    """Orthanc holding the demo set; a home with Orthanc as ``pacs``, one
    study retrieved and part of another imported."""
    from app.demo import generate_demo
    from app.importing.importer import import_paths
    from app.net import nodes
    from app.net.retrieve import study as retrieve
    from ui.app import resolve_user

    files = sorted(generate_demo(root / "demo", patients=patients))
    our_port = _free_port()
    proc, port, http_port = start_orthanc(root, our_port)
    for path in files:
        _rest(http_port, "/instances", path.read_bytes())
    home = open_home(root / "StudyDesk")
    home.set_setting("aet", OUR_AET)
    home.set_setting("port", str(our_port))
    user = resolve_user(home)
    db = home.connect()
    try:
        nodes.add_node(db, user, "pacs", "ORTHANC", "127.0.0.1", port, purposes=["query-retrieve", "store"])
    finally:
        db.close()
    studies = _rest(http_port, "/studies?expand")
    by_size = sorted(studies, key=lambda s: len(s["Series"]))
    whole = by_size[len(by_size) // 2]["MainDicomTags"]["StudyInstanceUID"]
    retrieve.retrieve(home, user, "pacs", [whole])
    part = next(s for s in by_size if s["MainDicomTags"]["StudyInstanceUID"] != whole)
    uid = part["MainDicomTags"]["StudyInstanceUID"]
    import pydicom

    mine = [p for p in files if pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID == uid]
    import_paths(home, mine[: max(1, len(mine) // 2)], user)
    return proc, home, user


def shoot_series(window, out_dir: Path) -> None:
    """The series pane: the not-cached study with the most series, two ticked."""
    from tools.screenshots.screenshot import settle, wait_until

    model, pane = window.remote.model, window.remote.series_pane
    window.remote.ticks.clear()
    fresh = [r for r in range(model.rowCount()) if not model.study(r).get("in_cache")]
    if not fresh:
        raise SystemExit("screenshot: every study of the node is in the cache already")
    row = max(fresh, key=lambda r: (model.study(r).get("series_count") or 0, -r))
    window.remote.view.selectRow(row)
    wait_until(lambda: pane.study_uid == model.study_uid(row) and pane.model.rowCount() > 0
               and not pane.job, 60, "the series on the node")
    for series_row in range(1, min(3, pane.model.rowCount())):
        pane.model.set_ticked(series_row, True)
    pane.view.setFocus()
    settle(0.5)
    save_widget(window, out_dir / "remote_series.png")


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    run = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365",
                          "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert)],
                         capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        raise SystemExit(f"screenshot: openssl failed: {run.stderr.strip()}")
    return cert, key


def shoot_tls(window, root: Path, out_dir: Path) -> None:
    """The TLS page after Save refused a key of another certificate."""
    from app.home import shown_path
    from tools.screenshots.screenshot import settle, wait_until

    if shutil.which("openssl") is None:
        raise SystemExit("screenshot: the openssl command is needed for settings_tls.png")
    folder = root / "certificates"
    folder.mkdir()
    cert, _key = _certificate(folder, "workstation")
    _other, other_key = _certificate(folder, "another")
    dialog = window.open_settings()
    page = dialog.tls
    wait_until(lambda: page.is_loaded, 20, "the TLS settings")
    dialog.tabs.setCurrentWidget(page)
    dialog.resize(820, 480)
    for name, value in (("certificate", cert), ("key", other_key), ("ca", cert)):
        page.edits[name].setText(shown_path(value))  # as a user types it
    page.listen_check.setChecked(True)
    page.save_button.click()
    wait_until(lambda: page.note.text().startswith("Not saved"), 20, "the refusal")
    settle(0.5)
    save_widget(dialog, out_dir / "settings_tls.png")
    dialog.close()


def shoot_outbox(home, root: Path, args) -> None:
    """outbox.png, in a scratch folder of its own, against the same Orthanc."""
    from types import SimpleNamespace

    from app.net import nodes
    from tools.screenshots import outbox as screenshot_outbox
    from tools.screenshots.scenes import scratch_root

    db = home.connect()
    try:
        pacs = nodes.get_node(db, "pacs")
    finally:
        db.close()
    node = SimpleNamespace(aet=pacs.aet, host=pacs.host, port=pacs.port, our_port=int(home.get_setting("port")))
    outbox_root = scratch_root("studydesk-outbox-shot-")
    try:
        screenshot_outbox.shoot(outbox_root, root / "demo", node, args.out_dir, args.width, args.height)
    finally:
        shutil.rmtree(outbox_root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots.remote")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--patients", type=int, default=6)
    args = parser.parse_args(argv)

    from ui.app import application, apply_theme
    from ui.shell.main_window import MainWindow
    from tools.screenshots.screenshot import settle, wait_until
    from tools.screenshots.scenes import scratch_root

    qapp = application()
    apply_theme(qapp)
    root = scratch_root("studydesk-remote-shot-")
    proc = None
    try:
        proc, home, user = prepare(root, args.patients)
        window = MainWindow(home, user, temporary_home=True)
        window.resize(args.width, args.height)
        window.show()
        wait_until(lambda: window.scope.source.findData("pacs") >= 0, 20, "the nodes")
        window.listener_action.trigger()
        wait_until(lambda: window.listener.listening, 20, "the listener")
        window.scope.choose("pacs")
        model = window.remote.model
        window.qbe.patient_name.setText("*")
        window.qbe.request_search()
        wait_until(lambda: model.rowCount() > 0 and not model.is_searching(), 60, "the node's answer")
        cached = next(r for r in range(model.rowCount()) if model.study(r).get("in_cache")
                      and model.study(r)["in_cache"] >= (model.study(r).get("instance_count") or 0))
        window.remote.view.selectRow(cached)
        wait_until(lambda: window.strip.study_uid == model.study_uid(cached)
                   and bool(window.strip.cards()) and window.strip.is_complete(), 60, "the thumbnails")
        for row in (r for r in range(model.rowCount()) if not model.study(r).get("in_cache")):
            model.toggle_row(row)
            if len(window.remote.ticks) == 2:
                break
        window.remote.view.setFocus()
        settle(0.5)
        job = window.remote.retrieve()  # the jobs panel with its progress from the sub-operations
        wait_until(lambda: job.done or job.fraction >= 0.3, 60, "the retrieve under way")
        args.out_dir.mkdir(parents=True, exist_ok=True)
        save_widget(window, args.out_dir / "remote.png")
        wait_until(lambda: job.done and not window.runner.running(), 120, "the retrieve's end")
        shoot_series(window, args.out_dir)
        shoot_tls(window, root, args.out_dir)
        window.close()
        shoot_outbox(home, root, args)
        return 0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
