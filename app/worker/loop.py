"""The worker loop: claims queued jobs of every kind in turn and hands each to its kind's executor.

Everything it hands to pipeline/ is plain values and plain callbacks; pipeline/
never imports this side.
"""
import logging
import os
import socket
import threading
from contextlib import ExitStack, contextmanager

from ..records.lifecycle import claim_next
from ..records.models import db
from ..services import services
from .kinds import EXECUTORS

log = logging.getLogger(__name__)


def worker_name(index):
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


class Worker:
    """Runs jobs one at a time for one app; several may share a process, and its engine."""

    def __init__(self, app, name, stopping=None):
        self.app = app
        self.name = name
        self.stopping = stopping or threading.Event()
        # The watch on the job this worker runs, while it runs one (see watch.py).
        self.watch = None
        # Removing what the last job left, while it does (see tidying).
        self.tidier = None
        self.doorbell = services(app).doorbell
        if services(app).engine is None:
            from pipeline.backend import named

            services(app).engine = named(app.config["STOKER_BACKEND"],
                                         service_subnets=app.config["STOKER_SERVICE_SUBNETS"])
        self.engine = services(app).engine
        labels = {"stoker.worker": name}
        # Each kind's tool, made once: (kind, its run function, the tool).
        self.executors = [(executor.kind, executor.run, executor.make_tool(app, self.engine, labels))
                          for executor in EXECUTORS]
        # The kinds share the workers; each worker starts its look with the next kind each time.
        self.first_kind = 0

    @property
    def busy(self):
        """Whether it runs a build, or removes what one left; a stopping process waits for those
        to record how they ended and to leave nothing behind."""
        return self.watch is not None or (self.tidier is not None and self.tidier.is_alive())

    @contextmanager
    def tidying(self):
        """An ExitStack for what a job leaves to remove once its result is out. It is closed on a
        thread of its own while the worker takes its next job, one at a time: the last job's is
        waited for first."""
        self.tidied()
        with ExitStack() as left:
            yield left
            left = left.pop_all()
        self.tidier = threading.Thread(target=left.close, name=f"tidy-{self.name}", daemon=True)
        self.tidier.start()

    def tidied(self):
        """Wait until what the last job left is removed."""
        if self.tidier is not None:
            self.tidier.join()

    def interrupt(self):
        """Stop the job this worker runs, if any; used when the process is stopping."""
        watch = self.watch
        if watch is not None:
            watch.halt.set()
        self.engine.kill({"stoker.worker": self.name})

    def run_forever(self):
        """Run jobs until `stopping` is set, sleeping on the doorbell when idle."""
        poll = self.app.config["STOKER_POLL_SECONDS"]
        while not self.stopping.is_set():
            seen = self.doorbell.rings()
            try:
                ran = self.run_once()
            except Exception:
                log.exception("worker %s could not claim a job", self.name)
                ran = False
            if not ran:
                self.doorbell.wait(seen, poll)

    def run_once(self):
        """Claim and run the oldest queued job of one kind, the kinds taken in turn; False when
        there was none of any."""
        # An engine that does not answer would fail every job it was given: leave them to others.
        if self.stopping.is_set() or not self.engine.answering():
            return False
        turn = self.executors[self.first_kind:] + self.executors[:self.first_kind]
        self.first_kind = (self.first_kind + 1) % len(self.executors)
        return any(self.run_next(kind, execute, tool) for kind, execute, tool in turn)

    def run_next(self, kind, execute, tool):
        """Claim the oldest queued job of `kind` and run it; False when there was none."""
        with self.app.app_context():
            with db.connection_context():
                job = claim_next(kind, self.name, kind.lease_seconds(self.app.config),
                                 carried=self.app.config["STOKER_WORKER_LABELS"])
            if job is None:
                return False
            execute(self, tool, job)
            return True
