"""Send what waits in the outbox (app/net/outbox/queue.py) through the send path.

``store`` entries are single objects: IOCM corrections (the corrected
instances, from the cache) and their rejection notes (files under the
home's ``outbox/`` folder). ``ai-rescan`` entries ask an AI node to look at
a study again: the study is sent to it. One association per node; every
entry is marked sent or failed with the peer's reason. Held entries (no
node) stay where they are. A cancelled send leaves the entries of the batch
under way as they were (queued or failed): the next send offers them again
(archives answer a C-STORE of an object they hold with success or a warning).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from app import store
from app.net.outbox import queue as outbox
from app.accounts.accounts import User
from app.jobs import CancelToken, Progress, no_progress
from app.net.nodes import get_node
from app.net.send import Outgoing, outgoing_file, send_outgoing, send_studies
from app.errors import Cancelled, StudyDeskError
from app.net.wire import NetworkError


@dataclass
class OutboxResult:
    sent: int = 0
    failed: list[dict] = field(default_factory=list)
    held: int = 0                                       # still waiting for a node
    nodes: list[str] = field(default_factory=list)      # the nodes sent to

    def to_json(self) -> dict:
        return {"sent": self.sent, "failed": self.failed, "held": self.held, "nodes": self.nodes}

    def summary(self) -> str:
        """One line for the status bar, the jobs panel and the terminal."""
        tried = self.sent + len(self.failed)
        if not tried:
            text = "Nothing to send in the outbox"
        else:
            text = f"Outbox: {self.sent} of {tried} sent to {', '.join(self.nodes)}"
            if self.failed:
                text += f", {len(self.failed)} failed"
        if self.held:
            text += f"; {self.held} held (no node chosen yet)"
        return text


def send_outbox(home, user: User, node_name: Optional[str] = None,
                progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None) -> OutboxResult:
    """Send queued entries (and retry failed ones), for one node or all."""
    user.require("network", "send the outbox")
    progress = progress or no_progress
    cancel = cancel or CancelToken()
    db = home.connect()
    try:
        if node_name is not None:
            node_name = get_node(db, node_name).name  # an unknown node is NotFound, not "nothing"
        waiting = [e for e in outbox.entries(db, state=(outbox.QUEUED, outbox.FAILED), node=node_name)
                   if e["node"]]
        result = OutboxResult(held=outbox.counts(db)[outbox.HELD])
        result.nodes = sorted({e["node"] for e in waiting})
        done, total = 0, max(1, len(waiting))
        for node in result.nodes:
            cancel.check()
            mine = [e for e in waiting if e["node"] == node]
            stores = [e for e in mine if e["kind"] == outbox.STORE]
            progress(done / total, f"Sending the outbox to {node}")
            _send_stores(home, db, user, node, stores, result, cancel, _share(progress, done, len(stores), total))
            done += len(stores)
            for entry in (e for e in mine if e["kind"] == outbox.AI_RESCAN):
                cancel.check()
                progress(done / total, f"Asking {node} to analyse a study again")
                _send_rescan(home, db, user, entry, result, cancel)
                done += 1
        progress(1.0, result.summary())
        return result
    finally:
        db.close()


def _share(progress: Progress, base: int, size: int, total: int) -> Progress:
    """The send of *size* entries as its part of the whole outbox's progress."""
    def report(fraction, message: str = "") -> None:
        progress(None if fraction is None else (base + fraction * size) / total, message)
    return report


def _instance_file(home, db, entry: dict) -> Optional[Path]:
    if entry["path"]:
        return store.absolute(home, entry["path"])
    row = db.execute("SELECT path FROM instances WHERE sop_instance_uid = ?",
                     [entry["sop_instance_uid"]]).fetchone()
    return store.absolute(home, row[0]) if row else None


def _fail(db, entry: dict, reason: str, result: OutboxResult) -> None:
    outbox.mark_failed(db, entry["id"], reason)
    result.failed.append({"id": entry["id"], "node": entry["node"],
                          "sop_instance_uid": entry["sop_instance_uid"], "reason": reason})


def _send_stores(home, db, user: User, node: str, entries: list[dict], result: OutboxResult,
                 cancel: CancelToken, progress: Progress = no_progress) -> None:
    ready: dict[str, dict] = {}
    instances: list[Outgoing] = []
    for entry in entries:
        path = _instance_file(home, db, entry)
        if path is None or not path.is_file():
            _fail(db, entry, "its file is gone", result)
            continue
        try:
            instance = outgoing_file(path, entry["study_instance_uid"])
        except Exception as e:  # noqa: BLE001 - an unreadable file fails its entry only
            _fail(db, entry, f"unreadable: {e}", result)
            continue
        ready[instance.sop_instance_uid] = entry
        instances.append(instance)
    if not instances:
        return
    try:
        sent = send_outgoing(home, user, instances, node, progress=progress, cancel=cancel)
    except Cancelled:
        raise
    except (NetworkError, StudyDeskError) as e:
        for entry in ready.values():
            _fail(db, entry, str(e), result)
        return
    failed = {f["sop_instance_uid"]: f["reason"] for f in sent.failed}
    for sop, entry in ready.items():
        if sop in failed:
            _fail(db, entry, failed[sop], result)
        else:
            outbox.mark_sent(db, entry["id"])
            result.sent += 1


def _send_rescan(home, db, user: User, entry: dict, result: OutboxResult, cancel: CancelToken) -> None:
    try:
        sent = send_studies(home, user, [entry["study_instance_uid"]], entry["node"], cancel=cancel)
    except Cancelled:
        raise
    except StudyDeskError as e:
        _fail(db, entry, str(e), result)
        return
    if sent.failed:
        _fail(db, entry, f"{len(sent.failed)} instances not accepted: {sent.failed[0]['reason']}", result)
    else:
        outbox.mark_sent(db, entry["id"])
        result.sent += 1
