"""A build's output on its way to where it is kept: taken from any thread, decoded as UTF-8, masked,
cut at a cap, and handed on in order, in pieces, from one thread of its own. Where the pieces go (the
database beside the server, the server from an agent) is a subclass's `save`."""
import codecs
import queue
import threading

# One piece holds at most this much; a fast build's output is coalesced up to it.
PIECE_BYTES = 256 * 1024
_CLOSE = object()


def truncation_notice(cap):
    return f"\n[stoker] the log reached {cap // (1024 * 1024)} MB and is cut here; the build goes on\n"


class LogStream:
    """`write` never blocks on where the log is kept: a build printing fast is never slowed by it,
    and past the cap its output is counted and dropped, so memory stays bounded too."""

    def __init__(self, cap, mask=None, name="log"):
        self.cap, self.mask = cap, mask
        # The runner's thread and the build's watch both write; decoding and masking keep state.
        self.lock = threading.Lock()
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.pending = queue.Queue()
        self.accepted = 0
        self.truncated = False
        # Why the log stopped being kept, if it did; then the build fails saying so.
        self.lost = None
        self.thread = threading.Thread(target=self._save_in_order, name=name, daemon=True)
        self.thread.start()

    def start(self):
        """The byte offset the first piece goes at; None: keep nothing."""
        return 0

    def save(self, offset, data):
        """Keep `data` (UTF-8 bytes) at `offset`; the offset after it, or None to keep no more."""
        raise NotImplementedError

    def saving(self):
        """A context the saving thread runs in."""
        return _Nothing()

    def write(self, raw):
        """Accept raw bytes of output; safe to call from any thread."""
        with self.lock:
            self._write(raw)

    def _write(self, raw):
        if self.truncated or not raw:
            return
        room = self.cap - self.accepted
        if len(raw) > room:
            raw, self.truncated = raw[:room], True
        self.accepted += len(raw)
        text = self.decoder.decode(raw, final=self.truncated)
        if self.mask is not None:
            text = self.mask.feed(text) + (self.mask.flush() if self.truncated else "")
        if self.truncated:
            text += truncation_notice(self.cap)
        if text:
            self.pending.put(text.encode())

    def close(self):
        """Flush what is left and wait until every piece is kept."""
        with self.lock:
            tail = self.decoder.decode(b"", final=True)
            if self.mask is not None:
                tail = self.mask.feed(tail) + self.mask.flush()
            if tail:
                self.pending.put(tail.encode())
            self.pending.put(_CLOSE)
        self.thread.join()

    def _save_in_order(self):
        with self.saving():
            offset = self.start()
            closing = False
            while not closing:
                data, closing = self._take_waiting()
                if data and offset is not None:
                    offset = self.save(offset, data)

    def _take_waiting(self):
        """Wait for output, then take whatever else already waits (up to a piece), so fast
        output becomes few pieces; also say whether the writer was closed."""
        data, item = bytearray(), self.pending.get()
        while item is not _CLOSE:
            data += item
            if len(data) >= PIECE_BYTES or self.pending.empty():
                return bytes(data), False
            item = self.pending.get_nowait()
        return bytes(data), True


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
