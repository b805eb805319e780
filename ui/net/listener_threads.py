"""What the storage listener does off the GUI thread, and how it reports.

The listener reports on its association threads and its intake on its
recording thread; both only emit the signals of one long-lived
:class:`Relay`, which Qt delivers to :class:`ui.net.listener_status.ListenerService`
on the GUI thread (the pattern of ui/jobs.py). The running listener is held
in a lock-guarded :class:`ListenerSlot` that the start job fills, so that a window
closing while the start job runs still stops what it started.
"""

from __future__ import annotations

import threading
from typing import Optional

from PySide6.QtCore import QObject, Signal

from app.accounts.accounts import User
from app.home import Home
from app.net import tls
from app.net.intake import Intake
from app.net.listener import Listener


class Relay(QObject):
    """Emitted on listener and intake threads, received on the GUI thread."""

    event = Signal(str, str)  # kind, text
    recorded = Signal(int, int, str)  # instances recorded by one batch, studies so far, sender


class ListenerSlot:
    """The running listener, set by the start job and taken by a stop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listener: Optional[Listener] = None

    def put(self, listener: Listener) -> None:
        with self._lock:
            self._listener = listener

    def take(self) -> Optional[Listener]:
        with self._lock:
            listener, self._listener = self._listener, None
            return listener


def _reporter(intake: Intake, relay: Relay):
    """``intake.on_recorded``: runs on the intake's recording thread, which
    alone changes ``intake.results`` (one entry per sending node), so the
    node whose count grew is the batch's sender."""
    seen: dict = {}

    def recorded(count: int) -> None:
        sender = ""
        for node, result in intake.results.items():
            if result.imported > seen.get(node, 0):
                sender = node or "an unknown node"
            seen[node] = result.imported
        relay.recorded.emit(count, sum(len(r.studies) for r in intake.results.values()), sender)

    return recorded


def stop_listener(listener: Optional[Listener]) -> None:
    if listener is not None:
        listener.stop()
        listener.intake.close()


def start_listener(home: Home, user: User, relay: Relay, slot: ListenerSlot) -> tuple:
    """The start job: listen (with TLS when the settings say so), recording
    into an intake that reports through *relay*; (port, AE title, TLS)."""
    context = tls.server_context(home) if tls.listen_with_tls(home) else None
    intake = Intake(home, user.name)
    intake.on_recorded = _reporter(intake, relay)
    listener = Listener(home, user.name, tls_context=context, intake=intake,
                        on_event=relay.event.emit)
    try:
        listener.start()
    except BaseException:
        intake.close()
        raise
    slot.put(listener)
    return listener.port, listener.aet, context is not None
