"""A build's output as its log shows it: no line a build writes reads as Stoker's own, and streams
that run side by side are cut into whole lines, each with its stream's name."""
import re

from .backend import BuildError


class NoOwnLines:
    """Passes a step's output on with a backslash before any line of it that starts as
    Stoker's own lines do (`==>`), so that no build can write a line that reads as Stoker's: also
    after what a page does not show (colour codes, other control and zero-width characters)."""

    OWN = b"==>"
    # What the page draws as nothing at a line's start.
    UNSEEN = rb"(?:\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xe2\x80[\x8b-\x8f]|\xef\xbb\xbf)"
    FORGED = re.compile(rb"(^|[\r\n])(" + UNSEEN + rb"*)==>")
    # The start of a line that may yet become a forged one, once the next piece comes.
    MAYBE = re.compile(UNSEEN + rb"*(?:=|==|\x1b(?:\[[0-9;?]*[ -/]*)?|\xe2\x80?|\xef\xbb?)?")
    LONGEST_HELD = 256

    def __init__(self, output):
        self.output, self.held, self.at_line_start = output, b"", True

    def __call__(self, raw):
        data, self.held = self.held + raw, b""
        last = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
        tail = data[last:]
        if (last or self.at_line_start) and len(tail) <= self.LONGEST_HELD and self.MAYBE.fullmatch(tail):
            data, self.held = data[:last], tail
        if not data:
            return
        if self.OWN in data:
            starts_a_line = self.at_line_start
            data_out = self.FORGED.sub(
                lambda m: m[1] + m[2] + b"\\==>" if (m.start() > 0 or starts_a_line) else m[0], data)
        else:
            data_out = data
        self.at_line_start = data[-1:] in (b"\n", b"\r")
        self.output(data_out)

    def flush(self):
        if self.held:
            self.output(self.held)
            self.held = b""


class LinePrefixer:
    """Gives `output` whole lines only, each starting with `prefix`; a partial line waits for
    its end (or `flush`), so steps running side by side never split each other's lines. A line
    longer than LONGEST_LINE is given in pieces of that size: a build printing without newlines
    must not make the worker hold all of it."""

    LONGEST_LINE = 64 * 1024

    def __init__(self, prefix, output, mask=None):
        self.prefix, self.output, self.partial = prefix, output, b""
        # Masks the stream before it is cut (feed and flush raw bytes): a value cut in two would pass.
        self.mask = mask

    def feed(self, raw):
        data = self.partial + (self.mask.feed(raw) if self.mask else raw)
        cut = data.rfind(b"\n") + 1
        self.partial = data[cut:]
        if cut:
            self.output(b"".join(self.prefix + line for line in data[:cut].splitlines(keepends=True)))
        while len(self.partial) >= self.LONGEST_LINE:
            piece, self.partial = self.partial[:self.LONGEST_LINE], self.partial[self.LONGEST_LINE:]
            self.output(self.prefix + piece + b"\n")

    def flush(self):
        if self.mask:
            self.partial += self.mask.flush()
        if self.partial:
            self.output(self.prefix + self.partial + b"\n")
            self.partial = b""


def shown(text):
    """`text` on one line as it is shown: a line break or control character in a step's name or an
    error (both a build's to choose) is written out, so it cannot start a line of its own."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def pump(chunks, lines):
    """Give a stream's output (a service's) to its `lines`, until it ends or is removed."""
    try:
        for chunk in chunks:
            lines.feed(chunk)
    except BuildError:
        pass
    lines.flush()
