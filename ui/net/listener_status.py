"""The storage listener as a background service of the window.

:class:`ListenerService` starts and stops ``app.net.listener.Listener`` in
jobs (binding the port, opening the intake and stopping its threads are
disk and network work), at launch when the setting ``listener.on_start``
is true (``studydesk config set listener.on_start true``; a missing setting
means off) or from the Tools menu toggle, and stops it when the window
closes. :class:`ListenerLabel` shows it in the status bar ("Listening on
port N" / "Listener off") with what it received and from which node last;
its tooltip has the count per sender and the time of the last reception.

Threads: the listener reports on its association threads and its intake
on its recording thread; both only emit the signals of one long-lived
:class:`_Relay`, which Qt delivers to the service on the GUI thread (the
pattern of ui/jobs.py). The running listener is held in a lock-guarded
:class:`_Slot` that the start job fills, so that a window closing while the
start job runs still stops what it started.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Optional

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel, QWidget

from app.accounts.accounts import User
from app.errors import NotFound
from app.home import Home
from app.net import tls
from app.net.intake import Intake
from app.net.listener import Listener
from ui.worklist.action_bar import privilege_reason
from ui.jobs import Job, JobRunner

SETTING = "listener.on_start"  # `config set` takes a TABLE.KEY; a bare new key it refuses
OFF, STARTING, ON, STOPPING = "off", "starting", "on", "stopping"
REFRESH_DELAY_MS = 250  # batches recorded within this are one worklist refresh


def listen_on_start(home: Home) -> bool:
    try:
        return home.get_setting(SETTING) is True
    except NotFound:
        return False


class _Relay(QObject):
    """Emitted on listener and intake threads, received on the GUI thread."""

    event = Signal(str, str)  # kind, text
    recorded = Signal(int, int, str)  # instances recorded by one batch, studies so far, sender


class _Slot:
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


def _reporter(intake: Intake, relay: _Relay):
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


def _stop(listener: Optional[Listener]) -> None:
    if listener is not None:
        listener.stop()
        listener.intake.close()


class ListenerService(QObject):
    """``changed()`` whenever :attr:`state`, the port or the counts change;
    ``received(instances)`` after received instances are recorded (debounced:
    the worklist refreshes once per burst); ``message(text)`` for the status bar."""

    changed = Signal()
    received = Signal(int)
    message = Signal(str)

    def __init__(self, home: Home, user: User, runner: JobRunner, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.home, self.user, self.runner = home, user, runner
        self.state = OFF
        self.port: Optional[int] = None
        self.aet = ""
        self.tls = False
        self.instances = 0
        self.studies = 0
        self.senders: dict[str, int] = {}  # instances received per node
        self.last_sender = ""
        self.last_time = ""
        self.last_event = ""
        self.error = ""
        self._slot = _Slot()
        self._relay = _Relay(self)
        self._relay.event.connect(self._on_event)
        self._relay.recorded.connect(self._on_recorded)
        self._pending = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_DELAY_MS)
        self._timer.timeout.connect(self._flush_received)
        self._restart_after_stop = False

    def reason(self) -> str:
        """Why this user may not run the listener ('' when they may)."""
        return privilege_reason(self.user, "network", "Receiving images")

    @property
    def listening(self) -> bool:
        return self.state == ON

    # -- starting and stopping ----------------------------------------------------------

    def start_if_configured(self) -> Optional[Job]:
        """At launch: start when the setting says so (read in a job)."""
        if self.reason():
            return None
        home = self.home
        return self.runner.start("Listener setting", lambda progress, cancel: listen_on_start(home),
                                 kind="read", visible=False,
                                 on_success=lambda on: on and self.state == OFF and self._start(),
                                 on_failure=lambda message: self.message.emit(
                                     f"The storage listener setting: {message}"))

    def set_listening(self, on: bool) -> Optional[Job]:
        """The menu toggle."""
        if on and self.state == OFF:
            return self._start()
        if not on and self.state == ON:
            return self.stop()
        self.changed.emit()  # a toggle during a transition: show the real state again
        return None

    def restart(self) -> Optional[Job]:
        """After the AE title or port changed: listen again with them."""
        if self.state != ON:
            return None
        self._restart_after_stop = True
        return self.stop()

    def _start(self) -> Optional[Job]:
        if self.reason():
            self.message.emit(self.reason())
            self.changed.emit()
            return None
        home, user, relay, slot = self.home, self.user, self._relay, self._slot
        self.state, self.error = STARTING, ""
        self.changed.emit()

        def job(progress, cancel):
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

        return self.runner.start("Start listener", job, kind="read", visible=False,
                                 on_success=self._started, on_failure=self._start_failed)

    def _started(self, answer: tuple) -> None:
        self.state = ON
        self.port, self.aet, self.tls = answer
        self.message.emit(f"Listening as {self.aet} on port {self.port}{' (TLS)' if self.tls else ''}")
        self.changed.emit()

    def _start_failed(self, message: str) -> None:
        self.state, self.error = OFF, message
        self.message.emit(f"The storage listener did not start: {message}")
        self.changed.emit()

    def stop(self) -> Optional[Job]:
        """Stop listening, in a job (open associations are aborted; what
        arrived complete is recorded)."""
        if self.state != ON:
            return None
        self.state = STOPPING
        self.changed.emit()
        slot = self._slot
        return self.runner.start("Stop listener", lambda progress, cancel: _stop(slot.take()),
                                 kind="read", visible=False, on_success=self._stopped,
                                 on_failure=self._stop_failed)

    def _stopped(self, _result=None) -> None:
        self.state = OFF
        self.message.emit("The storage listener is off")
        self.changed.emit()
        if self._restart_after_stop:
            self._restart_after_stop = False
            self._start()

    def _stop_failed(self, message: str) -> None:
        self.error = message
        self._stopped()

    def shutdown(self) -> None:
        """At close, after the job runner has shut down (no pool is left to
        run a stop): stop here, as the columns' last save does."""
        self._timer.stop()
        _stop(self._slot.take())
        self.state = OFF

    # -- what it hears -----------------------------------------------------------------

    @Slot(str, str)
    def _on_event(self, kind: str, text: str) -> None:
        self.last_event = f"{kind}: {text}"
        if kind in ("rejected", "aborted", "refused"):
            self.message.emit(f"Listener: {kind} {text}")
        self.changed.emit()

    @Slot(int, int, str)
    def _on_recorded(self, count: int, studies: int, sender: str) -> None:
        self.instances += count
        self.studies = studies
        if sender and count:
            self.senders[sender] = self.senders.get(sender, 0) + count
            self.last_sender, self.last_time = sender, datetime.now().strftime("%H:%M:%S")
        self._pending += count
        self._timer.start()
        self.changed.emit()

    def _flush_received(self) -> None:
        count, self._pending = self._pending, 0
        if count:
            self.message.emit(f"Received {count} image{'s' if count != 1 else ''} over DICOM "
                              f"({self.studies} stud{'ies' if self.studies != 1 else 'y'} since "
                              "the listener started); the worklist is updated")
            self.received.emit(count)

    def status_text(self) -> str:
        if self.state == STARTING:
            return "Starting the listener..."
        if self.state == STOPPING:
            return "Stopping the listener..."
        if self.state != ON:
            return "Listener off"
        text = f"Listening on port {self.port}{' (TLS)' if self.tls else ''}"
        if self.instances:
            text += (f"  ·  received {self.studies} stud{'ies' if self.studies != 1 else 'y'}"
                     f" ({self.instances} image{'s' if self.instances != 1 else ''})")
        if self.last_sender:
            text += f", last from {self.last_sender}"
        return text

    def status_tooltip(self) -> str:
        if self.reason():
            return self.reason()
        if self.state != ON:
            why = f"Not started: {self.error}\n" if self.error else ""
            return (f"{why}The storage listener receives images sent by configured nodes "
                    "(Tools > Storage listener; `listener.on_start` starts it with the window)")
        lines = [f"AE title {self.aet}, port {self.port}; accepts configured nodes only "
                 "(calling AE title and host must match)"]
        for sender, count in sorted(self.senders.items()):
            lines.append(f"From {sender}: {count} image{'s' if count != 1 else ''}")
        if self.last_sender:
            lines.append(f"Last received at {self.last_time} from {self.last_sender}")
        if self.last_event:
            lines.append(f"Last: {self.last_event}")
        return "\n".join(lines)


class ListenerLabel(QLabel):
    """The status bar's view of the service."""

    def __init__(self, service: ListenerService, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("listenerLabel")
        self.service = service
        service.changed.connect(self.update_text)
        self.update_text()

    def update_text(self) -> None:
        self.setText(self.service.status_text())
        self.setToolTip(self.service.status_tooltip())
        self.setProperty("listening", self.service.listening)
        self.style().unpolish(self)
        self.style().polish(self)
