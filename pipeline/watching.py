"""The watch on a running build, wherever it runs: a thread that halts it when it must stop. What it
watches (the build's record beside the server, the agent API from an agent) is its subclass's `run`."""
import threading
import time

# How often a running build's record is looked at (a cancel, its lease) and its clock (a timeout).
WATCH_SECONDS = 0.5


class Watch(threading.Thread):
    """Halting sets `halt` (for a runner that looks at it) and calls `say` once with the reason's
    line (for a job with a log); `reason` says why."""

    def __init__(self, name, timeout, say=None):
        super().__init__(name=name, daemon=True)
        self.say = say
        self.halt = threading.Event()
        self.done = threading.Event()
        self.reason = None
        self.started = time.monotonic()
        self.timeout = timeout

    def follow(self, plan):
        """The pipeline file's own timeout, once it is read, takes the project's place."""
        if plan.timeout is not None:
            self.timeout = plan.timeout

    def stop_job(self, reason, line):
        if self.reason is None:
            self.reason = reason
            if self.say is not None:
                self.say(line)
        self.halt.set()

    def overdue(self):
        return time.monotonic() - self.started > self.timeout
