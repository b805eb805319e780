"""One HTTP session per DICOMweb node, over ``dicomweb-client``.

The session is kept for the process (keyed by the node and its
credentials), so a query, a retrieve and a send reuse the node's
connections (HTTP keep-alive), and its pool holds a connection for each
of the parallel streams of a retrieve (:data:`STREAMS`).

Credentials come from the environment variable the node names
(``--token-env``), read at each use and never stored. Its value is sent as
``Authorization``:

* ``Bearer ...`` or ``Basic ...``: as it is;
* ``user:password``: HTTP basic authentication. Orthanc's own
  ``RegisteredUsers`` (and many departmental archives) know only basic
  authentication, and a bearer token never holds a colon (RFC 6750's
  b64token alphabet), so the two cannot be confused;
* the base64 of ``user:password`` (what a ``Basic`` header carries):
  basic authentication too (a token that decodes to printable text with a
  colon is not one an issuer makes);
* anything else: a bearer token (``Bearer <value>``).

An https node's certificate is checked against the certificates the home
trusts (setting ``tls.ca``, as for a DICOM node over TLS) or else the
system's, and against its host name.

Failures become the project's errors with the node's name: HTTP 401/403
``Rejected`` ("pacs-web refused the credentials (HTTP 401)", exit code 5),
no answer in time or no connection a ``NetworkError``.
"""

from __future__ import annotations

import base64
import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import requests
from dicomweb_client.api import DICOMwebClient
from requests.adapters import HTTPAdapter

from app.errors import BadInput, NotFound
from app.net.association import Rejected
from app.net.nodes import Node
from app.net.wire import NetworkError

STREAMS = 4                 # parallel requests of one retrieve or send
TIMEOUT = (10.0, 60.0)      # seconds to connect, seconds without a byte of the answer
ACCEPT_DICOM = 'multipart/related; type="application/dicom"; transfer-syntax=*'  # as stored
CHUNK = 1 << 20             # bytes read from the socket at a time

_sessions: dict[tuple, "Web"] = {}
_lock = threading.Lock()


def authorization(node: Node) -> dict[str, str]:
    """The Authorization header for *node* (see the module docstring); none
    when the node names no variable. A variable that is not set is an error
    naming it."""
    if not node.token_env:
        return {}
    value = os.environ.get(node.token_env, "").strip()
    if not value:
        raise BadInput(f"node {node.name}: the environment variable {node.token_env} (--token-env) is not "
                       "set; it holds the node's credentials (a bearer token, or user:password)")
    if value.split(" ", 1)[0].lower() in ("bearer", "basic"):
        return {"Authorization": value}
    if ":" in value:
        return {"Authorization": "Basic " + base64.b64encode(value.encode("utf-8")).decode("ascii")}
    if _encoded_credentials(value):
        return {"Authorization": f"Basic {value}"}
    return {"Authorization": f"Bearer {value}"}


def _encoded_credentials(value: str) -> bool:
    """Whether *value* is the base64 of printable ``user:password``."""
    try:
        text = base64.b64decode(value, validate=True).decode("ascii")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return False
    return ":" in text and text.isprintable()


class Web:
    """A node's DICOMweb client and the session under it."""

    def __init__(self, node: Node, headers: dict[str, str], verify: Optional[str] = None):
        self.node = node
        session = requests.Session()
        adapter = _Adapter(verify, pool_connections=1, pool_maxsize=STREAMS + 2)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self.client = DICOMwebClient(node.url, session=session, headers=headers or None,
                                     timeout=TIMEOUT, chunk_size=CHUNK)
        # a refusal or an overloaded server is reported, not retried for a minute
        self.client.set_http_retry_params(retry=False)

    def url(self, *path: str) -> str:
        return "/".join([self.node.url, *path])

    def search(self, path: tuple[str, ...], query: str, what: str) -> list[dict]:
        """A QIDO-RS search (*query*: ``?...``, encoded by the caller): the
        DICOM JSON objects of the answer."""
        with failures(self.node, what):
            return self.client._http_get_application_json(  # noqa: SLF001 - its GET and JSON decoding
                self.url(*path) + query, params=None, get_remaining=False)

    def ping(self) -> None:
        """The least QIDO-RS request: a search for studies that matches none."""
        self.search(("studies",), "?StudyInstanceUID=0.0&limit=1", "QIDO-RS echo")

    def parts(self, path: tuple[str, ...], what: str) -> Iterator[bytearray]:
        """A WADO-RS retrieve: each part of the multipart answer, whole (an
        instance's Part 10 file as the node stores it). Closing the iterator
        closes the answer's connection (a cancel)."""
        with failures(self.node, what):
            # dicomweb-client's own GET (session, timeout, status check) and
            # multipart decoder; its public retrieve_* decode every instance
            # with pydicom, and the intake wants the bytes as they came
            client = self.client
            response = client._http_get(self.url(*path), headers={"Accept": ACCEPT_DICOM}, stream=True)  # noqa: SLF001
            yield from client._decode_multipart_message(response, stream=True)  # noqa: SLF001

    def store(self, files: list[bytes], what: str) -> requests.Response:
        """A STOW-RS request with *files* (Part 10, as stored) as the parts;
        the answer, whatever its status (the caller reads what failed)."""
        content_type = 'multipart/related; type="application/dicom"; boundary="studydesk-stow-boundary"'
        body = self.client._encode_multipart_message(files, content_type)  # noqa: SLF001
        with failures(self.node, what, statuses_ok=(409,)):
            response = self.client._session.post(  # noqa: SLF001 - the client's session and headers
                self.url("studies"), data=body, timeout=TIMEOUT,
                headers={"Content-Type": content_type, "Accept": "application/dicom+json"})
            if response.status_code not in (200, 202, 409):
                response.raise_for_status()
                raise NetworkError(f"node {self.node.name}: {what}: unexpected HTTP {response.status_code}")
            return response


class _Adapter(HTTPAdapter):
    """The node's connection pool; with the home's certificates (tls.ca),
    these decide, whatever REQUESTS_CA_BUNDLE says (requests lets that
    variable override a session's own setting)."""

    def __init__(self, verify: Optional[str], **kwargs):
        self.ca = verify
        super().__init__(**kwargs)

    def send(self, request, **kwargs):
        if self.ca:
            kwargs["verify"] = self.ca
        return super().send(request, **kwargs)


def trusted(home) -> Optional[str]:
    """The certificates the home trusts (setting ``tls.ca``), or None."""
    tls = home.settings().get("tls", {}) if home is not None else {}
    ca = tls.get("ca") if isinstance(tls, dict) else None
    if not ca:
        return None
    path = Path(str(ca)).expanduser()
    if not path.is_file():
        raise BadInput(f"setting tls.ca: {path} is not a file")
    return str(path)


def session(node: Node, home=None) -> Web:
    """The process's session for *node* (made at first use); *home* gives
    the certificates an https node is checked against."""
    headers = authorization(node)
    verify = trusted(home) if node.url.startswith("https:") else None
    key = (node.name, node.url, tuple(sorted(headers.items())), verify)
    with _lock:
        web = _sessions.get(key)
        if web is None:
            for old in [k for k in _sessions if k[0] == node.name]:  # the node changed, or its token
                _sessions.pop(old).client._session.close()  # noqa: SLF001
            web = _sessions[key] = Web(node, headers, verify)
        return web


@contextmanager
def failures(node: Node, what: str, statuses_ok: tuple[int, ...] = ()):
    """The HTTP library's exceptions as the project's errors, naming the node."""
    try:
        yield
    except requests.HTTPError as e:
        code = e.response.status_code if e.response is not None else 0
        if code in statuses_ok:
            raise
        raise http_error(node, code, what, e.response) from None
    except requests.Timeout:
        raise NetworkError(f"node {node.name}: no answer from {node.url} within {TIMEOUT[1]:.0f} s "
                           f"({what})") from None
    except requests.ConnectionError as e:
        raise NetworkError(f"node {node.name}: cannot reach {node.url} ({what}): "
                           f"{_reason(e)}") from None
    except requests.RequestException as e:
        raise NetworkError(f"node {node.name}: {what} failed: {type(e).__name__}: {e}") from None


def http_error(node: Node, code: int, what: str, response: Optional[requests.Response] = None) -> Exception:
    if code in (401, 403):
        hint = "" if node.token_env else "; it needs credentials: add it again with --token-env VAR"
        return Rejected(f"{node.name} refused the credentials (HTTP {code}){hint}")
    reason = response.reason if response is not None else ""
    if code == 404:
        return NotFound(f"node {node.name}: {what}: not found (HTTP 404{' ' + reason if reason else ''})")
    return NetworkError(f"node {node.name}: {what} failed (HTTP {code}{' ' + reason if reason else ''})")


_REASONS = (re.compile(r"certificate verify failed: [^(']+"),  # an https node we do not trust
            re.compile(r"\[Errno -?\d+\] ([^'\")]+)"),             # 'Connection refused', a name unknown
            re.compile(r"\] ([^\]]+?) \(_ssl"))                     # other TLS failures


def _reason(error: Exception) -> str:
    """What went wrong, out of requests' nested message."""
    text = str(error)
    for pattern in _REASONS:
        found = pattern.search(text)
        if found:
            return (found.group(1) if found.groups() else found.group(0)).strip()
    return text[:200] or type(error).__name__
