"""The watch on a running job of any kind: its lease kept, and the job halted when it must stop."""
import time

from pipeline import watching
from pipeline.watching import WATCH_SECONDS

from ..records.lifecycle import renew_lease
from ..records.models import db


class Watch(watching.Watch):
    """Keeps a running job's lease, and halts the job when it is canceled, runs too long, is
    deleted, or turns out to be another worker's.

    Halting sets `halt` (for a runner that looks at it), calls `say` once with the reason's
    line (for a job with a log), and calls `kill` on every tick from then on: a container
    started just after a kill is caught too.
    """

    def __init__(self, worker, kind, job_id, timeout, kill, say=None):
        super().__init__(f"watch-{kind.name.replace(' ', '-')}-{job_id}", timeout, say)
        self.worker, self.kind, self.job_id, self.kill = worker, kind, job_id, kill

    def run(self):
        kind, model = self.kind, self.kind.model
        lease = kind.lease_seconds(self.worker.app.config)
        renewed = time.monotonic()
        with self.worker.app.app_context():
            while not self.done.wait(WATCH_SECONDS):
                if self.reason is None:
                    with db.connection_context():
                        status, owner = (model.select(model.status, model.worker_id)
                                         .where(model.id == self.job_id).tuples().first()) or (None, None)
                        if time.monotonic() - renewed > lease / 3 and status == kind.running:
                            if renew_lease(kind, self.job_id, self.worker.name, lease):
                                renewed = time.monotonic()
                    if status is None:
                        self.stop_job("deleted", "The project was deleted; stopping here")
                    elif owner != self.worker.name or status not in (kind.running, kind.canceled):
                        self.stop_job("lost", "This worker lost its lease on the build; stopping here")
                    elif status == kind.canceled:
                        self.stop_job("canceled", "Canceled")
                    elif self.overdue():
                        self.stop_job("timeout", f"Timed out after {self.timeout:g} s; stopping the build")
                if self.halt.is_set():
                    self.kill()
