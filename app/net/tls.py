"""TLS for DICOM associations (PS3.15 B.1, the Basic TLS Secure Transport
Connection Profile; IANA port 2762 is customary but any port works).

Settings (``config set tls.KEY VALUE``):

- ``tls.certificate``, ``tls.key``: our certificate and private key (PEM).
  The listener needs them to offer TLS; as a client they are presented
  when set (mutual authentication).
- ``tls.ca``: certificates we trust (PEM). As a client, the node's
  certificate must chain to one of them (else the system's trust store is
  used); as the listener, callers must then present a certificate that does.
- ``tls.listen``: ``true`` to run the listener over TLS.

Host names are not checked against the certificate: DICOM nodes are
configured by address and authenticated by certificate.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Optional

from app.errors import BadInput


def _settings(home) -> dict:
    value = home.settings().get("tls", {})
    return value if isinstance(value, dict) else {}


def _file(tls: dict, key: str) -> Optional[str]:
    value = tls.get(key)
    if not value:
        return None
    path = Path(str(value)).expanduser()
    if not path.is_file():
        raise BadInput(f"setting tls.{key}: {path} is not a file")
    return str(path)


def client_context(home) -> ssl.SSLContext:
    tls = _settings(home)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    ca = _file(tls, "ca")
    if ca:
        context.load_verify_locations(cafile=ca)
    else:
        context.load_default_certs()
    context.verify_mode = ssl.CERT_REQUIRED
    certificate, key = _file(tls, "certificate"), _file(tls, "key")
    if certificate:
        _load_chain(context, certificate, key)
    return context


def server_context(home) -> ssl.SSLContext:
    tls = _settings(home)
    certificate, key = _file(tls, "certificate"), _file(tls, "key")
    if not certificate:
        raise BadInput("TLS listener: set tls.certificate and tls.key first "
                       "(`studydesk config set tls.certificate FILE`)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(context, certificate, key)
    ca = _file(tls, "ca")
    if ca:
        context.load_verify_locations(cafile=ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def listen_with_tls(home) -> bool:
    return bool(_settings(home).get("listen", False))


def _load_chain(context: ssl.SSLContext, certificate: str, key: Optional[str]) -> None:
    try:
        context.load_cert_chain(certificate, key)
    except (ssl.SSLError, OSError) as e:
        raise BadInput(f"TLS certificate {certificate}: cannot be used ({e})") from e
