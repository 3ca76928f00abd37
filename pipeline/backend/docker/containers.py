"""Containers, the unit the Docker backend runs a step in: what one is, and the primitives an engine offers.

A container is prepared (created, not started), its output streamed from
before it starts, started, waited for, and removed whatever happened; any
container carrying given labels can be killed from another thread at any
time. A gated container is started ahead of its turn, its command held until
its gate opens; its exit is said on its output's last line (see ExitLine).
DockerEngine (engine.py) implements the primitives on the docker SDK.
"""
import re
import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import BuildError, Sandbox

# A gated container (ContainerSpec.gated, a shell its entrypoint, command (script,)) runs `script` inside this:
# it waits on its standard input for the word `go` (its gate's `open()`), ending, having run nothing,
# if the input ends first; and it says how `script` exited on the output's last line, after a word
# that is the container's own (`report`), so the exit is known before the engine has torn it down.
GATED_SCRIPT = """\
IFS= read -r gate && [ "$gate" = go ] || exit 125; unset gate; exec </dev/null
(
{script}
)
code=$?; printf '{report}%d\\n' "$code"; exit "$code"
"""


class NetworkTaken(BuildError):
    """The subnet asked for overlaps one the engine already has."""


@dataclass(frozen=True)
class ContainerSpec:
    """One container to run: `command` in `image`, given to `entrypoint` (None: the image's own), with
    `workspace` mounted at `workdir`."""

    image: str
    command: tuple
    workspace: Path
    workdir: str
    sandbox: Sandbox
    labels: dict = field(default_factory=dict)
    # Secrets among them: kept out of repr so that they never reach a log line.
    environment: dict = field(default_factory=dict, repr=False)
    # What runs in it, "build" or "tool", for messages about it.
    kind: str = "build"
    # A network in place of the sandbox's (a build's own, for its services), the container's address
    # on it, and names it resolves (/etc/hosts: the engine's own DNS needs iptables, which may be off).
    network: str | None = None
    address: str | None = None
    hosts: dict = field(default_factory=dict)
    # Started ahead of its turn, to wait at a gate (see ContainerEngine.ahead and GATED_SCRIPT).
    gated: bool = False
    entrypoint: tuple | None = None


@dataclass(frozen=True)
class Ahead:
    """A gated container started ahead of its turn (ContainerEngine.ahead)."""

    handle: object
    output: object
    gate: object
    # The word its exit line starts with: random, so no output of the build's can be taken for it.
    report: bytes


class ContainerEngine(ABC):
    @abstractmethod
    def answering(self):
        """Whether the engine answers now; a worker asks before it claims a job."""

    @abstractmethod
    def image_id(self, image):
        """The id of what `image` names on the engine now, or None; BuildError when it cannot say."""

    @abstractmethod
    def pull(self, image, credentials, on_line):
        """Pull `image` from its registry, as `credentials` ((username, password) or None) let it;
        each line of progress goes to `on_line`. BuildError with the registry's reason on failure."""

    @abstractmethod
    def import_image(self, image, rootfs):
        """Make `image` (repository:tag) from `rootfs`, a tar of a root filesystem, as bytes."""

    @abstractmethod
    def create_network(self, name, subnet, labels, way_out=False):
        """Create a network of `subnet` (an IPv4 network) that only its containers reach: no route
        out, none to the host or to other networks; with `way_out`, routed out through the host.
        NetworkTaken if the subnet is in use."""

    @abstractmethod
    def remove_network(self, name):
        """Remove the network; never raises."""

    @abstractmethod
    def prepare(self, spec):
        """Create the container for `spec`, not yet started; returns the engine's handle on it.
        Raises ImageMissing, or BuildError."""

    @abstractmethod
    def stream(self, handle):
        """An iterator of the container's output (stdout and stderr as they interleave) as raw
        bytes, ending when the container does; taken before start, so nothing is missed."""

    @abstractmethod
    def start(self, handle):
        """Start the prepared container."""

    @abstractmethod
    def start_gated(self, handle):
        """Take the output of a prepared gated container and start it: (output, gate), the output as
        `stream` gives it; the gate's `open()` lets its command run, `close()` (always called, after
        `open()` too) lets go of it and of the output. Raises BuildError."""

    @abstractmethod
    def wait(self, handle):
        """Wait for the container to end; returns its Exit."""

    @abstractmethod
    def kill(self, labels):
        """Kill every running container that carries all of `labels` (none, for no labels)."""

    @abstractmethod
    def remove(self, handle):
        """Remove the container, running or not; never raises."""

    @abstractmethod
    def remove_orphans(self, hostname, is_alive):
        """Remove containers left by worker processes on `hostname` that `is_alive(pid)` says are
        gone; returns their ids."""

    def attach(self, spec):
        """`spec`'s container prepared and its output taken, not yet started: (handle, output). The
        container is removed if its output cannot be taken."""
        handle = self.prepare(spec)
        try:
            return handle, self.stream(handle)
        except BaseException:
            self.remove(handle)
            raise

    def ahead(self, spec):
        """`spec`'s container (gated: a shell its entrypoint, its command (script,)) made, attached and
        started ahead of its turn, its script waiting at the gate: an Ahead. Removed if it cannot be
        started."""
        (script,) = spec.command
        report = secrets.token_hex(16)
        wrapped = replace(spec, command=(GATED_SCRIPT.format(script=script, report=report),))
        handle = self.prepare(wrapped)
        try:
            return Ahead(handle, *self.start_gated(handle), report.encode())
        except BaseException:
            self.remove(handle)
            raise


class ExitLine:
    """Finds a gated script's exit line (`report` then the exit code) in its output, and holds back
    only what may be its start, so everything before it is shown as it comes and it never is."""

    DIGITS = 3

    def __init__(self, report):
        self.report, self.held = report, b""
        self.line = re.compile(re.escape(report) + rb"([0-9]{1,%d})\n" % self.DIGITS)

    def feed(self, chunk):
        """(what to show now, the exit code once its line has come, else None). Output after the
        line is the script's background's, after its end: never shown."""
        data, self.held = self.held + chunk, b""
        found = self.line.search(data)
        if found:
            return data[:found.start()], int(found.group(1))
        cut = self._may_start_at(data)
        data, self.held = data[:cut], data[cut:]
        return data, None

    def _may_start_at(self, data):
        longest = len(self.report) + self.DIGITS
        start = data.find(self.report[:1], max(0, len(data) - longest))
        while start != -1:
            tail = data[start:]
            if self.report.startswith(tail) or (tail.startswith(self.report)
                                                and tail[len(self.report):].isdigit()):
                return start
            start = data.find(self.report[:1], start + 1)
        return len(data)
