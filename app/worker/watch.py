"""The watch on a running build: its lease kept, and the build halted when it must stop."""
import threading
import time

from ..records.jobs import BUILD
from ..records.lifecycle import renew_lease
from ..records.models import Build, Status, db

# How often a running build's record is checked for a cancel, and its clock for a timeout.
WATCH_SECONDS = 0.5


class Watch(threading.Thread):
    """Keeps a running build's lease, and halts the build when it is canceled, runs too long,
    or turns out to be another worker's."""

    def __init__(self, worker, job, log_writer):
        super().__init__(name=f"watch-{job.build_id}", daemon=True)
        self.worker, self.job, self.log_writer = worker, job, log_writer
        self.halt = threading.Event()
        self.done = threading.Event()
        self.reason = None
        self.started = time.monotonic()
        self.timeout = job.timeout

    def stop_build(self, reason, line):
        if self.reason is None:
            self.reason = reason
            self.log_writer.write(f"\n==> {line}\n".encode())
        self.halt.set()

    def run(self):
        lease = self.worker.app.config["STOKER_LEASE_SECONDS"]
        renewed = time.monotonic()
        with self.worker.app.app_context():
            while not self.done.wait(WATCH_SECONDS):
                if self.reason is None:
                    with db.connection_context():
                        status, owner = (Build.select(Build.status, Build.worker_id)
                                         .where(Build.id == self.job.build_id).tuples().first()) or (None, None)
                        if time.monotonic() - renewed > lease / 3 and status == Status.RUNNING:
                            if renew_lease(BUILD, self.job.build_id, self.worker.name, lease):
                                renewed = time.monotonic()
                    if status is None:
                        self.stop_build("deleted", "The project was deleted; stopping here")
                    elif owner != self.worker.name or status not in (Status.RUNNING, Status.CANCELED):
                        self.stop_build("lost", "This worker lost its lease on the build; stopping here")
                    elif status == Status.CANCELED:
                        self.stop_build("canceled", "Canceled")
                    elif time.monotonic() - self.started > self.timeout:
                        self.stop_build("timeout", f"Timed out after {self.timeout:g} s; stopping the build")
                if self.halt.is_set():
                    # Again on every tick: a container started just after a kill is caught too.
                    self.worker.runner.kill_containers(self.job.build_id)
