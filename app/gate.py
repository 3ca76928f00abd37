"""The listening socket's gate: at most so many open connections per client address.

Without it, one client holding ~1,000 idle connections took every green
thread the server had, and every other request timed out. Connections over
the limit are closed as soon as they are accepted, before anything is read,
so a flood from one address costs the server next to nothing and leaves
room for everyone else. (Idle ones are closed by the server's socket
timeout: see `serve`.)
"""
import collections
import logging
import threading

log = logging.getLogger(__name__)


class GatedListener:
    """Wraps a listening socket; `accept` hands out only connections within the per-address limit."""

    def __init__(self, listener, per_address):
        self.listener = listener
        self.per_address = per_address
        self.open = collections.Counter()
        self.lock = threading.Lock()
        self.refused = collections.Counter()

    def accept(self):
        while True:
            conn, address = self.listener.accept()
            host = address[0]
            with self.lock:
                if not self.per_address or self.open[host] < self.per_address:
                    self.open[host] += 1
                    return CountedConnection(conn, lambda: self._closed(host)), address
                self.refused[host] += 1
                first = self.refused[host] == 1
            if first:
                log.warning("%s holds %d connections, the most one address may; closing its further ones",
                            host, self.per_address)
            conn.close()

    def _closed(self, host):
        with self.lock:
            self.open[host] -= 1
            if self.open[host] <= 0:
                del self.open[host]
                self.refused.pop(host, None)

    def __getattr__(self, name):
        return getattr(self.listener, name)


class CountedConnection:
    """A connection that gives its place back to the gate once, when it is closed."""

    def __init__(self, conn, on_close):
        self._conn = conn
        self._on_close = on_close

    def close(self):
        on_close, self._on_close = self._on_close, None
        self._conn.close()
        if on_close is not None:
            on_close()

    def __getattr__(self, name):
        return getattr(self._conn, name)
