"""DICOMweb as a second transport, against a real Orthanc with its DICOMweb
plugin (Debian ``orthanc-dicomweb``) that requires credentials (HTTP basic
authentication, ``RegisteredUsers``): node add/list/echo, query at study
and series level giving the same rows as C-FIND on the same Orthanc,
retrieve (byte-identical data sets, parallel, cancel, retry), send by
STOW-RS, and clear refusals (no credentials, wrong ones, a variable that
is not set, nothing listening)."""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.request
from pathlib import Path

import pydicom
import pytest

from app.errors import Cancelled
from app.jobs import CancelToken
from app.net.nodes import Node
from app.net.retrieve import study as net_retrieve
from app.net.web.client import authorization
from tests.factories import uid, write_series
from tests.net.conftest import OUR_AET, _env, _need, stop, wait_for_port
from tests.net.test_cli_net import js, sd

pytestmark = pytest.mark.network

PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
USER, PASSWORD = "alice", "wonder land"
TOKEN_ENV = "STUDYDESK_TEST_PACS_WEB"


class WebOrthanc:
    def __init__(self, port: int, http_port: int, our_port: int):
        self.aet, self.port, self.http_port, self.our_port = "WEBPACS", port, http_port, our_port
        self.url = f"http://127.0.0.1:{http_port}/dicom-web"

    def rest(self, path: str, method: str = "GET", body: bytes | None = None, raw: bool = False):
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=body, method=method)
        secret = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {secret}")
        with urllib.request.urlopen(request, timeout=10) as answer:
            data = answer.read()
        return data if raw else json.loads(data or b"null")

    def instances(self, study_uid: str) -> list[str]:
        return self.rest("/tools/find", "POST", json.dumps(
            {"Level": "Instance", "Query": {"StudyInstanceUID": study_uid}}).encode())


@pytest.fixture(scope="module")
def web_pacs(tmp_path_factory, free_port):
    """Orthanc with the DICOMweb plugin under /dicom-web/, credentials
    required; also a DICOM port (for the C-FIND comparison)."""
    _need("Orthanc")
    if not PLUGIN.is_file():
        pytest.skip("not installed: orthanc-dicomweb (scripts/setup.sh --tests installs it)")
    folder = tmp_path_factory.mktemp("web-orthanc")
    server = WebOrthanc(free_port(), free_port(), free_port())
    config = {
        "Name": "StudyDesk DICOMweb tests", "StorageDirectory": str(folder / "db"),
        "IndexDirectory": str(folder / "db"), "Plugins": [str(PLUGIN)],
        "HttpPort": server.http_port, "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True, "RegisteredUsers": {USER: PASSWORD},
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
        "DicomAet": server.aet, "DicomPort": server.port, "DicomAlwaysAllowStore": False,
        "DicomModalities": {"studydesk": [OUR_AET, "127.0.0.1", server.our_port]},
        "SyncStorageArea": False, "SaveJobs": False, "StableAge": 1,
    }
    (folder / "orthanc.json").write_text(json.dumps(config, indent=2))
    log = open(folder / "orthanc.log", "w")
    proc = subprocess.Popen(["Orthanc", str(folder / "orthanc.json")], stdout=log, stderr=log, env=_env())
    try:
        wait_for_port(server.http_port, proc, "Orthanc (HTTP)")
        wait_for_port(server.port, proc, "Orthanc")
        data = tmp_path_factory.mktemp("web-data")
        write_series(data, 5, patient_id="WEB1", patient_name="DOE^JANE", study="chest", series="ax",
                     accession="WEB001", description="CT CHEST", study_date="20240110")
        write_series(data, 3, patient_id="WEB1", patient_name="DOE^JANE", study="chest", series="cor",
                     accession="WEB001", description="CT CHEST", study_date="20240110")
        write_series(data, 2, patient_id="WEB1", patient_name="DOE^JANE", study="knee", series="sag",
                     accession="WEB002", modality="MR", description="MR KNEE", study_date="20230505")
        write_series(data, 40, patient_id="WEB2", patient_name="ROE^RICHARD", study="long", series="one",
                     accession="WEB003", description="CT LONG", study_date="20220202")
        for path in sorted(data.rglob("*.dcm")):
            assert server.rest("/instances", "POST", path.read_bytes())["Status"] == "Success"
        server.data = data
        yield server
    finally:
        stop(proc)
        log.close()


@pytest.fixture
def web_home(tmp_path, web_pacs, monkeypatch):
    """A home with the DICOMweb node 'pacs-web' (credentials from the
    environment) and the same Orthanc as a DICOM node 'pacs-dimse'."""
    monkeypatch.setenv(TOKEN_ENV, f"{USER}:{PASSWORD}")
    home = tmp_path / "web-home"
    sd(home, "config", "set", "aet", OUR_AET)
    sd(home, "config", "set", "port", str(web_pacs.our_port))
    sd(home, "node", "add", "pacs-dimse", "--aet", web_pacs.aet, "--host", "127.0.0.1",
       "--port", web_pacs.port)
    added = js(home, "node", "add", "pacs-web", "--url", web_pacs.url + "/", "--token-env", TOKEN_ENV)
    assert added["url"] == web_pacs.url and added["token_env"] == TOKEN_ENV
    return home


def study(name: str) -> str:
    return {"chest": uid("WEB1", "chest"), "knee": uid("WEB1", "knee"), "long": uid("WEB2", "long")}[name]


def cached_files(home: Path, study_uid: str) -> dict[str, Path]:
    from app import store
    from app.startup import open_home

    opened = open_home(home)
    db = opened.connect()
    try:
        rows = db.execute("SELECT i.sop_instance_uid, i.path FROM instances i JOIN series s"
                          " USING (series_instance_uid) WHERE s.study_instance_uid = ?", [study_uid]).fetchall()
    finally:
        db.close()
    return {sop: store.absolute(opened, path) for sop, path in rows}


def originals(web_pacs, patient: str, name: str) -> dict[str, pydicom.Dataset]:
    found = [pydicom.dcmread(p) for p in web_pacs.data.glob(f"{patient}_{name}_*.dcm")]
    return {str(ds.SOPInstanceUID): ds for ds in found}


# -- nodes, echo, query ---------------------------------------------------------------------


def test_a_web_node_is_listed_and_its_credentials_are_never_stored(web_home):
    nodes = {n["name"]: n for n in js(web_home, "node", "list")}
    assert nodes["pacs-web"]["url"].endswith("/dicom-web") and nodes["pacs-web"]["token_env"] == TOKEN_ENV
    assert "url" not in nodes["pacs-dimse"]
    text = sd(web_home, "node", "list").stdout
    assert "pacs-web" in text and "(DICOMweb)" in text
    for path in web_home.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_echo_is_a_search_that_matches_nothing(web_home):
    answer = js(web_home, "node", "echo", "pacs-web")
    assert answer["ok"] is True and answer["node"] == "pacs-web"
    assert "QIDO-RS answered" in sd(web_home, "node", "echo", "pacs-web").stdout


@pytest.mark.parametrize("qbe", [[], ["--patient-name", "doe"], ["--modality", "MR"],
                                 ["--date-from", "20230101", "--date-to", "20231231"],
                                 ["--accession", "WEB00*"], ["--patient-id", "WEB2"],
                                 ["--description", "ct*"], ["--description", "CT CHEST"],
                                 ["--patient-name", "DOE^JANE"], ["--accession", "WEB00?"]])
def test_query_gives_the_rows_of_c_find(web_home, qbe):
    web = js(web_home, "query", "pacs-web", *qbe)
    dimse = js(web_home, "query", "pacs-dimse", *qbe)
    assert web, qbe
    assert [dict(r, node=None) for r in web] == [dict(r, node=None) for r in dimse]


def test_query_series_gives_the_rows_of_c_find(web_home):
    web = js(web_home, "query", "pacs-web", "--series", study("chest"))
    assert web == js(web_home, "query", "pacs-dimse", "--series", study("chest"))
    assert sorted(s["instance_count"] for s in web) == [3, 5]


# -- retrieve ------------------------------------------------------------------------------------


def test_retrieve_brings_byte_identical_data_sets(web_home, web_pacs):
    got = js(web_home, "retrieve", "pacs-web", study("chest"))
    assert got["retrieved"] == 8 and got["failed"] == [] and got["method"] == "wado-rs"
    files = cached_files(web_home, study("chest"))
    sources = originals(web_pacs, "WEB1", "chest") or {}
    assert len(files) == 8 and set(files) == set(sources)
    for sop, path in files.items():
        ds = pydicom.dcmread(path)
        assert ds.PixelData == sources[sop].PixelData
        assert ds == sources[sop]  # every element as archived
    assert [p for p in (web_home / "tmp").rglob("*") if p.is_file()] == []
    text = sd(web_home, "retrieve", "pacs-web", study("chest")).stdout
    assert "0 instances retrieved from pacs-web by WADO-RS, 8 already here" in text


def test_retrieve_series_then_the_rest_of_the_study(web_home):
    series = js(web_home, "query", "pacs-web", "--series", study("chest"))
    three = next(s["series_uid"] for s in series if s["instance_count"] == 3)
    got = js(web_home, "retrieve", "pacs-web", study("chest"), "--series", three)
    assert got["retrieved"] == 3 and got["series"] == [three] and got["series_not_found"] == []
    rest = js(web_home, "retrieve", "pacs-web", study("chest"))
    assert rest["retrieved"] == 5 and rest["already_present"] == 3 and rest["failed"] == []
    assert len(cached_files(web_home, study("chest"))) == 8


def test_cancel_keeps_what_arrived_and_a_retry_fetches_the_rest(web_home):
    from app.accounts import accounts
    from app.home import os_login
    from app.startup import open_home

    home = open_home(web_home)
    db = home.connect()
    user = accounts.get_user(db, os_login())
    db.close()
    cancel, seen = CancelToken(), []

    def progress(fraction, message=""):
        seen.append(message)
        if fraction and fraction >= 0.25:
            cancel.cancel()

    with pytest.raises(Cancelled):
        net_retrieve.retrieve(home, user, "pacs-web", [study("long")], progress=progress, cancel=cancel)
    kept = cached_files(web_home, study("long"))
    assert 0 < len(kept) < 40
    for path in kept.values():
        assert pydicom.dcmread(path).PixelData  # complete
    assert any("by WADO-RS" in m for m in seen)
    again = net_retrieve.retrieve(home, user, "pacs-web", [study("long")])
    assert again.retrieved == 40 - len(kept) and again.already_present == len(kept) and not again.failed


def test_a_study_the_node_does_not_hold(web_home):
    run = sd(web_home, "retrieve", "pacs-web", "1.2.3.4.5", check=False)
    assert run.returncode == 4 and "pacs-web" in run.stderr


# -- send ------------------------------------------------------------------------------------------


def test_send_by_stow_rs(web_home, web_pacs, tmp_path):
    written = write_series(tmp_path / "src", 37, patient_id="WEB9", patient_name="SENT^SAM", study="sent",
                           accession="WEB009")
    sd(web_home, "import", tmp_path / "src")
    got = js(web_home, "send", study_uid := uid("WEB9", "sent"), "--to", "pacs-web")
    assert got["sent"] == 37 and got["failed"] == []
    ids = web_pacs.instances(study_uid)
    assert len(ids) == 37
    by_sop = {str(pydicom.dcmread(p).SOPInstanceUID): p.read_bytes() for p in written}
    for orthanc_id in ids[:5]:
        stored = web_pacs.rest(f"/instances/{orthanc_id}/file", raw=True)
        sop = web_pacs.rest(f"/instances/{orthanc_id}/simplified-tags")["SOPInstanceUID"]
        assert pydicom.dcmread(pydicom.filebase.DicomBytesIO(stored)).PixelData == \
            pydicom.dcmread(pydicom.filebase.DicomBytesIO(by_sop[sop])).PixelData
    assert js(web_home, "query", "pacs-web", "--accession", "WEB009")[0]["instance_count"] == 37


# -- refusals --------------------------------------------------------------------------------------


def test_no_credentials_is_a_clear_refusal(web_home, web_pacs, tmp_path):
    sd(web_home, "node", "add", "bare", "--url", web_pacs.url)
    write_series(tmp_path / "src", 2, patient_id="WEB8", study="bare")
    sd(web_home, "import", tmp_path / "src")
    for args in (["node", "echo", "bare"], ["query", "bare"], ["retrieve", "bare", study("knee")],
                 ["send", uid("WEB8", "bare"), "--to", "bare"]):
        run = sd(web_home, *args, check=False)
        assert run.returncode == 5, (args, run.stderr)
        assert "bare refused the credentials (HTTP 401)" in run.stderr, run.stderr


def test_credentials_given_as_a_basic_header_value(web_home, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
    assert js(web_home, "node", "echo", "pacs-web")["ok"] is True


def test_wrong_credentials_are_refused(web_home, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, f"{USER}:not the password")
    run = sd(web_home, "query", "pacs-web", check=False)
    assert run.returncode == 5 and "pacs-web refused the credentials (HTTP 401)" in run.stderr


def test_a_missing_variable_is_named(web_home, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV)
    run = sd(web_home, "node", "echo", "pacs-web", check=False)
    assert run.returncode == 2 and TOKEN_ENV in run.stderr and "not set" in run.stderr


def test_nothing_listening(web_home, free_port):
    sd(web_home, "node", "add", "gone", "--url", f"http://127.0.0.1:{free_port()}/dicom-web")
    run = sd(web_home, "node", "echo", "gone", check=False)
    assert run.returncode == 1 and "gone: cannot reach" in run.stderr


def test_bad_node_definitions_are_refused(web_home):
    for args, words in ((["--url", "ftp://x/y"], "http"), (["--url", "http://u:p@host/dw"], "credentials"),
                        (["--url", "http://host/dw", "--token-env", "not a name"], "environment variable"),
                        (["--url", "http://host/dw", "--aet", "X"], "no --aet"),
                        (["--aet", "X", "--host", "h", "--port", "104", "--token-env", "V"], "DICOMweb"),
                        (["--aet", "X"], "needs --aet, --host and --port")):
        run = sd(web_home, "node", "add", "odd", *args, check=False)
        assert run.returncode == 2 and words in run.stderr, (args, run.stderr)


def test_the_variable_holds_a_bearer_token_or_basic_credentials(monkeypatch):
    node = Node("n", "", "h", 80, url="http://h/dw", token_env="SD_TOKEN")
    monkeypatch.setenv("SD_TOKEN", "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl")
    assert authorization(node) == {"Authorization": "Bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl"}
    monkeypatch.setenv("SD_TOKEN", "bob:pa:ss")
    assert authorization(node) == {"Authorization": "Basic " + base64.b64encode(b"bob:pa:ss").decode()}
    monkeypatch.setenv("SD_TOKEN", base64.b64encode(b"bob:secret").decode())  # a Basic header's value
    assert authorization(node) == {"Authorization": "Basic " + base64.b64encode(b"bob:secret").decode()}
    monkeypatch.setenv("SD_TOKEN", "Bearer abc")
    assert authorization(node) == {"Authorization": "Bearer abc"}
    assert authorization(Node("m", "", "h", 80, url="http://h/dw")) == {}


def test_a_node_that_never_answers_times_out(web_home, monkeypatch):
    """A server that accepts the connection and says nothing: the read
    timeout ends the request with a message naming the node (shortened
    here from a minute to a second)."""
    import socket

    from app.net.web import client

    monkeypatch.setattr(client, "TIMEOUT", (1.0, 1.0))
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(4)  # connections complete in the backlog; nothing is ever read or written
        sd(web_home, "node", "add", "mute", "--url", f"http://127.0.0.1:{mute.getsockname()[1]}/dicom-web")
        run = sd(web_home, "query", "mute", check=False)
    assert run.returncode == 1 and "mute: no answer from" in run.stderr and "within 1 s" in run.stderr, run.stderr


def test_a_dicom_only_service_on_a_web_node_is_refused_by_name(web_home):
    run = sd(web_home, "worklist", "pacs-web", check=False)
    assert run.returncode == 2 and "pacs-web is a DICOMweb node" in run.stderr, run.stderr
    run = sd(web_home, "retrieve", "pacs-web", study("knee"), "--method", "move", check=False)
    assert run.returncode == 2 and "retrieved by WADO-RS" in run.stderr, run.stderr


@pytest.fixture
def https_server(tmp_path):
    """An HTTPS server with a certificate of our own for 127.0.0.1 that
    answers every search with no match (Orthanc 1.10.1's HTTPS server
    exits at the first request on this Debian: its TLS is not usable)."""
    import http.server
    import ssl
    import threading

    _need("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                           "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                           "-keyout", str(key), "-out", str(cert)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr

    class Empty(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the library's name
            self.send_response(200)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"[]")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Empty)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/dicom-web", cert
    finally:
        server.shutdown()
        server.server_close()


def test_https_checks_the_certificate_against_the_homes_trusted_ones(web_home, https_server):
    url, cert = https_server
    sd(web_home, "node", "add", "secure", "--url", url)
    run = sd(web_home, "node", "echo", "secure", check=False)
    assert run.returncode == 1 and "secure: cannot reach" in run.stderr, run.stderr
    assert "certificate verify failed" in run.stderr, run.stderr
    sd(web_home, "config", "set", "tls.ca", cert)
    assert js(web_home, "node", "echo", "secure")["ok"] is True
    assert [n["tls"] for n in js(web_home, "node", "list") if n["name"] == "secure"] == [True]
