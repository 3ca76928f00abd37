"""The container engine builds run on: one small interface, its lifecycle spelled out.

A container is prepared (created, not started), its output streamed from
before it starts, started, waited for, and removed whatever happened; any
container carrying given labels can be killed from another thread at any
time. `ContainerEngine.run` is that lifecycle, written once. Docker
(pipeline/docker_engine.py) implements it; another engine (Kubernetes, a
remote agent) is one new module implementing the abstract methods.
"""
import re
import secrets
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from pathlib import Path

# An image reference as engines take them: [registry/]name[:tag][@digest].
IMAGE_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}")


def registry_of(image):
    """The registry an image reference pulls from: its first part when that names a host (has a
    dot or a port, or is localhost), else Docker Hub."""
    first, slash, _ = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


# A gated container (ContainerSpec.gated, command ("sh", "-c", script)) runs `script` inside this:
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


class BuildError(Exception):
    """A container could not run at all; the message says why, for the user."""


class ImageMissing(BuildError):
    """The engine does not have the image."""


class NetworkTaken(BuildError):
    """The subnet asked for overlaps one the engine already has."""


class TimedOut(BuildError):
    """A container ran past its time and was killed."""


@dataclass(frozen=True)
class Sandbox:
    """What a container may use: every capability dropped but `caps`, and hard limits.

    `user`, `read_only` (with a small writable /tmp) and `cpus=None` (no
    CPU limit) are for Stoker's own tool containers, which get less than a
    build does.
    """

    network: str = "none"
    caps: tuple = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "SETGID", "SETUID")
    pids: int = 1024
    memory: str = "2g"
    cpus: float | None = 2.0
    user: str | None = None
    read_only: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    """One container to run: `command` in `image`, with `workspace` mounted at `workdir`."""

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


@dataclass(frozen=True)
class Ahead:
    """A gated container started ahead of its turn (ContainerEngine.ahead), for `run`."""

    handle: object
    output: object
    gate: object
    # The word its exit line starts with: random, so no output of the build's can be taken for it.
    report: bytes


@dataclass(frozen=True)
class Exit:
    code: int
    # Whether the kernel killed it for going over its memory limit.
    out_of_memory: bool = False


class ContainerEngine(ABC):
    @abstractmethod
    def answering(self):
        """Whether the engine answers now; a worker asks before it claims a job."""

    @abstractmethod
    def has_image(self, image):
        """Whether the engine has `image` already; BuildError when it cannot say."""

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
    def create_network(self, name, subnet, labels):
        """Create a network of `subnet` (an IPv4 network) that only its containers reach: no route
        out, none to the host or to other networks. NetworkTaken if the subnet is in use."""

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
        """`spec`'s container (gated, its command ("sh", "-c", script)) made, attached and started
        ahead of its turn, its script waiting at the gate: an Ahead, for `run`. Removed if it
        cannot be started."""
        shell, flag, script = spec.command
        report = secrets.token_hex(16)
        wrapped = replace(spec, command=(shell, flag, GATED_SCRIPT.format(script=script, report=report)))
        handle = self.prepare(wrapped)
        try:
            return Ahead(handle, *self.start_gated(handle), report.encode())
        except BaseException:
            self.remove(handle)
            raise

    def run(self, spec, on_output, timeout=None, ahead=None, later=None):
        """Run `spec` to its end, giving its output to `on_output` as it comes; returns its Exit.

        `ahead` is what `ahead(spec)` gave, when the container was started
        ahead of time: its gate is opened, and a script that exits 0 has
        ended as soon as its exit line comes. The container is removed
        however this ends: at once, or, given `later` (a contextlib.ExitStack),
        when `later` closes, so a caller can report the exit before that.
        Past `timeout` seconds it is killed (by its labels, which must single
        it out) and TimedOut raised.
        """
        if ahead is None:
            handle, output = self.attach(spec)
            gate, exit_line = None, None
        else:
            handle, output, gate, exit_line = ahead.handle, ahead.output, ahead.gate, ExitLine(ahead.report)
        if later is not None:
            later.callback(self.remove, handle)
        timer, expired = None, threading.Event()

        def expire():
            expired.set()
            self.kill(spec.labels)

        try:
            if gate is None:
                self.start(handle)
            else:
                gate.open()
            if timeout is not None:
                timer = threading.Timer(timeout, expire)
                timer.start()
            for chunk in output:
                if exit_line is None:
                    on_output(chunk)
                    continue
                shown, code = exit_line.feed(chunk)
                if shown:
                    on_output(shown)
                if code == 0:
                    return Exit(0)
                if code is not None:
                    break  # whether the kernel killed it for its memory, the engine says
            if exit_line is not None and exit_line.held:
                on_output(exit_line.held)
            ended = self.wait(handle)
            if expired.is_set():
                raise TimedOut(f"{spec.image} ran longer than {timeout:g} s")
            return ended
        finally:
            if timer is not None:
                timer.cancel()
            if gate is not None:
                gate.close()
            if later is None:
                self.remove(handle)


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
