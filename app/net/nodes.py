"""Remote DICOM nodes (the ``nodes`` table) and the workstation's own AE.

A node is an AE title at a host and port, optionally over TLS, with what it
is for: ``query-retrieve`` (a PACS to search and fetch from), ``store`` (a
destination for sends), ``worklist`` (a modality worklist provider),
``legacy`` (an old archive to migrate from), ``ai`` (an analysis service).
The storage listener accepts associations only from configured nodes.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Iterable, Optional

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

    def to_json(self) -> dict:
        return {"name": self.name, "aet": self.aet, "host": self.host, "port": self.port,
                "tls": self.tls, "purposes": list(self.purposes)}

    def __str__(self) -> str:
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


def _row_node(row) -> Node:
    purposes = tuple(p for p in (row[5] or "").split() if p)
    return Node(row[0], row[1], row[2], int(row[3]), bool(row[4]), purposes)


_SELECT = "SELECT name, aet, host, port, tls, purposes FROM nodes"


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


def add_node(db, user, name: str, aet: str, host: str, port: int, tls: bool = False,
             purposes: Optional[Iterable[str]] = None, replace: bool = False) -> Node:
    """Add (or with *replace*, change) a node; needs the configure privilege."""
    user.require("configure", "configure DICOM nodes")
    name = name.strip()
    if not name or any(c.isspace() for c in name):
        raise BadInput(f"node {name!r}: a node name is one word, no spaces")
    chosen = tuple(dict.fromkeys(purposes or DEFAULT_PURPOSES))
    unknown = [p for p in chosen if p not in PURPOSES]
    if unknown:
        raise BadInput(f"node {name}: unknown purpose {', '.join(unknown)} (one of {', '.join(PURPOSES)})")
    if not host.strip():
        raise BadInput(f"node {name}: a host is needed")
    node = Node(name, check_aet(aet), host.strip(), _check_port(port), bool(tls), chosen)
    with transaction(db):
        exists = db.execute("SELECT 1 FROM nodes WHERE name = ?", [name]).fetchone()
        if exists and not replace:
            raise BadInput(f"node {name}: already configured (remove it first, or replace it)")
        db.execute("INSERT OR REPLACE INTO nodes (name, aet, host, port, tls, purposes)"
                   " VALUES (?, ?, ?, ?, ?, ?)",
                   [node.name, node.aet, node.host, node.port, int(node.tls), " ".join(node.purposes)])
        audit.record(db, user.name, "node-add", audit.APPLICATION_ACTIVITY, objects=[name],
                     detail=f"DICOM node {node}, for {', '.join(node.purposes)}")
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
        if node.aet == calling_aet.strip() and peer in _addresses(node.host):
            return node
    return None


def local_ae(home) -> tuple[str, int]:
    """Our own AE title and listening port (``config set aet|port``)."""
    settings = home.settings()
    return check_aet(str(settings.get("aet", "STUDYDESK")), "setting aet"), _check_port(settings.get("port", 11112))
