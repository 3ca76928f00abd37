"""What one process shares between its requests, workers and background tasks, held in one place."""
from dataclasses import dataclass, field
from typing import Callable

from pipeline.doorbell import Doorbell


@dataclass
class Services:
    # Rung when a job is queued, so that this process's idle workers look at once.
    doorbell: Doorbell = field(default_factory=Doorbell)
    # Other processes' doorbells (REDIS_URL), or None when this process is alone.
    redis: object = None
    # This process's subscription to the others' rings, once made: see wakeups.relay.
    subscription: object = None
    # A client of its own with short deadlines for /readyz (see api/health.py), once asked.
    health_redis: object = None
    # The Socket.IO server, in a process that serves clients.
    socketio: object = None
    # Where events go: the Socket.IO server, a write-only Redis manager, or None.
    emitter: object = None
    # This process's live Socket.IO connections: sid to realtime.Connection.
    connections: dict = field(default_factory=dict)
    login_throttle: object = None
    # The backend builds run on (STOKER_BACKEND), one per process, shared by its workers.
    engine: object = None
    # How the records tell the live side of a change, wired by app/factory.py (the records import
    # nothing above them): announce(app, user_ids, event, data), and wake_workers(app) when a job
    # is queued.
    announce: Callable = lambda app, user_ids, event, data: None
    wake_workers: Callable = lambda app: None


def services(app):
    """The app's Services: created with the app, see app/factory.py."""
    return app.extensions["stoker"]
