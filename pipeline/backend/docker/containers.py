"""Containers, the unit the Docker backend runs a step in: what one is, and the primitives an engine offers.

A container is prepared (created, not started), its output streamed from
before it starts, started, waited for, and removed whatever happened; any
container carrying given labels can be killed from another thread at any
time. A gated container is started ahead of its turn, its command held until
its gate opens; its exit is said on its output's last line (see ExitLine).
DockerEngine (engine.py) is them, on the docker SDK.
"""
import re
from dataclasses import dataclass, field
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
    # Started ahead of its turn, to wait at a gate (see DockerEngine.ahead and GATED_SCRIPT).
    gated: bool = False
    entrypoint: tuple | None = None


@dataclass(frozen=True)
class Ahead:
    """A gated container started ahead of its turn (DockerEngine.ahead)."""

    handle: object
    output: object
    gate: object
    # The word its exit line starts with: random, so no output of the build's can be taken for it.
    report: bytes


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
