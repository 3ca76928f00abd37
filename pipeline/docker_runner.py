"""Runs one build command in a fresh container with the workspace mounted, and removes it."""
import logging
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import docker
from docker.errors import APIError, DockerException, ImageNotFound
from requests.exceptions import ConnectionError as RequestsConnectionError, ReadTimeout, RequestException

log = logging.getLogger(__name__)

WORKDIR = "/workspace"
IMAGE_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}")


@dataclass(frozen=True)
class Sandbox:
    """What a build container may use: every capability dropped but `caps`, and hard limits."""

    network: str = "none"
    caps: tuple = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "SETGID", "SETUID")
    pids: int = 1024
    memory: str = "2g"
    cpus: float = 2.0

    def container_options(self):
        return {
            "network_mode": self.network,
            "cap_drop": ["ALL"],
            "cap_add": list(self.caps),
            "security_opt": ["no-new-privileges"],
            "pids_limit": self.pids,
            # Swap equal to memory: a build over its limit is killed, not slowed to a crawl.
            "mem_limit": self.memory,
            "memswap_limit": self.memory,
            "nano_cpus": int(self.cpus * 1e9),
        }


class BuildError(Exception):
    """A build could not run at all; the message says why, for the user."""


class Engine:
    """Whether this host's Docker engine answers, as a worker asks before it claims a job.

    Asked while the engine answers, it pings at most every `recheck` seconds;
    while it does not, at every ask. A change either way is logged once.
    """

    def __init__(self, recheck=2.0):
        self.recheck = recheck
        self.answers = None
        self.checked = float("-inf")
        self.lock = threading.Lock()
        self.client = None

    def answering(self):
        with self.lock:
            if self.answers and time.monotonic() - self.checked < self.recheck:
                return True
            try:
                self.client = self.client or docker.from_env(timeout=5)
                self.client.ping()
                answers, why = True, None
            except (DockerException, RequestException) as exc:
                answers, why, self.client = False, exc, None
            if answers is False and self.answers is not False:
                log.warning("the Docker engine does not answer (%s): claiming no builds until it does", why)
            elif answers and self.answers is False:
                log.warning("the Docker engine answers again: claiming builds")
            self.answers, self.checked = answers, time.monotonic()
            return answers


def connect():
    """Return a docker SDK client for the local engine, or raise BuildError."""
    try:
        return docker.from_env()
    except DockerException as exc:
        raise BuildError(f"the Docker engine is not reachable: {exc}") from None


def run_in_container(client, *, image, command, workspace, sandbox, labels, environment, on_output):
    """Run `sh -c command` in `image` with `workspace` at /workspace, confined by `sandbox`.

    Returns (exit code, whether the kernel killed it for going over its memory limit).
    The workspace is the only host path the container sees.

    Everything the command prints, stdout and stderr as they interleave, goes
    to `on_output` as raw bytes while it runs. The container is removed
    whatever happens, including when the wait is interrupted.
    """
    try:
        container = client.containers.create(
            image,
            # One pipe for both streams: Docker keeps stdout and stderr apart, and
            # lines written close together would otherwise reach the log swapped.
            ["sh", "-c", f"exec 2>&1; {command}"],
            working_dir=WORKDIR,
            volumes={str(workspace): {"bind": WORKDIR, "mode": "rw"}},
            labels=labels,
            environment=environment,
            # Stoker keeps the log itself; Docker's json-file copy would frame and
            # store every line again, which costs far more than the build's output.
            log_config={"type": "none"},
            **sandbox.container_options(),
        )
    except ImageNotFound:
        raise BuildError(
            f"image {image!r} is not on the Docker engine (make it with "
            f"'stoker make-image' or 'docker pull' it)"
        ) from None
    except APIError as exc:
        raise BuildError(f"the build container could not be created: {exc.explanation}") from None
    with _removed_afterwards(container, "build"):
        # Attached before it starts, so no output is missed; chunks come as the
        # process writes them, not line by line.
        output = container.attach(stdout=True, stderr=True, stream=True, logs=False)
        container.start()
        for chunk in output:
            on_output(chunk)
        exit_code = container.wait()["StatusCode"]
        container.reload()
        return exit_code, bool(container.attrs["State"].get("OOMKilled"))


@contextmanager
def _removed_afterwards(container, kind):
    """Remove the container however the block ends; an engine error inside is a BuildError."""
    try:
        yield
    except APIError as exc:
        raise BuildError(f"the {kind} container failed to run: {exc.explanation}") from None
    finally:
        try:
            container.remove(force=True)
        except DockerException:
            log.exception("could not remove %s container %s", kind, container.id)


class ToolTimeout(BuildError):
    """A tool container ran past its time and was killed."""


def run_tool(client, *, image, command, workspace, user, labels, timeout):
    """Run one of Stoker's own tool images on `workspace` (mounted at /work) and remove it.

    Tighter than a build: no network, no capabilities, a read-only root with a
    small /tmp, and an unprivileged `user`. Returns (exit code, output bytes);
    raises ImageNotFound, ToolTimeout or BuildError.
    """
    container = client.containers.create(
        image, command, working_dir="/work", user=user, labels=labels,
        volumes={str(workspace): {"bind": "/work", "mode": "rw"}},
        network_mode="none", cap_drop=["ALL"], security_opt=["no-new-privileges"],
        read_only=True, tmpfs={"/tmp": "size=64m"}, pids_limit=256,
        mem_limit="1g", memswap_limit="1g",
    )
    with _removed_afterwards(container, "tool"):
        container.start()
        try:
            exit_code = container.wait(timeout=timeout)["StatusCode"]
        except (ReadTimeout, RequestsConnectionError):
            raise ToolTimeout(f"{image} ran longer than {timeout:g} s") from None
        return exit_code, container.logs(stdout=True, stderr=True)


def kill_labelled(client, labels):
    """Kill every running container that carries all of `labels` (none, when no labels are given)."""
    if not labels:
        return
    filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
    # Sparse: not inspected one by one, so a container that ends meanwhile is no error.
    for container in client.containers.list(filters=filters, sparse=True):
        try:
            container.kill()
        except DockerException:
            pass  # it ended on its own meanwhile


def remove_orphans(client, hostname, is_alive):
    """Remove build containers left by worker processes on this host that are no longer alive.

    Worker names are `host:pid:index`; a container whose worker is on another
    host is that host's to clean up.
    """
    removed = []
    # Sparse: the list's own labels are enough, and a container removed between the list and
    # a look at it (another process's build ending) cannot stop the sweep.
    for container in client.containers.list(all=True, filters={"label": "stoker.worker"}, sparse=True):
        parts = (container.attrs.get("Labels") or {}).get("stoker.worker", "").split(":")
        if len(parts) < 3 or ":".join(parts[:-2]) != hostname or not parts[-2].isdecimal():
            continue
        if not is_alive(int(parts[-2])):
            try:
                container.remove(force=True)
                removed.append(container.id)
            except DockerException:
                pass
    return removed
