"""Where builds run: one interface, a build's lifecycle spelled out, and the one place a backend is chosen.

As Woodpecker's `Backend`: a build is set up (its workspace where its steps
work, and a network of its own when it has services), then each step is
started, its output tailed, waited for, and destroyed whatever happened; the
build is torn down once its steps are gone. `Backend.run_step` is that
lifecycle for one step, written once. Docker (pipeline/backend/docker/) is one
backend; another (a keyless agent, Kubernetes, a local one for trusted hosts)
is one new module and one entry in BACKENDS, which nothing else names.
"""
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path


class BuildError(Exception):
    """A step could not run at all; the message says why, for the user."""


class ImageMissing(BuildError):
    """The backend does not have the image."""


class TimedOut(BuildError):
    """A step ran past its time and was killed."""


@dataclass(frozen=True)
class Sandbox:
    """What a step may use: every capability dropped but `caps`, and hard limits.

    `user`, `read_only` (with a small writable /tmp) and `cpus=None` (no
    CPU limit) are for Stoker's own tool steps, which get less than a
    build does.
    """

    network: str = "none"
    caps: tuple = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "SETGID", "SETUID")
    pids: int = 1024
    memory: str = "2g"
    cpus: float | None = 2.0
    user: str | None = None
    read_only: bool = False
    # A seccomp profile (its JSON) in place of the backend's default one.
    seccomp: str | None = None


@dataclass(frozen=True)
class BuildSpec:
    """What a build's steps share: the host folder they work in, their limits and their labels."""

    # Names what the backend makes for the build (a random part is added where names must differ).
    name: str
    workspace: Path
    sandbox: Sandbox
    # Carried by every step of the build: what `kill` and `remove_orphans` find them by.
    labels: dict = field(default_factory=dict)
    # A network of the host's for its steps, in place of the sandbox's; None: the sandbox's.
    network: str | None = None
    # The names of its services: with any, it has a network of its own, on which each is reached by name.
    services: tuple = ()
    # A way out for its steps and services: a network of its own with a route out, from which nothing
    # the backend guards (see Backend.guard) is reached. Without it, a network of its own has none.
    egress: bool = False
    # Where the workspace is inside its steps; None: the backend's own place for it.
    workdir: str | None = None
    # What runs in it, "build" or "tool", for messages about it.
    kind: str = "build"


@dataclass(frozen=True)
class StepSpec:
    """One step of a build: `script` run by a shell (its stderr joined to its stdout) in `image`,
    whatever the image's entrypoint, or, with no script, `command` (empty: the image's own) run by
    `entrypoint` (None: the image's own). With a script, `entrypoint` is the shell, such as
    ("bash", "-c"), given the script as its last argument."""

    image: str
    script: str | None = None
    command: tuple = ()
    entrypoint: tuple | None = None
    # Secrets among them: kept out of repr so that they never reach a log line.
    environment: dict = field(default_factory=dict, repr=False)
    # What the images made present gave for `image` (see pulls.Images): run in its place, so that
    # no other image given the name meanwhile is.
    image_id: str | None = None
    # A service's name: it runs beside the steps, reached by this name.
    service: str | None = None
    # Whether it may make user and mount namespaces of its own, as Stoker's image builder does (see
    # pipeline/imagebuilder): the backend widens for it what that needs, and nothing else.
    namespaces: bool = False


@dataclass(frozen=True)
class Exit:
    code: int
    # Whether the kernel killed it for going over its memory limit.
    out_of_memory: bool = False


class Backend(ABC):
    """Runs the steps of builds. One per process: its workers share it."""

    # The host: whether it answers, and what its steps leave.

    @abstractmethod
    def answering(self):
        """Whether the backend answers now; a worker asks before it claims a job."""

    def guarded(self):
        """Whether what `guard` writes still stands here: a build gets its way out only while it does."""
        return False

    def guard(self, denied):
        """Keep builds with a way out from reaching this host, each other, the link-local range and
        the `denied` networks; raise BuildError saying why when this host cannot."""
        raise BuildError(f"the {type(self).__name__} cannot keep builds from reaching what they must not")

    @abstractmethod
    def kill(self, labels):
        """Kill every running step that carries all of `labels` (none, for no labels)."""

    @abstractmethod
    def remove_orphans(self, hostname, is_alive):
        """Remove what builds left (steps, networks) of worker processes on `hostname` that
        `is_alive(pid)` says are gone; returns their ids."""

    # Images.

    @abstractmethod
    def image_id(self, image):
        """The id of what `image` names on the backend now, or None; BuildError when it cannot say."""

    def has_image(self, image):
        """Whether the backend has `image` already; BuildError when it cannot say."""
        return self.image_id(image) is not None

    @abstractmethod
    def pull(self, image, credentials, on_line):
        """Pull `image` from its registry, as `credentials` ((username, password) or None) let it;
        each line of progress goes to `on_line`. BuildError with the registry's reason on failure."""

    @abstractmethod
    def import_image(self, image, rootfs):
        """Make `image` (repository:tag) from `rootfs`, a tar of a root filesystem, as bytes."""

    # A build and its steps.

    @abstractmethod
    def setup_build(self, spec):
        """Set up the build `spec` (a BuildSpec) for its steps; returns the backend's handle on it.
        With services, their network reaches nothing else: no route out, none to the host. Raises
        BuildError."""

    @abstractmethod
    def start_step(self, build, step, ahead=None):
        """Start `step` (a StepSpec) in the set-up `build`, its output taken from before it starts,
        or let run the one `start_ahead` gave for it; returns the handle on it, which is destroyed
        if it cannot be started. Raises ImageMissing, or BuildError."""

    @abstractmethod
    def tail_step(self, step):
        """An iterator of the started step's output (stdout and stderr as they interleave) as raw
        bytes, ending when the step does."""

    @abstractmethod
    def wait_step(self, step):
        """Wait for the started step to end; returns its Exit."""

    @abstractmethod
    def stop_step(self, step):
        """Kill the running step, from any thread; it ends as killed steps do."""

    @abstractmethod
    def destroy_step(self, step):
        """Remove the step, running or not, started or only ahead; never raises."""

    @abstractmethod
    def destroy_build(self, build):
        """Tear down what `setup_build` made, once the build's steps are gone; never raises."""

    def start_ahead(self, build, step):
        """`step` of `build` (set up, with no services) made ready ahead of its turn, while the
        commit is still fetched, its command held until `start_step` is given it; None when this
        backend cannot (it is then started in its turn). Destroyed if it cannot be made."""
        return None

    def run_step(self, build, step, on_output, timeout=None, ahead=None, later=None):
        """Run `step` to its end, giving its output to `on_output` as it comes; returns its Exit.

        `ahead` is what `start_ahead` gave for it. The step is destroyed
        however this ends: at once, or, given `later` (a contextlib.ExitStack),
        when `later` closes, so a caller can report the exit before that.
        Past `timeout` seconds it is stopped and TimedOut raised.
        """
        running = self.start_step(build, step, ahead)
        if later is not None:
            later.callback(self.destroy_step, running)
        timer, expired = None, threading.Event()

        def expire():
            expired.set()
            self.stop_step(running)

        try:
            if timeout is not None:
                timer = threading.Timer(timeout, expire)
                timer.start()
            for chunk in self.tail_step(running):
                on_output(chunk)
            ended = self.wait_step(running)
            if expired.is_set():
                raise TimedOut(f"{step.image} ran longer than {timeout:g} s")
            return ended
        finally:
            if timer is not None:
                timer.cancel()
            if later is None:
                self.destroy_step(running)


def _docker(**settings):
    # Imported on first use: a web process never loads the docker SDK.
    from .docker import DockerBackend

    return DockerBackend(**settings)


# Every backend by its STOKER_BACKEND name: a function making it from its settings.
BACKENDS = {"docker": _docker}


def named(name, **settings):
    """The backend STOKER_BACKEND names, made with `settings` (STOKER_SERVICE_SUBNETS as
    `service_subnets`); ValueError naming those there are when there is no such backend."""
    if name not in BACKENDS:
        raise ValueError(f"STOKER_BACKEND must be one of {', '.join(BACKENDS)}, not {name!r}")
    return BACKENDS[name](**settings)
