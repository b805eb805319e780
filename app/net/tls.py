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
from app.home import shown_path as shown


def _settings(home) -> dict:
    value = home.settings().get("tls", {})
    return value if isinstance(value, dict) else {}


def _file(tls: dict, key: str) -> Optional[str]:
    value = tls.get(key)
    if not value:
        return None
    path = Path(str(value)).expanduser()
    if not path.is_file():
        raise BadInput(f"setting tls.{key}: {shown(path)} is not a file")
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


def _no_password() -> bytes:
    """A key with a passphrase fails to load instead of OpenSSL asking for
    the passphrase on a terminal (a window has none: it would hang)."""
    return b""


def _load_chain(context: ssl.SSLContext, certificate: str, key: Optional[str]) -> None:
    try:
        context.load_cert_chain(certificate, key, password=_no_password)
    except (ssl.SSLError, OSError) as e:
        raise BadInput(f"TLS certificate {certificate}: cannot be used ({e})") from e


# -- the settings, checked (the settings dialog's TLS page) ---------------------------------

KEYS = ("certificate", "key", "ca")
LABELS = {"certificate": "TLS certificate", "key": "TLS key", "ca": "Trusted certificates"}


class SettingProblem(BadInput):
    """A TLS setting that cannot be saved: ``setting`` names it (one of
    :data:`KEYS`, or ``listen``), the message the file and what is wrong."""

    def __init__(self, setting: str, message: str):
        super().__init__(message)
        self.setting = setting


def current(home) -> dict:
    """The TLS settings as the dialog shows them: paths ('' when unset) and ``listen``."""
    tls = _settings(home)
    values = {k: str(tls.get(k) or "") for k in KEYS}
    values["listen"] = bool(tls.get("listen", False))
    return values


def _readable(kind: str, text: str) -> Path:
    path = Path(text).expanduser()
    label = LABELS[kind]
    if not path.exists():
        raise SettingProblem(kind, f"{label} {shown(path)}: no such file")
    if not path.is_file():
        raise SettingProblem(kind, f"{label} {shown(path)}: is a folder, not a file")
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        raise SettingProblem(kind, f"{label} {shown(path)}: cannot be read ({e.strerror or e})") from e
    return path


def _reason(e: ssl.SSLError) -> str:
    return str(e.reason or e).replace("_", " ").lower()


def _check_certificates(kind: str, path: Path) -> None:
    """*path* holds at least one PEM certificate that ssl can load."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(path))
    except ssl.SSLError as e:
        what = "not a PEM certificate" if kind == "certificate" else "not PEM certificates"
        raise SettingProblem(kind, f"{LABELS[kind]} {shown(path)}: {what} "
                       f"(a text file with -----BEGIN CERTIFICATE-----; ssl says: {_reason(e)})") from e


def _check_key_text(path: Path) -> None:
    text = path.read_bytes()
    if b"ENCRYPTED" in text:
        raise SettingProblem("key", f"TLS key {shown(path)}: protected by a passphrase; StudyDesk needs the key "
                       "without one (protect the file by its permissions instead)")
    if b"PRIVATE KEY-----" not in text:
        raise SettingProblem("key", f"TLS key {shown(path)}: not a PEM private key (a text file with "
                       "-----BEGIN ... PRIVATE KEY-----)")


def check_files(certificate: str = "", key: str = "", ca: str = "", listen: bool = False) -> dict:
    """Check the TLS settings before they are saved: each file exists and is
    what it should be (loaded with the ssl module), the key belongs to the
    certificate. Raises :class:`SettingProblem` naming the file and what is wrong;
    returns the values to save (absolute paths, '' for unset)."""
    certificate, key, ca = certificate.strip(), key.strip(), ca.strip()
    if key and not certificate:
        raise SettingProblem("certificate", f"TLS key {shown(Path(key).expanduser())}: choose the "
                                            "certificate it belongs to as well")
    if listen and not certificate:
        raise SettingProblem("certificate", "The listener over TLS needs this workstation's certificate and key")
    paths = {"certificate": "", "key": "", "ca": ""}
    if certificate:
        cert_path = _readable("certificate", certificate)
        _check_certificates("certificate", cert_path)
        key_path = _readable("key", key) if key else None
        if key_path is not None:
            _check_key_text(key_path)
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(
                str(cert_path), str(key_path) if key_path else None, password=_no_password)
        except ssl.SSLError as e:
            if key_path is None:
                raise SettingProblem("key", f"TLS certificate {shown(cert_path)}: holds no private key; "
                               "choose the key file too") from e
            if e.reason == "KEY_VALUES_MISMATCH":
                raise SettingProblem("key", f"TLS key {shown(key_path)}: does not match the certificate {shown(cert_path)}") from e
            raise SettingProblem("key", f"TLS key {shown(key_path)}: cannot be used with the certificate {shown(cert_path)} "
                           f"(ssl says: {_reason(e)})") from e
        paths["certificate"] = str(cert_path.absolute())
        paths["key"] = str(key_path.absolute()) if key_path else ""
    if ca:
        ca_path = _readable("ca", ca)
        _check_certificates("ca", ca_path)
        paths["ca"] = str(ca_path.absolute())
    return dict(paths, listen=bool(listen))


def check_setting(home, name: str, value: str) -> str:
    """Check one ``tls.NAME`` value given on the command line before it is
    saved: the file exists and holds what it should; a key or certificate is
    also checked against its partner when that is already set. Returns the
    value to save (an absolute path; unchanged for ``listen``)."""
    if name not in KEYS:
        return value
    path = _readable(name, value)
    if name == "key":
        _check_key_text(path)
    else:
        _check_certificates(name, path)
    tls = _settings(home)
    if name == "key" and tls.get("certificate"):
        check_files(str(tls["certificate"]), str(path))
    elif name == "certificate" and tls.get("key"):
        check_files(str(path), str(tls["key"]))
    return str(path.absolute())


def save(home, user, certificate: str = "", key: str = "", ca: str = "", listen: bool = False) -> dict:
    """Check (:func:`check_files`) and save the TLS settings; needs the
    configure privilege; audited as ``config set`` is. Returns what was saved."""
    from app.accounts import audit
    from app.db import transaction

    user.require("configure", "change the TLS settings")
    values = check_files(certificate, key, ca, listen)
    data = home.settings()
    table = dict(data.get("tls") or {}) if isinstance(data.get("tls"), dict) else {}
    for name in KEYS:
        if values[name]:
            table[name] = values[name]
        else:
            table.pop(name, None)
    table["listen"] = values["listen"]
    data["tls"] = table
    home.save_settings(data)
    db = home.connect()
    try:
        with transaction(db):
            audit.record(db, user.name, "config-set", audit.APPLICATION_ACTIVITY, objects=["tls"],
                         detail="tls = " + ", ".join(f"{k}: {values[k] or 'unset'}" for k in (*KEYS, "listen")))
    finally:
        db.close()
    return values
