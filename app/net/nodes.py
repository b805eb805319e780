"""Remote DICOM nodes (the ``nodes`` table) and the workstation's own AE.

A node is an AE title at a host and port, optionally over TLS, with what it
is for: ``query-retrieve`` (a PACS to search and fetch from), ``store`` (a
destination for sends), ``worklist`` (a modality worklist provider),
``legacy`` (an old archive to migrate from), ``ai`` (an analysis service).
The storage listener accepts associations only from configured nodes.

A node may instead be a DICOMweb base URL (``url``; app/net/web): QIDO-RS,
WADO-RS and STOW-RS under it, with the name of an environment variable
(``token_env``) holding its credentials. The credentials themselves are
never stored: only the variable's name is. Such a node has no AE title and
never calls the listener; its host and port are the URL's (for listings).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Iterable, Optional
from urllib.parse import urlsplit

from app.accounts import audit
from app.db import transaction
from app.errors import BadInput, NotFound

PURPOSES = ("query-retrieve", "store", "worklist", "legacy", "ai")
DEFAULT_PURPOSES = ("query-retrieve", "store")


@dataclass(frozen=True)
class Node:
    name: str
    aet: str
    host: str
    port: int
    tls: bool = False
    purposes: tuple[str, ...] = DEFAULT_PURPOSES
    url: str = ""        # a DICOMweb node's base URL ('' for a DIMSE node)
    token_env: str = ""  # the environment variable holding its credentials ('' for none)

    @property
    def web(self) -> bool:
        return bool(self.url)

    def to_json(self) -> dict:
        row = {"name": self.name, "aet": self.aet, "host": self.host, "port": self.port,
               "tls": self.tls, "purposes": list(self.purposes)}
        if self.web:
            row.update(url=self.url, token_env=self.token_env or None)
        return row

    def __str__(self) -> str:
        if self.web:
            return f"{self.name} ({self.url}{f', credentials from ${self.token_env}' if self.token_env else ''})"
        return f"{self.name} ({self.aet}@{self.host}:{self.port}{', TLS' if self.tls else ''})"


def check_aet(text: str, what: str = "AE title") -> str:
    """An AE title: 1-16 characters of the default repertoire, no backslash
    or control characters, not only spaces (PS3.5 6.2)."""
    value = text.strip()
    if not 0 < len(value) <= 16 or "\\" in value or not value.isascii() or not value.isprintable():
        raise BadInput(f"{what} {text!r}: 1-16 printable ASCII characters, no backslash")
    return value


def _check_port(port) -> int:
    try:
        value = int(port)
    except (TypeError, ValueError):
        value = 0
    if not 0 < value < 65536:
        raise BadInput(f"port {port!r}: not a TCP port (1-65535)")
    return value


def check_url(text: str, name: str) -> tuple[str, str, int]:
    """A DICOMweb base URL (http or https, a host, no credentials in it, no
    query): the URL without a trailing slash, its host and its port."""
    url = text.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as e:
        raise BadInput(f"node {name}: --url {text!r}: {e}") from e
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"node {name}: --url {text!r}: an http:// or https:// address with a host")
    if parts.username or parts.password:
        raise BadInput(f"node {name}: --url: no credentials in the address (it is stored); "
                       "put them in an environment variable and name it with --token-env")
    if parts.query or parts.fragment:
        raise BadInput(f"node {name}: --url {text!r}: the service's base address, without ? or #")
    return url, parts.hostname, port


def _check_env_name(text: str, name: str) -> str:
    value = (text or "").strip()
    if value and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise BadInput(f"node {name}: --token-env {text!r}: the name of an environment variable "
                       "(letters, digits, _), not its value")
    return value


def _row_node(row) -> Node:
    purposes = tuple(p for p in (row[5] or "").split() if p)
    return Node(row[0], row[1], row[2], int(row[3]), bool(row[4]), purposes, row[6] or "", row[7] or "")


_SELECT = "SELECT name, aet, host, port, tls, purposes, url, token_env FROM nodes"


def list_nodes(db) -> list[Node]:
    return [_row_node(r) for r in db.execute(_SELECT + " ORDER BY name")]



def nodes_of(home) -> list["Node"]:
    """:func:`list_nodes` on a connection of its own (for a job's thread)."""
    db = home.connect()
    try:
        return list_nodes(db)
    finally:
        db.close()

def get_node(db, name: str) -> Node:
    row = db.execute(_SELECT + " WHERE name = ?", [name]).fetchone()
    if row is None:
        known = ", ".join(n.name for n in list_nodes(db)) or "none yet; add one with `node add`"
        raise NotFound(f"node {name}: not configured (known: {known})")
    return _row_node(row)


def add_node(db, user, name: str, aet: Optional[str], host: Optional[str], port: Optional[int],
             tls: bool = False, purposes: Optional[Iterable[str]] = None, replace: bool = False,
             url: str = "", token_env: str = "") -> Node:
    """Add (or with *replace*, change) a node; needs the configure privilege.
    A DICOM node has *aet*, *host* and *port*; a DICOMweb node *url* (and
    *token_env*) instead."""
    user.require("configure", "configure DICOM nodes")
    name = name.strip()
    if not name or any(c.isspace() for c in name):
        raise BadInput(f"node {name!r}: a node name is one word, no spaces")
    chosen = tuple(dict.fromkeys(purposes or DEFAULT_PURPOSES))
    unknown = [p for p in chosen if p not in PURPOSES]
    if unknown:
        raise BadInput(f"node {name}: unknown purpose {', '.join(unknown)} (one of {', '.join(PURPOSES)})")
    if url:
        if aet or host or port or tls:
            raise BadInput(f"node {name}: a DICOMweb node (--url) has no --aet, --host, --port or --tls "
                           "(https:// in the URL is TLS)")
        base, web_host, web_port = check_url(url, name)
        node = Node(name, "", web_host, web_port, base.startswith("https:"), chosen, base,
                    _check_env_name(token_env, name))
    else:
        if token_env:
            raise BadInput(f"node {name}: --token-env is for a DICOMweb node (--url)")
        if aet is None or host is None or port is None:  # options left out (an empty field is checked below)
            raise BadInput(f"node {name}: a DICOM node needs --aet, --host and --port "
                           "(or a DICOMweb node --url)")
        if not host.strip():
            raise BadInput(f"node {name}: a host is needed")
        node = Node(name, check_aet(aet), host.strip(), _check_port(port), bool(tls), chosen)
    with transaction(db):
        exists = db.execute("SELECT 1 FROM nodes WHERE name = ?", [name]).fetchone()
        if exists and not replace:
            raise BadInput(f"node {name}: already configured (remove it first, or replace it)")
        db.execute("INSERT OR REPLACE INTO nodes (name, aet, host, port, tls, purposes, url, token_env)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   [node.name, node.aet, node.host, node.port, int(node.tls), " ".join(node.purposes),
                    node.url, node.token_env])
        audit.record(db, user.name, "node-add", audit.APPLICATION_ACTIVITY, objects=[name],
                     detail=f"{'DICOMweb' if node.web else 'DICOM'} node {node}, for {', '.join(node.purposes)}")
    return node


def remove_node(db, user, name: str) -> None:
    user.require("configure", "configure DICOM nodes")
    get_node(db, name)
    with transaction(db):
        db.execute("DELETE FROM nodes WHERE name = ?", [name])
        audit.record(db, user.name, "node-remove", audit.APPLICATION_ACTIVITY, objects=[name],
                     detail=f"DICOM node {name} removed")


# -- who is calling? ---------------------------------------------------------------------------


def _addresses(host: str) -> set[str]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return set()
    return {_plain(info[4][0]) for info in infos}


def _plain(address: str) -> str:
    """'::ffff:10.0.0.1' -> '10.0.0.1'; strips an IPv6 zone."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)


def caller_node(db, calling_aet: str, peer_host: str) -> Optional[Node]:
    """The configured node with this AE title whose host is the peer's
    address, or None (the listener then rejects the association)."""
    peer = _plain(peer_host)
    for node in list_nodes(db):
        if not node.web and node.aet == calling_aet.strip() and peer in _addresses(node.host):
            return node
    return None


def local_ae(home) -> tuple[str, int]:
    """Our own AE title and listening port (``config set aet|port``)."""
    settings = home.settings()
    return check_aet(str(settings.get("aet", "STUDYDESK")), "setting aet"), _check_port(settings.get("port", 11112))
