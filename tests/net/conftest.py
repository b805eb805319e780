"""Real DICOM peers on loopback: Orthanc (a PACS), DCMTK storescp (a store
destination) and wlmscpfs (a modality worklist), each started on free ports
with a configuration written here, and stopped after.

Orthanc 1.10.1 listens on every interface and cannot be bound to one
address: it gets free ports, ``RemoteAccessAllowed: false``, and refuses
C-STORE from anyone not in its ``DicomModalities`` (shared/FACTS.md).
All of them get ``TCP_NODELAY=1`` (Nagle's algorithm, FACTS.md).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.factories import pydicom_test_files, uid, write_series

OUR_AET = "STUDYDESK"


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (scripts/setup.sh --tests installs them)")


def _env() -> dict:
    return dict(os.environ, TCP_NODELAY="1")


def wait_for_port(port: int, proc: subprocess.Popen, what: str, deadline: float = 15.0) -> None:
    """Until *port* accepts a connection; fails at once if *proc* died."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            pass
        try:  # wait on the process rather than sleep: a dead server ends the wait
            proc.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
        raise RuntimeError(f"{what} exited with {proc.returncode} before listening on {port}")
    raise RuntimeError(f"{what} did not listen on {port} within {deadline} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Orthanc:
    aet: str
    port: int
    http_port: int
    our_port: int  # where Orthanc sends C-MOVE results for OUR_AET

    def rest(self, path: str, method: str = "GET", body: bytes | None = None):
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=body, method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read() or b"null")

    def load(self, folder: Path) -> None:
        """Upload files through Orthanc's REST API (independent of our own
        send, and of transfer syntax negotiation)."""
        for path in sorted(p for p in folder.rglob("*.dcm")):
            answer = self.rest("/instances", "POST", path.read_bytes())
            assert answer and answer.get("Status") in ("Success", "AlreadyStored"), (path, answer)

    def instance_count(self, study_uid: str) -> int:
        found = self.rest("/tools/find", "POST", json.dumps(
            {"Level": "Instance", "Query": {"StudyInstanceUID": study_uid}}).encode())
        return len(found)


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory, free_port):
    _need("Orthanc")
    folder = tmp_path_factory.mktemp("orthanc")
    server = Orthanc("ORTHANC", free_port(), free_port(), free_port())
    config = {
        "Name": "StudyDesk tests", "StorageDirectory": str(folder / "db"),
        "IndexDirectory": str(folder / "db"), "Plugins": [],
        "HttpPort": server.http_port, "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
        "DicomAet": server.aet, "DicomPort": server.port,
        "DicomAlwaysAllowStore": False, "DicomCheckModalityHost": True,
        "DicomModalities": {
            "studydesk": [OUR_AET, "127.0.0.1", server.our_port],
        },
        "SyncStorageArea": False, "SaveJobs": False, "StableAge": 1, "DicomScpTimeout": 30,
    }
    (folder / "orthanc.json").write_text(json.dumps(config, indent=2))
    log = open(folder / "orthanc.log", "w")
    proc = subprocess.Popen(["Orthanc", str(folder / "orthanc.json")], stdout=log, stderr=log, env=_env())
    try:
        wait_for_port(server.port, proc, "Orthanc")
        wait_for_port(server.http_port, proc, "Orthanc (HTTP)")
        yield server
    finally:
        stop(proc)
        log.close()


@pytest.fixture(scope="session")
def pacs_data(orthanc, tmp_path_factory):
    """What Orthanc holds for every test: two patients, three studies, and a
    200-instance series to cancel in the middle of."""
    folder = tmp_path_factory.mktemp("pacs")
    write_series(folder / "a", 4, patient_id="NETP1", patient_name="DOE^JANE", study="s1",
                 series="ax", accession="NET001", description="CT CHEST", study_date="20240110")
    write_series(folder / "a", 3, patient_id="NETP1", patient_name="DOE^JANE", study="s1",
                 series="cor", accession="NET001", description="CT CHEST", study_date="20240110")
    write_series(folder / "b", 2, patient_id="NETP1", patient_name="DOE^JANE", study="s2",
                 accession="NET002", modality="MR", description="MR KNEE", study_date="20230505")
    write_series(folder / "c", 200, patient_id="NETP2", patient_name="ROE^RICHARD", study="big",
                 accession="NET003", description="CT LONG RUN", study_date="20220202")
    compressed_study(folder / "d")
    orthanc.load(folder)
    return {"chest": uid("NETP1", "s1"), "knee": uid("NETP1", "s2"), "big": uid("NETP2", "big"),
            "compressed": uid("NETP3", "packed"), "folder": folder}


COMPRESSED_FILES = ("MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_RLE.dcm")


def compressed_study(folder: Path) -> None:
    """pydicom's MR_small in three compressed syntaxes, as one study of ours."""
    import pydicom

    folder.mkdir(parents=True)
    for n, name in enumerate(COMPRESSED_FILES, start=1):
        ds = pydicom.dcmread(pydicom_test_files() / name)
        ds.PatientID, ds.PatientName = "NETP3", "PACKED^PAUL"
        ds.StudyInstanceUID = uid("NETP3", "packed")
        ds.SeriesInstanceUID = uid("NETP3", "packed", "mr")
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid("NETP3", "packed", n)
        ds.InstanceNumber = n
        ds.save_as(folder / name, enforce_file_format=True)


@pytest.fixture
def admin(home):
    from app.accounts import accounts
    from app.home import os_login

    db = home.connect()
    try:
        return accounts.get_user(db, os_login())
    finally:
        db.close()


@pytest.fixture
def net_home(home, admin, orthanc):
    """A home whose AE is the one Orthanc knows, with Orthanc as node 'pacs'."""
    from app.net import nodes

    home.set_setting("aet", OUR_AET)
    home.set_setting("port", str(orthanc.our_port))
    db = home.connect()
    try:
        nodes.add_node(db, admin, "pacs", orthanc.aet, "127.0.0.1", orthanc.port,
                       purposes=["query-retrieve", "store"])
    finally:
        db.close()
    return home


@pytest.fixture
def storescp(tmp_path, free_port):
    """DCMTK storescp accepting anyone (AE STORESCP), writing to a folder."""
    _need("storescp")
    folder = tmp_path / "storescp"
    folder.mkdir()
    port = free_port()
    proc = subprocess.Popen(["storescp", "-aet", "STORESCP", "-od", str(folder), "+B", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
    try:
        wait_for_port(port, proc, "storescp")
        yield port, folder
    finally:
        stop(proc)


@pytest.fixture
def worklist_server(tmp_path, free_port):
    """DCMTK wlmscpfs serving the .wl files a test writes to ``folder`` (AE WLM)."""
    _need("wlmscpfs")
    root = tmp_path / "worklists"
    folder = root / "WLM"
    folder.mkdir(parents=True)
    (folder / "lockfile").touch()
    port = free_port()
    proc = subprocess.Popen(["wlmscpfs", "-dfp", str(root), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    try:
        wait_for_port(port, proc, "wlmscpfs")
        yield port, folder
    finally:
        stop(proc)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate and key for 127.0.0.1 (cryptography if
    installed, else the openssl command)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    if importlib.util.find_spec("cryptography") is None:
        _need("openssl")
        run = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                              "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        return cert, key
    return _self_signed_cryptography(cert, key)


def _self_signed_cryptography(cert: Path, key: Path) -> tuple[Path, Path]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(private.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(private, hashes.SHA256()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert, key
