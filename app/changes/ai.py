"""AI results: which objects an analysis service made, and asking it to look again.

An object is an AI result when it is an SR or a SEG and either

- it came from an AI node: its file meta SourceApplicationEntityTitle is the
  AE title of a node whose purposes include ``ai`` or that the ``ai.nodes``
  setting names (node names or AE titles, comma-separated); receivers keep
  the calling AE title there, as DCMTK's storescp does; or
- an AI algorithm made it: Manufacturer, ManufacturerModelName,
  SoftwareVersions, SegmentAlgorithmName or AlgorithmName (nested ones too)
  equals, ignoring case, a name in the ``ai.algorithms`` setting
  (comma-separated)::

      studydesk config set ai.nodes "AIBOX"
      studydesk config set ai.algorithms "LungNodule AI, AcmeSeg"

When a series moves, the AI results that refer to it are stale: the
reallocation clears them and requests a rescan of the destination study
(the study's ``ai_rescan_pending`` flag, and an ``ai-rescan`` outbox entry for
each AI node). :func:`request_rescan` does the same by hand.

The request is sent when the change ends, not left for someone to open the
Outbox: :func:`send_rescans` (the window runs it as a background job after
the reallocation, the command line after the ``reallocate`` command). A
request that cannot be sent is marked failed with the reason and stays in
the outbox for a retry (``outbox send``); :func:`failure_message` says so in
one line naming the study and the node.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Optional

import pydicom

from app import store
from app.accounts import audit
from app.net.outbox import queue as outbox
from app.accounts.accounts import User, require_user
from app.db import transaction
from app.home import Home
from app.worklist.query import resolve_study_uid

AI_MODALITIES = {"SR", "SEG"}
NAME_KEYWORDS = ("Manufacturer", "ManufacturerModelName", "SoftwareVersions",
                 "SegmentAlgorithmName", "AlgorithmName")


@dataclass
class AiConfig:
    nodes: list[str] = field(default_factory=list)      # node names a rescan goes to
    aets: set[str] = field(default_factory=set)         # AE titles results come from
    algorithms: dict[str, str] = field(default_factory=dict)  # upper-cased -> as configured

    @property
    def configured(self) -> bool:
        return bool(self.aets or self.algorithms)


def _names(value, separators: str = ",") -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        text = str(value)
        for sep in separators[1:]:
            text = text.replace(sep, separators[0])
        items = text.split(separators[0])
    return [i.strip() for i in items if i.strip()]


def config(home: Home, db) -> AiConfig:
    settings = home.settings().get("ai", {})
    settings = settings if isinstance(settings, dict) else {}
    named = _names(settings.get("nodes"), ", ")
    cfg = AiConfig(algorithms={a.upper(): a for a in _names(settings.get("algorithms"))})
    for name, aet, purposes in db.execute("SELECT name, aet, purposes FROM nodes ORDER BY name"):
        if "ai" in (purposes or "").split() or name in named or aet in named:
            cfg.nodes.append(name)
            cfg.aets.add(aet.strip())
    cfg.aets |= {n for n in named if n not in cfg.nodes}  # AE titles of nodes not configured
    return cfg


def _values(ds, keyword: str) -> list[str]:
    value = ds.get(keyword)
    if value is None:
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [str(v) for v in value]
    return [str(value)]


def _names_in(ds) -> set[str]:
    found: set[str] = set()
    for keyword in NAME_KEYWORDS:
        found.update(v.strip().upper() for v in _values(ds, keyword) if v.strip())
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value:
                found |= _names_in(item)
    return found


def why_ai(ds, cfg: AiConfig) -> Optional[str]:
    """Why the dataset is an AI result, or None."""
    if str(ds.get("Modality", "")).upper() not in AI_MODALITIES or not cfg.configured:
        return None
    meta = getattr(ds, "file_meta", None)
    source = str(meta.get("SourceApplicationEntityTitle", "")).strip() if meta else ""
    if source and source in cfg.aets:
        return f"from AI node {source}"
    hits = sorted(_names_in(ds) & set(cfg.algorithms))
    if hits:
        return f"made by AI algorithm {cfg.algorithms[hits[0]]}"
    return None


def series_reason(home: Home, db, series_uid: str, cfg: AiConfig) -> Optional[str]:
    """Why a series is an AI result (judged by its first instance), or None."""
    if not cfg.configured:
        return None
    row = db.execute("SELECT path FROM instances WHERE series_instance_uid = ?"
                     " ORDER BY instance_number LIMIT 1", [series_uid]).fetchone()
    if row is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(store.absolute(home, row[0]), stop_before_pixels=True, force=True)
    return why_ai(ds, cfg)


def rescan_entries(cfg: AiConfig, study_uid: str, reason: str) -> list[dict]:
    """Outbox rows asking each AI node to analyse the study again."""
    return [outbox.entry(outbox.AI_RESCAN, node, study_uid, reason=reason) for node in cfg.nodes]


def describe_rescan(cfg: AiConfig) -> str:
    if cfg.nodes:
        return "queued for " + ", ".join(cfg.nodes)
    return "flagged on the study (no AI node configured to send the request to)"


def request_rescan(home: Home, db, user: User, study: str, reason: str = "") -> dict:
    """'Request AI rescan' on a study, by hand (when a reallocation was
    interrupted, or results look stale). Audited."""
    require_user(user, "request an AI rescan").require("content-management", "request an AI rescan")
    uid = resolve_study_uid(db, study)
    cfg = config(home, db)
    rows = rescan_entries(cfg, uid, reason or "requested by hand")
    with transaction(db):
        db.execute("UPDATE studies SET ai_rescan_pending = 1 WHERE study_instance_uid = ?", [uid])
        outbox.add(db, rows)
        audit.record(db, user.name, "ai-rescan", audit.INSTANCES_ACCESSED, objects=[uid],
                     detail=f"AI rescan requested: {describe_rescan(cfg)}")
    return {"study_instance_uid": uid, "nodes": cfg.nodes, "queued": len(rows),
            "message": f"AI rescan requested for study {uid}: {describe_rescan(cfg)}"}


def send_rescans(home: Home, user: User, study: str, cancel=None) -> list[dict]:
    """Send the study's waiting AI rescan requests (queued or failed, with a
    node) now, each marked sent or failed. One dict per request:
    ``{"id", "node", "study_instance_uid", "accession", "sent": bool, "error": str}``."""
    from app.errors import Cancelled, StudyDeskError
    from app.net.send import send_studies

    require_user(user, "send AI rescan requests")
    db = home.connect()
    try:
        waiting = [e for e in outbox.entries(db, state=(outbox.QUEUED, outbox.FAILED), study=study)
                   if e["kind"] == outbox.AI_RESCAN and e["node"]]
        row = db.execute("SELECT accession_number FROM studies WHERE study_instance_uid = ?",
                         [study]).fetchone()
        accession = row[0] if row else ""
        results = []
        for entry in waiting:
            error = ""
            try:
                sent = send_studies(home, user, [study], entry["node"], cancel=cancel)
                if sent.failed:
                    error = (f"{len(sent.failed)} instance{'s' if len(sent.failed) != 1 else ''} not "
                             f"accepted: {sent.failed[0]['reason']}")
            except Cancelled:
                raise
            except StudyDeskError as e:   # network errors, refusals, an unknown node
                error = str(e) or type(e).__name__
            except Exception as e:  # noqa: BLE001 - the change is done; this request fails alone
                error = f"{type(e).__name__}: {e}"
            if error:
                outbox.mark_failed(db, entry["id"], error)
            else:
                outbox.mark_sent(db, entry["id"])
            results.append({"id": entry["id"], "node": entry["node"], "study_instance_uid": study,
                            "accession_number": accession, "sent": not error, "error": error})
        return results
    finally:
        db.close()


def failure_message(result: dict) -> str:
    """One line for a rescan request that could not be sent."""
    study = f"study {result['accession_number']} ({result['study_instance_uid']})" if result.get('accession_number') \
        else f"study {result['study_instance_uid']}"
    return (f"AI rescan of {study} could not be sent to {result['node']}: {result['error']}. "
            "The request stays in the Outbox: send the outbox to retry.")
