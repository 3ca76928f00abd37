"""This host's Docker engine, through the docker SDK: the container primitives of containers.py."""
import io
import logging
import secrets
import tarfile
import threading
import time
from contextlib import contextmanager
from dataclasses import replace

import docker
from docker.errors import APIError, DockerException, ImageNotFound
from docker.models.containers import _create_container_args
from docker.utils import parse_repository_tag
from docker.utils.socket import frames_iter
from requests.exceptions import RequestException

from .. import BuildError, Exit, ImageMissing
from .containers import GATED_SCRIPT, Ahead, NetworkTaken

log = logging.getLogger(__name__)

# Which kind of container it is ("build", "tool"), for messages about it.
KIND_LABEL = "stoker.kind"


def sandbox_options(sandbox):
    options = {
        "network_mode": sandbox.network,
        "cap_drop": ["ALL"],
        "cap_add": list(sandbox.caps),
        "security_opt": ["no-new-privileges"],
        "pids_limit": sandbox.pids,
        # Swap equal to memory: a container over its limit is killed, not slowed to a crawl.
        "mem_limit": sandbox.memory,
        "memswap_limit": sandbox.memory,
    }
    if sandbox.cpus is not None:
        options["nano_cpus"] = int(sandbox.cpus * 1e9)
    if sandbox.user is not None:
        options["user"] = sandbox.user
    if sandbox.read_only:
        options.update(read_only=True, tmpfs={"/tmp": "size=64m"})
    if sandbox.seccomp is not None:
        options["security_opt"] = [*options["security_opt"], f"seccomp={sandbox.seccomp}"]
    return options


def _kind(container):
    return (container.attrs.get("Config", {}).get("Labels") or {}).get(KIND_LABEL, "build")


class DockerEngine:
    """This host's Docker engine. One per process: its workers share it, and its client.

    Asked whether it answers while it does, it pings at most every `recheck`
    seconds; while it does not, at every ask. A change either way is logged once.
    """

    def __init__(self, recheck=2.0):
        self.recheck = recheck
        self.answers = None
        self.checked = float("-inf")
        self.lock = threading.Lock()
        self._client = None
        # Its own client with a short timeout: a ping must not wait as long as a build may.
        self._pinger = None

    def client(self):
        """The docker SDK client, made on first use; BuildError when the engine is not reachable."""
        if self._client is None:
            try:
                self._client = docker.from_env()
            except DockerException as exc:
                raise BuildError(f"the Docker engine is not reachable: {exc}") from None
        return self._client

    def is_local(self):
        """Whether the engine is this host's own, through its unix socket (not DOCKER_HOST=tcp://...)."""
        return self.client().api.base_url.startswith("http+docker://")

    def answering(self):
        with self.lock:
            if self.answers and time.monotonic() - self.checked < self.recheck:
                return True
            try:
                self._pinger = self._pinger or docker.from_env(timeout=5)
                self._pinger.ping()
                answers, why = True, None
            except (DockerException, RequestException) as exc:
                answers, why, self._pinger = False, exc, None
            if answers is False and self.answers is not False:
                log.warning("the Docker engine does not answer (%s): claiming no builds until it does", why)
            elif answers and self.answers is False:
                log.warning("the Docker engine answers again: claiming builds")
            self.answers, self.checked = answers, time.monotonic()
            return answers

    def image_id(self, image):
        try:
            return self.client().images.get(image).id
        except ImageNotFound:
            return None
        except DockerException as exc:
            raise BuildError(str(exc)) from None

    def pull(self, image, credentials, on_line):
        repository, tag = parse_repository_tag(image)
        # Never None: the SDK would then send whatever this host's user logged in to the registry with.
        auth = {"username": credentials[0], "password": credentials[1]} if credentials else {}
        said = set()
        with _as_build_error():
            for event in self.client().api.pull(repository, tag=tag or "latest", stream=True, decode=True,
                                                auth_config=auth):
                if "error" in event:
                    raise BuildError(event["error"])
                line = " ".join(part for part in (event.get("id"), event.get("status")) if part)
                # Progress bars repeat a line per chunk; each layer's steps are said once.
                if line and event.get("status") not in ("Downloading", "Extracting") and line not in said:
                    said.add(line)
                    on_line(line)

    def import_image(self, image, rootfs):
        repository, tag = parse_repository_tag(image)
        with _as_build_error():
            self.client().api.import_image_from_data(rootfs, repository=repository, tag=tag or "latest")

    def create_network(self, name, subnet, labels, way_out=False):
        """Create a network of `subnet` (an IPv4 network) that only its containers reach: no route
        out, none to the host or to other networks; with `way_out`, routed out through the host.
        NetworkTaken if the subnet is in use."""
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=str(subnet))])
        # Without a way out: internal, and no address for the host's bridge: with the engine's
        # iptables off, the host would otherwise route between networks and to itself (checked here).
        # With one, the host is its gateway, and its packet filter (firewall.py) what keeps it apart.
        options = {} if way_out else {"com.docker.network.bridge.inhibit_ipv4": "true"}
        try:
            self.client().networks.create(name, driver="bridge", internal=not way_out, ipam=ipam, labels=labels,
                                          options=options)
        except APIError as exc:
            if "overlaps" in str(exc.explanation):
                raise NetworkTaken(str(exc.explanation)) from None
            raise BuildError(f"the build's network could not be made: {exc.explanation}") from None
        except (DockerException, RequestException) as exc:
            raise BuildError(f"the build's network could not be made: {exc}") from None

    def remove_network(self, name):
        """Remove the network; never raises."""
        try:
            self.client().networks.get(name).remove()
        except DockerException:
            log.exception("could not remove network %s", name)

    def prepare(self, spec):
        """Create the container for `spec`, not yet started; returns the engine's handle on it.
        Raises ImageMissing, or BuildError."""
        options = sandbox_options(spec.sandbox)
        if spec.network is not None:
            options.pop("network_mode")
            options["network"] = spec.network
            if spec.address is not None:
                options["networking_config"] = {
                    spec.network: self.client().api.create_endpoint_config(ipv4_address=spec.address)}
        labels = {**spec.labels, KIND_LABEL: spec.kind}
        try:
            # The SDK's containers.create() would inspect the new container as well: a second call
            # to the engine on every build's way to its start, for nothing this handle needs.
            made = self.client().api.create_container(**_create_container_args(dict(
                image=spec.image,
                command=list(spec.command) or None,
                # Set, it replaces the image's entrypoint, and the image's command with it.
                entrypoint=list(spec.entrypoint) if spec.entrypoint is not None else None,
                version=self.client().api._version,
                working_dir=spec.workdir,
                volumes={str(spec.workspace): {"bind": spec.workdir, "mode": "rw"}},
                labels=labels,
                environment=spec.environment,
                extra_hosts=dict(spec.hosts) or None,
                # Stoker keeps the output itself; Docker's json-file copy would frame and
                # store every line again, which costs far more than the build's output.
                log_config={"type": "none"},
                # A gated container's command waits for its gate on standard input (see _Gate).
                stdin_open=spec.gated,
                **options,
            )))
            # What an inspect would say of it, as far as this engine asks.
            return self.client().containers.prepare_model(
                {"Id": made["Id"], "Config": {"Labels": labels}})
        except ImageNotFound:
            raise ImageMissing(f"image {spec.image!r} is not on the Docker engine") from None
        except APIError as exc:
            raise BuildError(f"the {spec.kind} container could not be created: {exc.explanation}") from None
        except (DockerException, RequestException) as exc:
            raise BuildError(f"the {spec.kind} container could not be created: {exc}") from None

    def read_file(self, image, path, limit=1 << 20):
        """The bytes of the regular file at `path` in `image`, at most `limit` of them; BuildError
        when it cannot be read."""
        with _as_build_error("tool"):
            made = self.client().api.create_container(image=image, command=["/"], labels={KIND_LABEL: "tool"},
                                                      network_disabled=True)
            try:
                chunks, _ = self.client().api.get_archive(made["Id"], path)
                archive = io.BytesIO()
                for chunk in chunks:
                    archive.write(chunk)
                    if archive.tell() > limit + 4096:
                        raise BuildError(f"{path} in {image} is larger than {limit} bytes")
                archive.seek(0)
                with tarfile.open(fileobj=archive) as tar:
                    member = tar.next()
                    if member is None or not member.isfile():
                        raise BuildError(f"{path} in {image} is not a regular file")
                    return tar.extractfile(member).read()
            finally:
                self.client().api.remove_container(made["Id"], force=True)

    def stream(self, handle):
        """An iterator of the container's output (stdout and stderr as they interleave) as raw
        bytes, ending when the container does; taken before start, so nothing is missed."""
        kind = _kind(handle)
        with _as_build_error(kind):
            # Chunks come as the process writes them, not line by line.
            return _streamed(handle.attach(stdout=True, stderr=True, stream=True, logs=False), kind)

    def start(self, handle):
        """Start the prepared container."""
        with _as_build_error(_kind(handle)):
            handle.start()

    def start_gated(self, handle):
        """Take the output of a prepared gated container and start it: (output, gate), the output as
        `stream` gives it; the gate's `open()` lets its command run, `close()` (always called, after
        `open()` too) lets go of it and of the output. Raises BuildError."""
        kind = _kind(handle)
        with _as_build_error(kind):
            # One connection both ways: the gate's word goes in where the output comes out.
            connection = self.client().api.attach_socket(
                handle.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        gate = _Gate(connection)
        try:
            self.start(handle)
        except BaseException:
            gate.close()
            raise
        return _streamed((data for _, data in frames_iter(connection, tty=False)), kind), gate

    def wait(self, handle):
        """Wait for the container to end; returns its Exit."""
        with _as_build_error(_kind(handle)):
            code = handle.wait()["StatusCode"]
            if code == 0:
                # Whatever the kernel killed inside it, it passed: no second call to ask.
                return Exit(code)
            handle.reload()
        return Exit(code, bool(handle.attrs["State"].get("OOMKilled")))

    def kill(self, labels):
        if not labels or self._client is None:
            return
        filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
        # Sparse: not inspected one by one, so a container that ends meanwhile is no error.
        for container in self._client.containers.list(filters=filters, sparse=True):
            try:
                container.kill()
            except DockerException:
                pass  # it ended on its own meanwhile

    def remove(self, handle):
        """Remove the container, running or not; never raises."""
        try:
            handle.remove(force=True)
        except DockerException:
            log.exception("could not remove %s container %s", _kind(handle), handle.id)

    def remove_orphans(self, hostname, is_alive):
        """Worker names are `host:pid:index`; a container whose worker is on another host is that
        host's to clean up."""
        removed = []
        # Sparse: the list's own labels are enough, and a container removed between the list and
        # a look at it (another process's build ending) cannot stop the sweep.
        for container in self.client().containers.list(all=True, filters={"label": "stoker.worker"}, sparse=True):
            parts = (container.attrs.get("Labels") or {}).get("stoker.worker", "").split(":")
            if len(parts) < 3 or ":".join(parts[:-2]) != hostname or not parts[-2].isdecimal():
                continue
            if not is_alive(int(parts[-2])):
                try:
                    container.remove(force=True)
                    removed.append(container.id)
                except DockerException:
                    pass
        # Then the networks of their builds' services, which the removed containers were on.
        for network in self.client().networks.list(filters={"label": "stoker.worker"}):
            parts = (network.attrs.get("Labels") or {}).get("stoker.worker", "").split(":")
            if (len(parts) >= 3 and ":".join(parts[:-2]) == hostname and parts[-2].isdecimal()
                    and not is_alive(int(parts[-2]))):
                try:
                    network.remove()
                    removed.append(network.id)
                except DockerException:
                    pass
        return removed

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


class _Gate:
    """A gated container's connection, attached before it started: `go` on it lets its command run.
    Closing it ends the container's output too."""

    def __init__(self, attached):
        self.attached = attached
        self.socket = getattr(attached, "_sock", attached)

    def open(self):
        try:
            self.socket.sendall(b"go\n")
        except OSError as exc:
            self.close()
            raise BuildError(f"the build container failed to run: {exc}") from None

    def close(self):
        try:
            self.attached.close()
            self.socket.close()
        except OSError:
            pass


@contextmanager
def _as_build_error(kind=None):
    """An engine error while a container of `kind` runs (or, with no kind, while the engine pulls)
    is its job's error, said plainly."""
    said = f"the {kind} container failed to run: " if kind else ""
    try:
        yield
    except APIError as exc:
        raise BuildError(f"{said}{exc.explanation or exc}") from None
    except (DockerException, RequestException) as exc:
        raise BuildError(f"{said}{exc}") from None


def _streamed(chunks, kind):
    with _as_build_error(kind):
        yield from chunks
