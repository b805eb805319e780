"""The DICOMweb pair of bench/network.py: the same study retrieved and sent
over DICOMweb and over DIMSE, against one Orthanc with its DICOMweb plugin,
in one run (docs/performance/network.md).

  c-get     StudyDesk `retrieve` from the node as a DICOM node (C-GET) into
            a fresh home
  wado-rs   the same from the node as a DICOMweb node (WADO-RS) into a
            fresh home
  c-store   StudyDesk `send` of the study (imported in link mode) to the
            node as a DICOM node, the study deleted from Orthanc before
  stow-rs   the same to the node as a DICOMweb node (STOW-RS)

The sides alternate their order in every repeat, as the other pairs do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import _common as common

WEB_SIDES = ("c-get", "wado-rs", "c-store", "stow-rs")
PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


def start(work: Path, our_port: int, net):
    """Orthanc with the DICOMweb plugin: (process, DICOM port, HTTP port)."""
    folder = net.empty(work / "orthanc-web")
    port, http = net.free_port(), net.free_port()
    config = {"Name": "bench-web", "StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"),
              "Plugins": [str(PLUGIN)], "HttpPort": http, "RemoteAccessAllowed": False,
              "AuthenticationEnabled": False, "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
              "DicomAet": "ORTHANC", "DicomPort": port, "DicomAlwaysAllowStore": False,
              "DicomModalities": {"studydesk": [net.AET, "127.0.0.1", our_port]},
              "SaveJobs": False, "StableAge": 1}
    (folder / "orthanc.json").write_text(json.dumps(config))
    proc = subprocess.Popen(["Orthanc", str(folder / "orthanc.json")], env=net.ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    net.wait_for_port(port, proc)
    net.wait_for_port(http, proc)
    return proc, port, http


def _rest(http: int, path: str, method: str = "GET", body: bytes | None = None):
    request = urllib.request.Request(f"http://127.0.0.1:{http}{path}", data=body, method=method)
    with urllib.request.urlopen(request, timeout=600) as answer:
        return json.loads(answer.read() or b"null")


def delete_study(http: int, study: str) -> None:
    for found in _rest(http, "/tools/lookup", "POST", study.encode()) or []:
        if found.get("Type") == "Study":
            _rest(http, f"/studies/{found['ID']}", "DELETE")


def home_with_nodes(net, path: Path, port: int, http: int, our_port: int):
    from app.accounts import accounts
    from app.home import os_login
    from app.net import nodes

    home, user = net.new_home(path, [("pacs", "ORTHANC", port)])
    home.set_setting("port", str(our_port))
    db = home.connect()
    try:
        user = accounts.get_user(db, os_login())
        nodes.add_node(db, user, "pacs-web", None, None, None, url=f"http://127.0.0.1:{http}/dicom-web")
    finally:
        db.close()
    return home, user


def bench_web(net, data: Path, work: Path, n: int, repeat: int):
    """Runs of the four sides (bench/network.Runs)."""
    from pydicom import dcmread

    from app.importing.importer import import_paths
    from app.net.retrieve.study import retrieve
    from app.net.send import send_studies

    our_port = net.free_port()
    orthanc, port, http = start(work, our_port, net)
    try:
        net.say("loading Orthanc (DICOMweb) with storescu ...")
        load = subprocess.run(["storescu", "-aet", net.AET, "-aec", "ORTHANC", "+sd", "+r", "127.0.0.1",
                               str(port), str(data)], env=net.ENV, capture_output=True, text=True)
        assert load.returncode == 0, load.stderr[-500:]
        study = str(dcmread(common.dicom_files(data)[0], stop_before_pixels=True).StudyInstanceUID)
        sender, sender_user = home_with_nodes(net, work / "home-web-send", port, http, our_port)
        import_paths(sender, [data], sender_user, mode="link")
        runs = net.Runs(*WEB_SIDES)

        def fetch(side: str, node: str) -> None:
            home, user = home_with_nodes(net, work / "home-web-get", port, http, our_port)
            os.sync()
            seconds, result = runs.measure(side, lambda: retrieve(home, user, node, [study]), True, orthanc)
            assert result.retrieved == n and not result.failed, result.to_json()
            net.say(f"  {side}: {n / seconds:.0f} files/s")
            shutil.rmtree(home.root)

        def send(side: str, node: str) -> None:
            delete_study(http, study)
            seconds, result = runs.measure(side, lambda: send_studies(sender, sender_user, [study], node),
                                           True, orthanc)
            assert result.sent == n and not result.failed, result.to_json()
            net.say(f"  {side}: {n / seconds:.0f} files/s")

        steps = {"c-get": lambda: fetch("c-get", "pacs"), "wado-rs": lambda: fetch("wado-rs", "pacs-web"),
                 "c-store": lambda: send("c-store", "pacs"), "stow-rs": lambda: send("stow-rs", "pacs-web")}
        for r in range(repeat):
            # the sends leave the study in Orthanc for the next repeat's retrieves
            order = ["c-get", "wado-rs", "c-store", "stow-rs"] if r % 2 == 0 else \
                ["wado-rs", "c-get", "stow-rs", "c-store"]
            net.say(f"web ({r + 1}/{repeat}): {', '.join(order)}")
            for side in order:
                steps[side]()
        return runs
    finally:
        net.stop(orthanc)
