"""Wakes idle workers the moment a build is queued, instead of leaving them polling."""
import threading


class Doorbell:
    """A counter of rings that waiters watch; a ring between looking and waiting is never lost."""

    def __init__(self):
        self._rings = 0
        self._changed = threading.Condition()

    def rings(self):
        with self._changed:
            return self._rings

    def ring(self):
        with self._changed:
            self._rings += 1
            self._changed.notify_all()

    def wait(self, seen, timeout):
        """Return once the count has moved past `seen`, or after `timeout` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self._rings != seen, timeout)
