"""Real Socket.IO clients that collect what a user hears."""
import queue
import time

import socketio

from app.records.models import Status

from .api import create_project


class Listener:
    """A real Socket.IO client that collects buildStatusUpdate and buildLog events."""

    def __init__(self, server, token):
        self.events = queue.Queue()
        # Other builds' events that arrived while one build was waited for: theirs to collect later.
        self.set_aside = []
        # Every buildStatusUpdate payload, whole and in arrival order, whoever collected it since.
        self.heard = []
        self.logs = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        self.client.on("buildStatusUpdate", self._heard)
        self.client.on("buildLog", self.logs.put)
        self.client.connect(server.url, auth={"token": token}, transports=["websocket"], wait_timeout=5)

    def statuses_of(self, build_id, until, timeout=30):
        """Collect the statuses one build goes through, in arrival order, until `until` arrives."""
        seen, deadline = [], time.monotonic() + timeout
        earlier = [event for event in self.set_aside if event["id"] == build_id]
        self.set_aside = [event for event in self.set_aside if event["id"] != build_id]
        while until not in seen:
            event = earlier.pop(0) if earlier else self.events.get(timeout=max(0.1, deadline - time.monotonic()))
            assert set(event) >= {"id", "status", "commitHash", "exitCode"} and "project" not in event
            if event["id"] == build_id:
                seen.append(event["status"])
            else:
                self.set_aside.append(event)
        return seen

    def _heard(self, payload):
        self.heard.append(payload)
        self.events.put(payload)

    def log_of(self, build_id):
        """The log pieces received so far for one build, as (offset, data) in arrival order."""
        pieces = []
        while not self.logs.empty():
            event = self.logs.get_nowait()
            if event["buildId"] == build_id:
                pieces.append((event["offset"], event["data"]))
        return pieces

    def close(self):
        self.client.disconnect()


def sentinel_build(server, token, listener, repo):
    """A build of the token holder's own, run to the end and heard by `listener`, their connection:
    whatever the server sent that connection before, it has received by then. A negative check
    ("bob heard nothing of alice's") makes one after the events it must not hear, then looks."""
    build_id = create_project(server, token, repo, "true", name="sentinel")["build"]["id"]
    listener.statuses_of(build_id, until=Status.PASSED)
    return build_id
