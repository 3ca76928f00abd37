"""The early step: a build's command made ready while its commit is fetched, so the backend's part of
the wait overlaps git's."""
import logging
import threading
from dataclasses import replace

log = logging.getLogger(__name__)


class EarlyStep:
    """A step started on a thread of its own ahead of its turn (Backend.start_ahead); `take` it to run
    it, or `discard` it. Starting it is a guess: when it fails, it is as if it had not been tried."""

    def __init__(self, backend):
        self.backend, self.thread, self.ahead, self.taken = backend, None, None, False
        # The build it was set up in (setup_build), made on the same thread.
        self.build = None
        self.letting_go = None
        self.lock = threading.Lock()

    def make(self, spec, step, ready_to_run):
        """Make `step` of the build `spec` from its image's id, if `ready_to_run` gives one: an image
        that must be pulled or checked first is the build's own path to pull, or to fail on, in its
        own words."""
        self.thread = threading.Thread(target=self._make, args=(spec, step, ready_to_run), daemon=True,
                                       name="early-step")
        self.thread.start()

    def _make(self, spec, step, ready_to_run):
        try:
            image_id = ready_to_run(step.image)
            if image_id is None:
                return
            self.build = self.backend.setup_build(spec)
            self.ahead = self.backend.start_ahead(self.build, replace(step, image_id=image_id))
        except Exception as exc:
            log.info("no early step (%s): made when its turn comes", exc)

    def take(self):
        """What `start_ahead` gave and the build it was set up in, each None when there is none; both
        now the taker's to destroy."""
        if self.thread is not None:
            self.thread.join()
        self.taken = True
        return self.ahead, self.build

    def discard(self):
        """Destroy it unless it was taken (its command never ran), once it is made; then it is gone."""
        if self.thread is not None:
            self.thread.join()
        with self.lock:
            if self.taken:
                ahead, build = None, None
            else:
                ahead, build, self.ahead, self.build = self.ahead, self.build, None, None
        if ahead is not None:
            self.backend.destroy_step(ahead)
        if build is not None:
            self.backend.destroy_build(build)
        if self.letting_go is not None and self.letting_go is not threading.current_thread():
            self.letting_go.join()

    def let_go(self):
        """`discard` it on a thread of its own: the build goes on without waiting for it to be made."""
        self.letting_go = threading.Thread(target=self.discard, daemon=True, name="early-step-gone")
        self.letting_go.start()
