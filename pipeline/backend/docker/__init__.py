"""The Docker backend: a build's steps as containers on this host's Docker engine.

A step is a container with the build's workspace mounted at WORKDIR, in the
build's sandbox; a build with services has a network of its own, a /24 from
the service subnets, each service at an address of it that every container of
the build resolves its name to. A step started ahead of its turn is a gated
container (see containers.py).
"""
import json
import random
import secrets
from dataclasses import dataclass, field, replace
from ipaddress import ip_network

from ... import imagebuilder
from .. import Backend, BuildError, BuildSpec, Exit, ImageMissing
from . import firewall
from .containers import ContainerSpec, ExitLine, NetworkTaken
from .engine import DockerEngine

# A slice of 198.18.0.0/15, the range set aside for benchmarking: no real network here uses it,
# and Docker's own default pools (172.17.0.0/16 and on) are never touched.
SERVICE_SUBNETS = ("198.18.0.0/15",)
# Where the workspace is, inside a build's containers, unless the build says.
WORKDIR = "/workspace"
# What runs a step's script, unless the step names its own shell.
SHELL = ("sh", "-c")


@dataclass(frozen=True)
class _Build:
    """A set-up build: its spec, the network its containers are on, and its services' addresses."""

    spec: BuildSpec
    network: str | None = None
    hosts: dict = field(default_factory=dict)
    # Whether the network is the build's own, made for it and removed with it.
    own_network: bool = False


class _Step:
    """A step's container: its handle and output, and, started ahead, its gate and exit line."""

    def __init__(self, handle, output, labels, gate=None, exit_line=None):
        self.handle, self.output, self.labels = handle, output, labels
        self.gate, self.exit_line = gate, exit_line
        # The exit its exit line said, once it has.
        self.code = None


class DockerBackend(Backend):
    """Builds on this host's Docker engine, one per process; `engine`: a DockerEngine of its own."""

    def __init__(self, service_subnets=SERVICE_SUBNETS, engine=None):
        self.engine = engine or DockerEngine()
        self.service_networks = tuple(str(ip_network(network)) for network in service_subnets)
        # Where a build's own network (for its services) takes its /24 from.
        self.service_subnets = [slice_ for network in service_subnets
                                for slice_ in (ip_network(network).subnets(new_prefix=24)
                                               if ip_network(network).prefixlen < 24 else [ip_network(network)])]
        # The seccomp profile each image builder (by image id) carries, read once.
        self.profiles = {}

    def answering(self):
        return self.engine.answering()

    def kill(self, labels):
        self.engine.kill(labels)

    def remove_orphans(self, hostname, is_alive):
        return self.engine.remove_orphans(hostname, is_alive)

    def image_id(self, image):
        return self.engine.image_id(image)

    def pull(self, image, credentials, on_line):
        self.engine.pull(image, credentials, on_line)

    def import_image(self, image, rootfs):
        self.engine.import_image(image, rootfs)

    def guard(self, denied):
        if not self.engine.is_local():
            raise BuildError("the Docker engine is on another host: its builds' way out is that host's "
                             "packet filter to guard, not this one's")
        try:
            firewall.apply(firewall.Rules(self.service_networks, firewall.denied_networks(denied)))
        except firewall.FirewallUnavailable as exc:
            raise BuildError(str(exc)) from None

    def guarded(self):
        return self.engine.is_local() and firewall.in_place()

    def setup_build(self, spec):
        if not spec.services and not spec.egress:
            return _Build(spec, spec.network)
        network, subnet = self._make_network(spec)
        hosts = {name: str(subnet.network_address + 10 + i) for i, name in enumerate(spec.services)}
        return _Build(spec, network, hosts, own_network=True)

    def destroy_build(self, build):
        if build.own_network:
            self.engine.remove_network(build.network)

    def start_ahead(self, build, step):
        container = self._container(build, step, gated=True)
        ahead = self.engine.ahead(container)
        return _Step(ahead.handle, ahead.output, container.labels, ahead.gate, ExitLine(ahead.report))

    def start_step(self, build, step, ahead=None):
        if ahead is not None:
            try:
                ahead.gate.open()
            except BaseException:
                self.destroy_step(ahead)
                raise
            return ahead
        container = self._container(build, step)
        try:
            handle, output = self.engine.attach(container)
        except ImageMissing:
            if build.spec.kind != "build":
                raise
            raise ImageMissing(f"image {step.image!r} is not on the Docker engine (make it with "
                               f"'stoker make-image' or 'docker pull' it)") from None
        try:
            self.engine.start(handle)
        except BaseException:
            self.engine.remove(handle)
            raise
        return _Step(handle, output, container.labels)

    def tail_step(self, step):
        return step.output if step.exit_line is None else self._until_exit_line(step)

    def _until_exit_line(self, step):
        """A gated container's output up to its exit line, which says how its script ended: as
        soon as it says 0, the step has ended, whatever its background still does."""
        try:
            for chunk in step.output:
                shown, step.code = step.exit_line.feed(chunk)
                if shown:
                    yield shown
                if step.code is not None:
                    break  # whether the kernel killed it for its memory, the engine says
            if step.exit_line.held:
                yield step.exit_line.held
        finally:
            step.gate.close()

    def wait_step(self, step):
        if step.code == 0:
            return Exit(0)
        return self.engine.wait(step.handle)

    def stop_step(self, step):
        self.engine.kill(step.labels)

    def destroy_step(self, step):
        if step.gate is not None:
            step.gate.close()
        self.engine.remove(step.handle)

    def _container(self, build, step, gated=False):
        spec = build.spec
        labels = {**spec.labels, **({"stoker.service": step.service} if step.service else {})}
        workdir = spec.workdir or WORKDIR
        if step.script is not None:
            # The shell as the entrypoint: an image's own (terraform, a plugin's) would run it otherwise.
            # One pipe for both streams: the engine may keep stdout and stderr apart, and lines
            # written close together would otherwise reach the log swapped.
            entrypoint, command = step.entrypoint or SHELL, (f"exec 2>&1; {step.script}",)
        else:
            entrypoint, command = step.entrypoint, tuple(step.command)
        sandbox = spec.sandbox
        if step.namespaces:
            sandbox = replace(sandbox, caps=(*sandbox.caps, *imagebuilder.CAPS),
                              seccomp=self._profile(step.image_id or step.image))
        return ContainerSpec(
            image=step.image_id or step.image,
            entrypoint=entrypoint,
            command=command,
            gated=gated,
            workspace=spec.workspace,
            workdir=workdir,
            sandbox=sandbox,
            labels=labels,
            environment={**step.environment, "CI_WORKSPACE": workdir},
            kind=spec.kind,
            network=build.network,
            address=build.hosts.get(step.service),
            hosts=build.hosts,
        )

    def _profile(self, image):
        """The seccomp profile the image builder `image` carries (see pipeline/imagebuilder)."""
        if image not in self.profiles:
            profile = self.engine.read_file(image, imagebuilder.PROFILE)
            try:
                self.profiles[image] = json.dumps(json.loads(profile), separators=(",", ":"))
            except ValueError:
                raise BuildError(f"{imagebuilder.PROFILE} in {image} is no seccomp profile") from None
        return self.profiles[image]

    def _make_network(self, spec):
        for _ in range(20):
            subnet = random.choice(self.service_subnets)
            name = f"stoker-{spec.name}-{secrets.token_hex(3)}"
            try:
                self.engine.create_network(name, subnet, spec.labels, way_out=spec.egress)
                return name, subnet
            except NetworkTaken:
                continue
        raise BuildError("no subnet for the build's own network is free among STOKER_SERVICE_SUBNETS")
