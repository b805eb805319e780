"""What the DICOM conformance statement (docs/CONFORMANCE.md) names,
gathered from the tables the code uses, so that the statement cannot drift.

The statement is prose written by hand around blocks generated here: each
block sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``
and is exactly what :func:`blocks` renders from the constants the network
code negotiates with (the SOP classes, transfer syntaxes and limits of
:mod:`app.net.association`, :mod:`app.net.client`, :mod:`app.net.qr_scp`,
:mod:`app.net.storage_scp`, :mod:`app.net.retrieve.parallel`, ...), the
settings' defaults, the TLS contexts, pydicom's character sets, the
de-identification profile's table (resources/deid/options.json) and the
audit events. ``tests/test_conformance.py`` fails when a block differs from
what the code says now, or when the document names a UID the code does not
use; :func:`refresh` rewrites the blocks after a deliberate change.

Media (app/media) and the rejection notes (app/changes) sit in a layer above
this one; the test checks the statement's words about them directly.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from typing import Optional

from pydicom.charset import python_encoding
from pydicom.uid import UID, UID_dictionary, AllTransferSyntaxes
from pynetdicom.service_class import StorageServiceClass
from pynetdicom.sop_class import uid_to_service_class

from app.accounts import audit
from app.deid import table as deid_table
from app.dicom.meta import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from app.home import DEFAULT_SETTINGS
from app.measurements import codes as sr_codes
from app.net import association, client, qr_scp, storage_scp, tls, wire
from app.net.listener import Limits
from app.net.retrieve import parallel
from app.net.web import client as web_client

STORAGE = "storage"  # a row standing for every storage SOP class (the storage table)


@dataclass(frozen=True)
class Context:
    """One kind of presentation context in one activity."""

    activity: str
    abstract: str          # a SOP class UID, or STORAGE
    syntaxes: tuple[str, ...]
    role: str              # SCU or SCP
    extended: str = "None"


def name_of(uid: str) -> str:
    return UID(uid).name if uid in UID_dictionary else uid


def storage_classes() -> list[str]:
    """The standard storage SOP classes (not retired) the listener accepts and
    the send and retrieve propose: what :func:`app.net.storage_scp.is_storage`
    takes among the standard's SOP classes, less those it takes only as a
    possible private storage class."""
    out = []
    for uid, (_, kind, _, retired, _) in UID_dictionary.items():
        if kind != "SOP Class" or retired or not storage_scp.is_storage(uid):
            continue
        if uid.startswith(storage_scp.STORAGE_BRANCH) or uid_to_service_class(uid) is StorageServiceClass:
            out.append(uid)
    return sorted(out, key=lambda u: tuple(int(p) for p in u.split(".")))


ALL_SYNTAXES = tuple(str(ts) for ts in AllTransferSyntaxes if str(ts) in storage_scp.ACCEPTED_SYNTAXES)
UNCOMPRESSED = tuple(str(ts) for ts in client.UNCOMPRESSED)
COMPRESSED = tuple(str(ts) for ts in parallel.COMPRESSED)
Q_R_MODELS = (qr_scp.PATIENT_ROOT_FIND, qr_scp.PATIENT_ROOT_MOVE, qr_scp.PATIENT_ROOT_GET,
              qr_scp.STUDY_ROOT_FIND, qr_scp.STUDY_ROOT_MOVE, qr_scp.STUDY_ROOT_GET)


def scu_contexts() -> list[Context]:
    """What StudyDesk proposes, activity by activity (the ``Proposal`` calls
    of app/net: client, mwl, retrieve/, send)."""
    return [
        Context("Verify a node (echo)", client.VERIFICATION, UNCOMPRESSED, "SCU"),
        Context("Query a node (search, series, plan a retrieve)", client.STUDY_ROOT_FIND, UNCOMPRESSED, "SCU"),
        Context("Query a modality worklist", client.MWL_FIND, UNCOMPRESSED, "SCU"),
        Context("Retrieve by C-GET", client.STUDY_ROOT_GET, UNCOMPRESSED, "SCU"),
        Context("Retrieve by C-GET", STORAGE, UNCOMPRESSED + COMPRESSED, "SCP",
                "SCP/SCU role selection (SCU 0, SCP 1)"),
        Context("Retrieve by C-MOVE", client.STUDY_ROOT_MOVE, UNCOMPRESSED, "SCU"),
        Context("Send (C-STORE)", STORAGE, ("as stored",) + UNCOMPRESSED, "SCU"),
    ]


def scp_contexts() -> list[Context]:
    """What the listener accepts (app/net/qr_scp.choice and storage_choice)."""
    rows = [Context("Verification", client.VERIFICATION, UNCOMPRESSED, "SCP"),
            Context("Storage (received, or C-MOVE to us)", STORAGE, ("any",), "SCP")]
    rows += [Context("Query/Retrieve", uid, UNCOMPRESSED, "SCP") for uid in Q_R_MODELS]
    rows.append(Context("C-GET sub-operations (sent back)", STORAGE, ("as stored",) + UNCOMPRESSED, "SCU",
                        "SCP/SCU role selection answered (caller as SCP)"))
    return rows


def accepted_choice(abstract: str, proposed: list[str]) -> "str | int":
    """The listener's own answer (for the test to hold the tables to it)."""
    return qr_scp.choice(abstract, proposed)


@dataclass(frozen=True)
class Policy:
    max_pdu_received: int = wire.OUR_MAX_PDU
    largest_pdu_tolerated: int = wire.LARGEST_PDU
    fragment_unlimited: int = wire.UNLIMITED_SEND
    max_contexts: int = association.MAX_CONTEXTS
    request_limit: int = wire.ASSOCIATE_RQ_LIMIT
    max_connections: int = Limits.max_connections
    artim: float = Limits.artim_timeout
    check_called_aet: bool = Limits.check_called_aet
    timeout: float = client.TIMEOUT
    cancel_grace: float = client.CANCEL_GRACE
    get_streams: int = parallel.STREAMS
    aet: str = DEFAULT_SETTINGS["aet"]
    port: int = DEFAULT_SETTINGS["port"]
    application_context: str = association.APPLICATION_CONTEXT


def minimum_tls() -> str:
    """The oldest TLS version a client context (and so the listener's) allows."""

    class _NoSettings:  # the defaults: no tls table
        def settings(self) -> dict:
            return {}

    version = tls.client_context(_NoSettings()).minimum_version
    return {ssl.TLSVersion.TLSv1_2: "TLS 1.2", ssl.TLSVersion.TLSv1_3: "TLS 1.3"}.get(version, str(version))


def character_sets() -> list[str]:
    """Specific Character Set terms received data may use (pydicom decodes them)."""
    return sorted(term for term in python_encoding if term)


def _size(n: int) -> str:
    return f"{n} bytes ({n >> 20} MiB)" if n >= 1 << 20 and not n % (1 << 20) else f"{n} bytes ({n >> 10} KiB)"


_WORDS = {"as stored": "the syntax the file is stored in",
          "any": "the first proposed of the syntaxes in 4.2.1.4 (the data set is kept as it arrives)"}


def _ts(uid: str) -> str:
    if uid in _WORDS:
        return _WORDS[uid]
    return f"{name_of(uid)} `{uid}`"


def _abstract(uid: str) -> str:
    return "every storage SOP class (4.2.1.1)" if uid == STORAGE else f"{name_of(uid)} `{uid}`"


def _table(head: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _contexts(rows: list[Context]) -> str:
    return _table(("Activity", "Abstract syntax", "Transfer syntaxes", "Role", "Extended negotiation"),
                  [(c.activity, _abstract(c.abstract), "<br>".join(_ts(t) for t in c.syntaxes), c.role,
                    c.extended) for c in rows])


def blocks() -> dict[str, str]:
    """Every generated block of the statement, by name."""
    p = Policy()
    sop = _table(("SOP class", "UID", "SCU", "SCP"),
                 [(name_of(client.VERIFICATION), f"`{client.VERIFICATION}`", "Yes", "Yes")]
                 + [(name_of(u), f"`{u}`", "Yes" if u in {c.abstract for c in scu_contexts()} else "No", "Yes")
                    for u in Q_R_MODELS]
                 + [(name_of(client.MWL_FIND), f"`{client.MWL_FIND}`", "Yes", "No"),
                    ("Storage SOP classes (table in 4.2.1.1)", "", "Yes", "Yes")])
    deid_profile = deid_table.profile_info()
    return {
        "implementation": _table(("Item", "Value"), [
            ("Implementation Class UID", f"`{IMPLEMENTATION_CLASS_UID}`"),
            ("Implementation Version Name", f"`{IMPLEMENTATION_VERSION_NAME}`"),
            ("Application Context Name", f"`{p.application_context}`")]),
        "sop-classes": sop,
        "storage-classes": _table(("Storage SOP class", "UID"),
                                  [(name_of(u), f"`{u}`") for u in storage_classes()]),
        "policies": _table(("Parameter", "Value"), [
            ("Maximum PDU length received (announced)", _size(p.max_pdu_received)),
            ("Largest PDU tolerated from a peer that ignores it", _size(p.largest_pdu_tolerated)),
            ("PDV fragment sent when the peer announces 0 (no limit)", _size(p.fragment_unlimited)),
            ("Presentation contexts proposed per association, at most", p.max_contexts),
            ("Association request accepted, at most", _size(p.request_limit)),
            ("Connections served at once (`listener.max_connections`)", p.max_connections),
            ("ARTIM: seconds to send the whole request (`listener.artim_timeout`)", f"{p.artim:g}"),
            ("Called AE title checked (`listener.check_called_aet`)", "Yes" if p.check_called_aet else "No"),
            ("Connection and idle (DIMSE) timeout, seconds", f"{p.timeout:g}"),
            ("Seconds a peer has to end an operation after C-CANCEL", f"{p.cancel_grace:g}"),
            ("C-GET associations at once for one large retrieve", p.get_streams),
            ("Default AE title (`aet`)", f"`{p.aet}`"),
            ("Default listening port (`port`)", p.port)]),
        "scu-contexts": _contexts(scu_contexts()),
        "scp-contexts": _contexts(scp_contexts()),
        "storage-syntaxes": _table(("Transfer syntax", "UID"), [(name_of(t), f"`{t}`") for t in ALL_SYNTAXES]),
        "tls": _table(("Item", "Value"), [
            ("Profile", "Basic TLS Secure Transport Connection Profile (PS3.15 B.1)"),
            ("Oldest protocol version", minimum_tls()),
            ("Settings", ", ".join(f"`tls.{k}`" for k in tls.KEYS) + ", `tls.listen`")]),
        "character-sets": ", ".join(f"`{c}`" for c in character_sets()),
        "deid": _table(("Profile or option", "Code (CID 7050)", "Command-line name", "Effect"),
                       [(deid_profile["name"], deid_profile["code"], "(always)",
                         f"PS3.15 Table E.1-1, edition {deid_profile['edition']}")]
                       + [(o.meaning, o.code, f"`{o.name}`", o.explain) for o in deid_table.all_options()]),
        "audit": _table(("Event ID (DCM)", "Event"), sorted(audit.EVENT_NAMES.items())),
        "sr": _table(("Item", "Value"), [
            ("SOP class written", f"{name_of(sr_codes.COMPREHENSIVE_SR)} `{sr_codes.COMPREHENSIVE_SR}`"),
            ("SOP classes read back", ", ".join(f"`{u}`" for u in sr_codes.REPORT_CLASSES)),
            ("Templates", ", ".join(f"TID {t}" for t in sr_codes.TID.values())),
            ("Document title", f"({', '.join(sr_codes.MEASUREMENT_REPORT)})"),
            ("Measurements", ", ".join(f"{k} ({v[1]} {v[0]})" for k, v in sr_codes.KINDS.items()))]),
        "dicomweb": _table(("Service", "Role", "Used for"), [
            ("QIDO-RS", "User agent", "search studies, series and instances"),
            ("WADO-RS", "User agent", f"retrieve, Accept: `{web_client.ACCEPT_DICOM}`"),
            ("STOW-RS", "User agent", "send")]),
    }


_BLOCK = re.compile(r"(<!-- generated: ([a-z-]+) -->\n)(.*?)(<!-- end: \2 -->)", re.S)


def found_blocks(text: str) -> dict[str, str]:
    """The generated blocks *text* holds, by name (without their markers)."""
    return {m.group(2): m.group(3).rstrip("\n") for m in _BLOCK.finditer(text)}


def refresh(text: str, rendered: Optional[dict[str, str]] = None) -> str:
    """*text* with every generated block rendered again from the code."""
    rendered = rendered if rendered is not None else blocks()
    return _BLOCK.sub(lambda m: m.group(1) + (rendered[m.group(2)] + "\n" if m.group(2) in rendered
                                              else m.group(3)) + m.group(4), text)


def uids() -> set[str]:
    """Every UID the generated tables may name."""
    out = {IMPLEMENTATION_CLASS_UID, association.APPLICATION_CONTEXT, client.VERIFICATION, client.MWL_FIND,
           *Q_R_MODELS, *storage_classes(), *ALL_SYNTAXES, *sr_codes.REPORT_CLASSES}
    return out
