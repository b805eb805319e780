"""Network transfer rates against DCMTK, in one run (docs/performance/network.md).

    .venv/bin/python bench/network.py [--n 2000] [--repeat 3] [--json]
                                      [--data DIR] [--work DIR] [--only send|get|web] [--quick]

Generates N 512x512 int16 CT files (one study, ~0.5 MB each; --data DIR
reuses them), then, alternating the two sides of each pair --repeat times
and reporting medians:

  send      StudyDesk `send` (send_studies: one association, data sets
            streamed from the files) of the study, imported beforehand in
            link mode, to a DCMTK storescp, against DCMTK storescu of the
            same files to the same storescp
  get       StudyDesk `retrieve --method get` of the study from Orthanc into
            a fresh home (every instance recorded in the cache and synced to
            disk), against DCMTK getscu into an empty folder, and getscu
            followed by `sync` (the same durability as the cache gives);
            also "studydesk-wire": the C-GET alone with StudyDesk's network
            code, files written but not recorded (a diagnostic), and
            "getscu-pdu128k": getscu receiving PDUs of 128 KiB as StudyDesk
            does rather than its default 16 KiB (Orthanc then spends less
            per file: a second, stricter anchor)
  web       the same study retrieved and sent by StudyDesk over DICOMweb
            (WADO-RS, STOW-RS) and over DIMSE (C-GET, C-STORE), from and to
            one Orthanc with its DICOMweb plugin (bench/network_web.py)

The sides of a pair alternate in every repeat (StudyDesk first, then
last), and besides the ratio of the median rates the report gives the
median of the ratios of each repeat ("paired"), the steadier figure on a
shared machine. Every server and tool runs with TCP_NODELAY=1 (shared/FACTS.md). Target:
StudyDesk at least 0.8x DCMTK for both. Besides the rates, the report gives
the CPU time per file of each side (this process for StudyDesk, the child
for a DCMTK tool; and of that the system time, the kernel's part) and of
the peer serving it (storescp, Orthanc; Linux only), which vary less than
rates on a shared machine, and the load average before and after.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as common
from app.startup import open_home

AET = "STUDYDESK"
ENV = dict(os.environ, TCP_NODELAY="1")


class Runs:
    """Wall seconds, CPU seconds of the side measured, and CPU seconds of the
    peer serving it, for every run of every side."""

    def __init__(self, *sides: str):
        self.seconds: dict[str, list[float]] = {side: [] for side in sides}
        self.cpu: dict[str, list[float]] = {side: [] for side in sides}
        self.system_cpu: dict[str, list[float]] = {side: [] for side in sides}  # the kernel's part of cpu
        self.peer_cpu: dict[str, list[float]] = {side: [] for side in sides}

    def measure(self, side: str, fn, in_process: bool, peer: subprocess.Popen):
        """Run *fn*; StudyDesk runs *in_process*, a DCMTK tool as a child
        waited for inside *fn*."""
        who = resource.RUSAGE_SELF if in_process else resource.RUSAGE_CHILDREN
        before, peer_cpu = resource.getrusage(who), process_cpu_seconds(peer.pid)
        seconds, out = common.timed(fn)
        after = resource.getrusage(who)
        self.seconds[side].append(seconds)
        self.cpu[side].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        self.system_cpu[side].append(after.ru_stime - before.ru_stime)
        if peer_cpu is not None:
            self.peer_cpu[side].append(process_cpu_seconds(peer.pid) - peer_cpu)
        return seconds, out

    def to_json(self) -> dict:
        return {"seconds": self.seconds, "cpu_seconds": self.cpu, "system_cpu_seconds": self.system_cpu,
                "peer_cpu_seconds": self.peer_cpu}


def process_cpu_seconds(pid: int):
    """User + system CPU seconds of a running process (Linux), else None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen) -> None:
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            try:
                proc.wait(timeout=0.05)
                raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
            except subprocess.TimeoutExpired:
                pass
    raise RuntimeError(f"{proc.args[0]} did not listen on {port}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def empty(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def count(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file())


def new_home(path: Path, nodes: list[tuple]):
    from app.accounts import accounts
    from app.home import os_login
    from app.net import nodes as net_nodes

    home = open_home(empty(path))
    home.set_setting("aet", AET)
    db = home.connect()
    user = accounts.get_user(db, os_login())
    for name, aet, port in nodes:
        net_nodes.add_node(db, user, name, aet, "127.0.0.1", port)
    db.close()
    return home, user


# -- send -----------------------------------------------------------------------------------


def bench_send(data: Path, work: Path, n: int, repeat: int) -> dict:
    from app.importing.importer import import_paths
    from app.net.send import send_studies

    received = empty(work / "storescp")
    port = free_port()
    scp = subprocess.Popen(["storescp", "-aet", "STORESCP", "-od", str(received), str(port)],
                           env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, scp)
        home, user = new_home(work / "home-send", [("dcmtk", "STORESCP", port)])
        study = import_paths(home, [data], user, mode="link").studies[0]
        runs = Runs("studydesk", "storescu")
        for r in range(repeat):
            say(f"send ({r + 1}/{repeat}): StudyDesk ...")
            empty(received)
            seconds, result = runs.measure("studydesk", lambda: send_studies(home, user, [study], "dcmtk"),
                                           True, scp)
            assert result.sent == n and count(received) == n, (result.to_json(), count(received))
            say(f"  {n / seconds:.0f} files/s; storescu ...")
            empty(received)
            seconds, run = runs.measure("storescu", lambda: subprocess.run(
                ["storescu", "-aet", AET, "-aec", "STORESCP", "+sd", "+r", "127.0.0.1", str(port), str(data)],
                env=ENV, capture_output=True, text=True), False, scp)
            assert run.returncode == 0 and count(received) == n, run.stderr[-500:]
            say(f"  {n / seconds:.0f} files/s")
        return runs
    finally:
        stop(scp)


# -- retrieve ---------------------------------------------------------------------------------


def start_orthanc(work: Path, our_port: int) -> tuple[subprocess.Popen, int]:
    folder = empty(work / "orthanc")
    port, http = free_port(), free_port()
    config = {"Name": "bench", "StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"),
              "Plugins": [], "HttpPort": http, "RemoteAccessAllowed": False, "DicomAet": "ORTHANC",
              "DicomPort": port, "DicomAlwaysAllowStore": False, "DicomCheckModalityHost": True,
              "DicomModalities": {"studydesk": [AET, "127.0.0.1", our_port],
                                  "getscu": ["GETSCU", "127.0.0.1", 104]},
              "SaveJobs": False, "StableAge": 1}
    (folder / "orthanc.json").write_text(json.dumps(config))
    proc = subprocess.Popen(["Orthanc", str(folder / "orthanc.json")], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc)
    return proc, port


def wire_get(port: int, study: str, target: Path) -> int:
    """The C-GET alone, with StudyDesk's association and DIMSE code: data sets
    written to files as in a retrieve, but not recorded in the cache (a
    diagnostic: how the protocol layer compares with getscu's)."""
    from app.net import association, dimse, sinks
    from app.net.association import Proposal
    from app.net.client import STUDY_ROOT_GET, UNCOMPRESSED
    from pydicom.dataset import Dataset

    ct = common.CT_IMAGE_STORAGE
    assoc = association.request("127.0.0.1", port, AET, "ORTHANC", [
        Proposal(STUDY_ROOT_GET, UNCOMPRESSED), Proposal(ct, UNCOMPRESSED, scp_role=True)])
    cid = assoc.context_for(STUDY_ROOT_GET)
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = study
    dimse.send(assoc, cid, {"CommandField": dimse.C_GET_RQ, "MessageID": 1, "Priority": 0,
                            "AffectedSOPClassUID": STUDY_ROOT_GET},
               dataset=dimse.encode_dataset(ds, assoc.contexts[cid][1]))
    received = 0
    while True:
        m = dimse.receive(assoc, lambda c, cmd: sinks.FileSink(target, cmd["AffectedSOPClassUID"],
                                                               cmd["AffectedSOPInstanceUID"], assoc.contexts[c][1],
                                                               "ORTHANC"))
        if m.field == dimse.C_STORE_RQ:
            received += 1
            dimse.send(assoc, m.context_id, {"CommandField": dimse.C_STORE_RSP,
                                             "MessageIDBeingRespondedTo": m.command["MessageID"],
                                             "AffectedSOPClassUID": m.command["AffectedSOPClassUID"],
                                             "AffectedSOPInstanceUID": m.command["AffectedSOPInstanceUID"],
                                             "Status": 0})
        elif m.field == dimse.C_GET_RSP and m.status not in dimse.PENDING:
            assoc.release()
            return received


GET_SIDES = ("studydesk", "getscu", "getscu+sync", "getscu-pdu128k", "studydesk-wire")


def bench_get(data: Path, work: Path, n: int, repeat: int, sides=GET_SIDES) -> dict:
    """The get pair, interleaved: each repeat runs every side once, StudyDesk
    first in even repeats and last in odd ones, so that a drift of the
    machine's load falls on both sides alike."""
    from app.net.retrieve.study import retrieve

    our_port = free_port()
    orthanc, port = start_orthanc(work, our_port)
    try:
        say("loading Orthanc with storescu ...")
        load = subprocess.run(["storescu", "-aet", AET, "-aec", "ORTHANC", "+sd", "+r", "127.0.0.1",
                               str(port), str(data)], env=ENV, capture_output=True, text=True)
        assert load.returncode == 0, load.stderr[-500:]
        from pydicom import dcmread

        study = str(dcmread(common.dicom_files(data)[0], stop_before_pixels=True).StudyInstanceUID)
        runs = Runs(*sides)

        def studydesk() -> None:
            home, user = new_home(work / "home-get", [("pacs", "ORTHANC", port)])
            home.set_setting("port", str(our_port))
            os.sync()
            seconds, result = runs.measure("studydesk", lambda: retrieve(home, user, "pacs", [study]),
                                           True, orthanc)
            assert result.retrieved == n and not result.failed, result.to_json()
            say(f"  studydesk: {n / seconds:.0f} files/s")
            shutil.rmtree(home.root)

        def dcmtk(key: str, options: list[str], then_sync: bool) -> None:
            target = empty(work / "getscu")
            os.sync()

            def get():
                run = subprocess.run(["getscu", "-aet", "GETSCU", "-aec", "ORTHANC", *options,
                                      "-od", str(target), "-k", "QueryRetrieveLevel=STUDY",
                                      "-k", f"StudyInstanceUID={study}", "127.0.0.1", str(port)],
                                     env=ENV, capture_output=True, text=True)
                if then_sync:
                    os.sync()
                return run

            seconds, run = runs.measure(key, get, False, orthanc)
            assert run.returncode == 0 and count(target) == n, run.stderr[-500:]
            say(f"  {key}: {n / seconds:.0f} files/s")

        def wire() -> None:
            target = empty(work / "wire")
            os.sync()
            seconds, received = runs.measure("studydesk-wire", lambda: wire_get(port, study, target),
                                             True, orthanc)
            assert received == n
            say(f"  studydesk-wire: {n / seconds:.0f} files/s")

        steps = {"studydesk": studydesk, "getscu": lambda: dcmtk("getscu", [], False),
                 "getscu+sync": lambda: dcmtk("getscu+sync", [], True),
                 "getscu-pdu128k": lambda: dcmtk("getscu-pdu128k", ["-pdu", "131072"], False),
                 "studydesk-wire": wire}
        for r in range(repeat):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            say(f"get ({r + 1}/{repeat}): {', '.join(order)}")
            for side in order:
                steps[side]()
        return runs
    finally:
        stop(orthanc)


def paired_ratio(runs: Runs, side: str, anchor: str):
    """The median over repeats of StudyDesk's rate over the anchor's in the
    same repeat (the two ran minutes apart at most)."""
    ours, theirs = runs.seconds.get(side, []), runs.seconds.get(anchor, [])
    if not ours or len(ours) != len(theirs):
        return None
    return round(common.median([t / o for o, t in zip(ours, theirs)]), 2)


def main(argv: list[str] | None = None) -> int:
    ap = common.bench_parser(__doc__, "homes and received files", repeat=3, series=False)
    ap.add_argument("--only", choices=("send", "get", "web"), help="run one of the pairs")
    ap.add_argument("--quick", action="store_true",
                    help="get pair: only StudyDesk, getscu and getscu + sync (no diagnostics)")
    args = ap.parse_args(argv)
    missing = [t for t in ("storescp", "storescu", "getscu", "Orthanc") if shutil.which(t) is None]
    if missing:
        say(f"missing: {', '.join(missing)} (bash scripts/setup.sh --tests installs them)")
        return 2
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="studydesk-netbench-", dir=args.work))
    try:
        data = args.data or work / "data"
        paths = common.dicom_files(data) if data.exists() else []
        if not paths:
            say(f"generating {args.n} CT files in {data} ...")
            paths = common.make_ct_study(data, args.n)
        n = len(paths)
        size = common.warm(paths)
        runs = {}
        if args.only in (None, "send"):
            runs["send"] = bench_send(data, work, n, args.repeat)
        if args.only in (None, "get"):
            runs["get"] = bench_get(data, work, n, args.repeat,
                                    GET_SIDES[:3] if args.quick else GET_SIDES)
        if args.only in (None, "web"):
            import network_web

            if network_web.PLUGIN.is_file():
                runs["web"] = network_web.bench_web(sys.modules[__name__], data, work, n, args.repeat)
            else:
                say("skipping the web pair: orthanc-dicomweb is not installed")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rates = {pair: {side: n / common.median(times) for side, times in pair_runs.seconds.items()}
             for pair, pair_runs in runs.items()}

    def per_file(values: dict[str, list[float]]) -> dict:
        return {side: round(1000 * common.median(v) / n, 2) for side, v in values.items() if v}

    report = {"machine": common.machine(), "files": n, "megabytes": round(size / 2**20), "repeat": args.repeat,
              "load_average": {"before": [round(x, 2) for x in load_before],
                               "after": [round(x, 2) for x in os.getloadavg()]},
              "files_per_s": {p: {s: round(v) for s, v in sides.items()} for p, sides in rates.items()},
              "cpu_ms_per_file": {p: per_file(r.cpu) for p, r in runs.items()},
              "system_cpu_ms_per_file": {p: per_file(r.system_cpu) for p, r in runs.items()},
              "peer_cpu_ms_per_file": {p: per_file(r.peer_cpu) for p, r in runs.items()},
              "runs": {p: r.to_json() for p, r in runs.items()}}
    if "send" in rates:
        report["send_ratio"] = round(rates["send"]["studydesk"] / rates["send"]["storescu"], 2)
    if "get" in rates:
        report["get_ratio"] = round(rates["get"]["studydesk"] / rates["get"]["getscu"], 2)
        report["get_ratio_durable"] = round(rates["get"]["studydesk"] / rates["get"]["getscu+sync"], 2)
        if "getscu-pdu128k" in rates["get"]:
            report["get_ratio_pdu128k"] = round(rates["get"]["studydesk"] / rates["get"]["getscu-pdu128k"], 2)
        report["get_ratio_paired"] = paired_ratio(runs["get"], "studydesk", "getscu")
        report["get_ratio_durable_paired"] = paired_ratio(runs["get"], "studydesk", "getscu+sync")
    if "web" in rates:
        report["wado_rs_over_c_get"] = round(rates["web"]["wado-rs"] / rates["web"]["c-get"], 2)
        report["stow_rs_over_c_store"] = round(rates["web"]["stow-rs"] / rates["web"]["c-store"], 2)
        report["wado_rs_over_c_get_paired"] = paired_ratio(runs["web"], "wado-rs", "c-get")
        report["stow_rs_over_c_store_paired"] = paired_ratio(runs["web"], "stow-rs", "c-store")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for pair, sides in report["files_per_s"].items():
            print(f"{pair:5} " + "  ".join(f"{side}: {rate} files/s" for side, rate in sides.items()))
            cpu, peer = report["cpu_ms_per_file"][pair], report["peer_cpu_ms_per_file"][pair]
            kernel = report["system_cpu_ms_per_file"][pair]
            print("      CPU ms/file " + "  ".join(
                f"{side}: {ms}" + (f" (system {kernel[side]})" if side in kernel else "")
                + (f" (peer {peer[side]})" if side in peer else "") for side, ms in cpu.items()))
        print(f"load average before {report['load_average']['before']}, after {report['load_average']['after']}")
        for key in ("send_ratio", "get_ratio", "get_ratio_durable", "get_ratio_pdu128k", "get_ratio_paired",
                    "get_ratio_durable_paired", "wado_rs_over_c_get", "stow_rs_over_c_store",
                    "wado_rs_over_c_get_paired", "stow_rs_over_c_store_paired"):
            if key in report:
                print(f"{key}: {report[key]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
