"""The storage listener as a background service of the window.

:class:`ListenerService` starts and stops ``app.net.listener.Listener`` in
jobs (binding the port, opening the intake and stopping its threads are
disk and network work), at launch when the setting ``listener.on_start``
is true (``studydesk config set listener.on_start true``; a missing setting
means off) or from the Tools menu toggle, and stops it when the window
closes. :class:`ListenerLabel` shows it in the status bar ("Listening on
port N" / "Listener off") with what it received and from which node last;
its tooltip has the count per sender and the time of the last reception.

Threads (ui/net/listener_threads.py): the listener reports on its
association threads and its intake on its recording thread; both only emit
the signals of one long-lived relay, which Qt delivers to the service on the
GUI thread (the pattern of ui/jobs.py). What the label says:
ui/net/listener_text.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel, QWidget

from app.accounts.accounts import User
from app.errors import NotFound
from app.home import Home
from ui.cache_events import STUDIES, CacheChange, announce
from ui.jobs import Job, JobRunner
from ui.net.listener_text import OFF, ON, STARTING, STOPPING, ListenerText
from ui.net.listener_threads import ListenerSlot, Relay, start_listener, stop_listener
from ui.worklist.action_bar import privilege_reason

SETTING = "listener.on_start"  # `config set` takes a TABLE.KEY; a bare new key it refuses
REFRESH_DELAY_MS = 250  # batches recorded within this are one worklist refresh


def listen_on_start(home: Home) -> bool:
    try:
        return home.get_setting(SETTING) is True
    except NotFound:
        return False


class ListenerService(ListenerText, QObject):
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
        self._slot = ListenerSlot()
        self._relay = Relay(self)
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

        return self.runner.start("Start listener",
                                 lambda progress, cancel: start_listener(home, user, relay, slot),
                                 kind="read", visible=False,
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
        return self.runner.start("Stop listener", lambda progress, cancel: stop_listener(slot.take()),
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
        stop_listener(self._slot.take())
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
            # recorded through the intake's own connections: every view of the home follows
            announce(self.home, CacheChange.of(STUDIES))
            self.received.emit(count)


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
        self.setAccessibleName(f"Listener: {self.text()}")  # a label's name is its text: keep the state
        self.setAccessibleDescription(self.toolTip())
        self.setProperty("listening", self.service.listening)
        self.style().unpolish(self)
        self.style().polish(self)
