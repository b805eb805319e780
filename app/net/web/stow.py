"""STOW-RS: send instances to a DICOMweb node, batches of files per request.

The instances app/net/send.py gathers (studies of the cache, or files such
as IOCM corrections) are posted as they are stored, Part 10 files as parts
of a multipart request: nothing is decoded or converted. A request carries
up to :data:`BATCH` instances or :data:`BATCH_BYTES` bytes; up to
:data:`~app.net.web.client.STREAMS` requests run at once over the node's
session. The node's answer (PS3.18 10.5.3: the Referenced SOP Sequence
stored, the Failed SOP Sequence with each reason) gives every instance its
outcome; a batch that could not be delivered (connection lost, HTTP 5xx)
is tried once more, as a C-STORE send retries its failures. Credentials
the node refuses end the send ("pacs-web refused the credentials (HTTP
401)"). The job ends with the same Instances Transferred audit entry.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import requests
from pydicom.dataset import Dataset

from app.accounts import audit
from app.db import transaction
from app.errors import Cancelled
from app.jobs import CancelToken, Progress, Throttled, no_progress
from app.net.association import Rejected
from app.net.nodes import Node
from app.net.web.client import STREAMS, http_error, session
from app.net.wire import NetworkError

BATCH = 32                # instances per STOW-RS request at most
BATCH_BYTES = 64 << 20    # bytes per request at most (the whole request is held in memory)


def batches(instances: list, sizes: dict) -> list[list]:
    """*instances* cut into requests of at most BATCH files and BATCH_BYTES
    (a larger file goes alone)."""
    out: list[list] = []
    current: list = []
    weight = 0
    for inst in instances:
        size = sizes.get(inst.sop_instance_uid, 0)
        if current and (len(current) >= BATCH or weight + size > BATCH_BYTES):
            out.append(current)
            current, weight = [], 0
        current.append(inst)
        weight += size
    if current:
        out.append(current)
    return out


def run(home, db, user, node: Node, instances: list, result, progress: Optional[Progress],
        cancel: Optional[CancelToken], retries: int = 1):
    """Send *instances* (app/net/send.Outgoing) and fill *result*
    (app/net/send.SendResult); see the module docstring."""
    progress = Throttled(progress or no_progress)
    cancel = cancel or CancelToken()
    web = session(node, home)
    failed: dict[str, tuple[str, bool]] = {}  # SOP Instance UID -> (reason, worth a retry)
    lock = threading.Lock()
    total = max(1, len(instances))
    fatal: list[BaseException] = []

    def post(batch: list) -> None:
        if cancel.cancelled or fatal:
            return
        try:
            files = [inst.path.read_bytes() for inst in batch]
        except OSError as e:
            with lock:
                for inst in batch:
                    failed[inst.sop_instance_uid] = (f"cannot read {inst.path}: {e.strerror or e}", False)
            return
        try:
            answer = web.store(files, f"STOW-RS of {len(files)} instances")
            outcome = _outcomes(node, answer, batch)
        except Rejected as e:
            fatal.append(e)
            return
        except NetworkError as e:
            outcome = {inst.sop_instance_uid: (str(e), True) for inst in batch}
        with lock:
            for inst in batch:
                why = outcome.get(inst.sop_instance_uid)
                if why is None:
                    result.sent += 1
                else:
                    failed[inst.sop_instance_uid] = why
            done = result.sent + len(failed)
            progress(min(1.0, done / total), f"Sending {done} of {len(instances)} to {node.name} by STOW-RS")

    def send(batch_list: list[list]) -> None:
        with ThreadPoolExecutor(max(1, min(STREAMS, len(batch_list))), thread_name_prefix="stow") as pool:
            for future in [pool.submit(post, b) for b in batch_list]:
                future.result()

    try:
        sizes = {i.sop_instance_uid: _size(i.path) for i in instances}
        send(batches(instances, sizes))
        for _ in range(max(0, retries)):
            again = [i for i in instances if failed.get(i.sop_instance_uid, ("", False))[1]]
            if not again or fatal or cancel.cancelled:
                break
            progress(None, f"Retrying {len(again)} failed instances")
            for inst in again:
                del failed[inst.sop_instance_uid]
            send(batches(again, sizes))
        if fatal:
            raise fatal[0]
        if cancel.cancelled:
            raise Cancelled(f"send cancelled after {result.sent} instances")
    finally:
        result.failed = [{"sop_instance_uid": sop, "reason": why} for sop, (why, _) in failed.items()]
        _audit(db, user, node, result, cancel.cancelled)
    return result


def _size(path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _outcomes(node: Node, answer: requests.Response, batch: list) -> dict[str, tuple[str, bool]]:
    """SOP Instance UID -> (reason, worth a retry) for each instance of
    *batch* the node did not store, from its STOW-RS response."""
    try:
        body = Dataset.from_json(answer.json()) if answer.content else Dataset()
    except ValueError:
        body = Dataset()
    failed: dict[str, tuple[str, bool]] = {}
    for item in body.get("FailedSOPSequence", []) or []:
        code = item.get("FailureReason", None)
        reason = f"{node.name} refused it (STOW-RS failure reason 0x{int(code):04X})" if code is not None \
            else f"{node.name} refused it"
        failed[str(item.get("ReferencedSOPInstanceUID", ""))] = (reason, False)
    stored = {str(item.get("ReferencedSOPInstanceUID", "")) for item in body.get("ReferencedSOPSequence", []) or []}
    if answer.status_code == 409 and not failed:  # refused as a whole, without saying which
        error = http_error(node, 409, "STOW-RS", answer)
        return {inst.sop_instance_uid: (str(error), False) for inst in batch}
    if stored:  # an instance the answer does not name was not stored
        for inst in batch:
            if inst.sop_instance_uid not in stored and inst.sop_instance_uid not in failed:
                failed[inst.sop_instance_uid] = (f"{node.name} did not list it as stored", True)
    return {sop: why for sop, why in failed.items() if any(i.sop_instance_uid == sop for i in batch)}


def _audit(db, user, node: Node, result, cancelled: bool) -> None:
    outcome = audit.SUCCESS if not result.failed and not cancelled else (
        audit.MINOR_FAILURE if result.sent else audit.SERIOUS_FAILURE)
    with transaction(db):
        audit.record(db, user.name, "send", audit.INSTANCES_TRANSFERRED, outcome=outcome,
                     objects=result.studies,
                     detail=f"STOW-RS to {node}: {result.sent} sent, {len(result.failed)} failed"
                            f"{', cancelled' if cancelled else ''}")
