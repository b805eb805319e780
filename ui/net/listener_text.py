"""What the status bar says of the storage listener: "Listening on port N"
or "Listener off", with what it received and from which node last; the
tooltip has the count per sender and the time of the last reception. A
mixin of :class:`ui.net.listener_status.ListenerService` (its state, port,
counts and senders).
"""

from __future__ import annotations

OFF, STARTING, ON, STOPPING = "off", "starting", "on", "stopping"  # the service's states


class ListenerText:
    """``status_text`` and ``status_tooltip`` of the service (a mixin)."""

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
