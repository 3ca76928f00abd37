"""Runs one build from start to end: fetch, export, run, clean up; knows nothing of the web side."""
import logging
import os
import random
import re
import secrets
import stat
import threading
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from ipaddress import ip_network
from pathlib import Path

from . import caches, workspaces
from .engine import BuildError, ContainerSpec, ImageMissing, NetworkTaken, registry_of
from .git import NO_ACCESS, Access, GitError, GitMirror, ObjectReader, mirror_path, without_credentials
from .graph import FAILED, IGNORED, SKIPPED, run_graph
from .images import PULLED_WITH_CREDENTIALS, OwnImages, PulledWithCredentials, is_own
from .plan import FILENAME, PlanError, Step, parse, run_variable_refused
from .when import Context

MAX_PLAN_BYTES = 256 * 1024
# A slice of 198.18.0.0/15, the range set aside for benchmarking: no real network here uses it,
# and Docker's own default pools (172.17.0.0/16 and on) are never touched.
SERVICE_SUBNETS = ("198.18.0.0/15",)
# How many mirrors keep a `git cat-file` process running for the builds of this runner.
MAX_READERS = 16
# After how many fetches into a mirror git looks at packing it again (see Runner._maintenance_due).
MAINTAIN_EVERY = 16
# Where the checkout is, inside a build's containers.
WORKDIR = "/workspace"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildJob:
    """What a worker needs to know to run one build."""

    build_id: int
    repo_url: str
    commit_hash: str
    branch: str
    image: str
    command: str
    timeout: float = 3600
    # Given to the build as environment variables; kept out of repr so they never reach a log line.
    secrets: dict = field(default_factory=dict, repr=False)
    # What started it, and the ref its commit is fetched by (refs/heads/..., refs/tags/..., refs/pull/<n>/head).
    event: str = "push"
    ref: str | None = None
    # A manual or scheduled run's own variables, given to the build under its secrets and Stoker's
    # own, and without those no run may set (see run_variable_refused).
    variables: dict = field(default_factory=dict)
    # For `when: path`: what a push's branch pointed at before it, a pull request's base branch,
    # and the project's default branch (a new branch's changes are those since it left it).
    before: str | None = None
    base_branch: str | None = None
    default_branch: str = "main"
    # How git reaches a private repository; never given to the build itself.
    access: Access = field(default=NO_ACCESS, repr=False)
    # Registry credentials by host ({"registry.example.com": (username, password)}), for pulls alone.
    registries: dict = field(default_factory=dict, repr=False)
    # The project's own network for its containers, in place of the sandbox's; None: the sandbox's.
    network: str | None = None
    # What it may do with the project's caches here (see pipeline/caches.py); None: nothing.
    cache: caches.CacheAccess | None = None

    def context(self, mirror):
        """What `when:` conditions are held against for this build."""
        if self.event == "pull_request":
            branch, base, since_fork = self.base_branch, f"refs/heads/{self.base_branch}", True
        elif self.event == "push":
            branch = self.branch
            if self.before:
                base, since_fork = self.before, False
            elif self.branch != self.default_branch:
                base, since_fork = f"refs/heads/{self.default_branch}", True
            else:
                # The default branch with nothing before it (a project's first build): no change to tell.
                base = None
        else:
            # A tag is of no branch; a manual or scheduled run changed nothing to hold paths against.
            branch, base = (None if self.event == "tag" else self.branch), None
        if base is None:
            return Context(self.event, branch)
        return Context(self.event, branch, lambda: mirror.changed_files(base, self.commit_hash, since_fork))

    def run_variables(self):
        """The run's variables that it may set."""
        return {name: value for name, value in self.variables.items() if not run_variable_refused(name)}

    def environment(self):
        """What every container of the build is told about it, besides the plan's env and the secrets."""
        ref = self.ref or f"refs/heads/{self.branch}"
        pull = ref.split("/")[2] if ref.startswith("refs/pull/") else ""
        return {
            "CI": "true",
            "STOKER": "true",
            "STOKER_BUILD_ID": str(self.build_id),
            "STOKER_COMMIT": self.commit_hash,
            "STOKER_BRANCH": self.branch,
            "STOKER_EVENT": self.event,
            "STOKER_REF": ref,
            "STOKER_TAG": ref[len("refs/tags/"):] if ref.startswith("refs/tags/") else "",
            "STOKER_PULL_REQUEST": pull,
        }


@dataclass(frozen=True)
class StepResult:
    """How one step ended; a step that never started has no exit code and no times."""

    position: int
    name: str
    exit_code: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    out_of_memory: bool = False
    # The matrix combination it ran for ({name: value}), if any.
    matrix: dict | None = None


@dataclass
class Outcome:
    """How a build ended: an exit code when the container ran, else an error."""

    exit_code: int | None = None
    error: str | None = None
    commit_message: str | None = None
    commit_author: str | None = None
    # Why `when:` left the whole build out, if it did.
    skipped: str | None = None


class Runner:
    """Runs build jobs with one data dir, container engine and sandbox."""

    def __init__(self, data_dir, *, sandbox, allow_local_repos, git_timeout, labels=None,
                 allow_private_hosts=False, engine=None, pull_registries=(), service_subnets=SERVICE_SUBNETS,
                 busybox=None, off_the_hub=None):
        # This host's Docker engine, unless told otherwise.
        if engine is None:
            from .docker_engine import DockerEngine

            engine = DockerEngine()
        self.engine = engine
        self.labels = dict(labels or {})
        self.sandbox = sandbox
        self.mirrors = Path(data_dir) / "mirrors"
        self.workspaces = Path(data_dir) / workspaces.BUILDS
        self.allow_local = allow_local_repos
        self.allow_private_hosts = allow_private_hosts
        self.git_timeout = git_timeout
        # How many fetches each mirror has had here, for _maintenance_due.
        self._fetches = Counter()
        # A long-lived `git cat-file` per mirror in use (see ObjectReader), at most MAX_READERS.
        self._readers = {}
        self._mirrors_lock = threading.Lock()
        # Repositories whose last build here had a .stoker.yml: their builds make no early container.
        self._repos_with_plans = set()
        # The registries images may be pulled from (host or host:port); empty: any.
        self.pull_registries = tuple(pull_registries)
        # Stoker's own build image, made here when a build needs it (from `busybox`, or one looked for).
        self.own_images = OwnImages(self.engine, data_dir, busybox)
        # Runs work that holds the CPU or the disk without yielding (reading a hostile pipeline file,
        # a cache archive of up to STOKER_CACHE_MAX_MB) where it cannot hold the process's other
        # green threads: function, *args -> its result.
        self.off_the_hub = off_the_hub or (lambda function, *args: function(*args))
        self.pulled_with_credentials = PulledWithCredentials(Path(data_dir) / PULLED_WITH_CREDENTIALS)
        # Where a build's own network (for its services) takes its /24 from.
        self.service_subnets = [slice_ for network in service_subnets
                                for slice_ in (ip_network(network).subnets(new_prefix=24)
                                               if ip_network(network).prefixlen < 24 else [ip_network(network)])]

    def mirror(self, url, access=NO_ACCESS):
        path = mirror_path(self.mirrors, url, access)
        with self._mirrors_lock:
            reader = self._readers.pop(path, None) or ObjectReader(path)
            # The most recently used last; the least recently used goes when there are too many.
            self._readers[path] = reader
            # A removed mirror's reader would hold its deleted packs open, and their disk space.
            for gone in [known for known in self._readers if known != path and not known.exists()]:
                self._readers.pop(gone).close()
            while len(self._readers) > MAX_READERS:
                self._readers.pop(next(iter(self._readers))).close()
        return GitMirror(self.mirrors, url, allow_local=self.allow_local, timeout=self.git_timeout,
                         allow_private_hosts=self.allow_private_hosts, access=access, reader=reader)

    def kill_containers(self, build_id=None):
        """Kill the build containers this runner started (of one build, if given); each run then ends."""
        only = {} if build_id is None else {"stoker.build": str(build_id)}
        self.engine.kill({**self.labels, **only})

    def run(self, job, on_output=None, halt=None, on_plan=None, on_step=None, on_step_output=None, later=None,
            masks=None):
        """Run `job` to its end and say how it ended; never raises for a failed build.

        Stoker's own account of each stage (lines starting `==>`) and the
        command's output go to `on_output` as bytes, in the order they happen.
        A `.stoker.yml` at the commit's root is given to `on_plan`, and its
        steps run as their graph says (see pipeline/graph.py), each reported
        to `on_step` as it ends or is skipped, and each one's own output also
        given to `on_step_output(name, raw)`. Steps that run side by side have
        each line of theirs in the combined output start with `[name] `. Once
        `halt` (a threading.Event) is set, no further container is started.

        The build's containers (all ended by then) and its workspace are
        removed before this returns, or, given `later` (a contextlib.ExitStack),
        when `later` closes: the caller may report the outcome first.

        `masks`, if given, makes a fresh mask (feed and flush raw bytes) for each stream that is cut
        into lines among others' (steps side by side, services), to mask it before it is cut.
        """
        output = on_output or (lambda raw: None)
        report_step = on_step or (lambda result, status: None)

        def say(line):
            output(f"==> {shown(line)}\n".encode())

        def lines_of(name):
            """Output for one stream among others': masked first, then cut into lines `[name] ...`."""
            return LinePrefixer(f"[{shown(name)}] ".encode(), output, masks() if masks else None)

        outcome = Outcome()
        images = Images(self.engine, self.pull_registries, job.registries, say, self.own_images,
                        self.pulled_with_credentials)
        with ExitStack() as own:
            cleanup = own if later is None else later
            workspace = cleanup.enter_context(workspaces.workspace(self.workspaces, f"build-{job.build_id}-"))
            early = self._early_container(job, workspace, cleanup, images)
            try:
                say(f"Fetching {job.commit_hash} from {without_credentials(job.repo_url)}")
                mirror = self.mirror(job.repo_url, job.access)
                if mirror.fetch(job.commit_hash, job.ref) and self._maintenance_due(mirror):
                    cleanup.callback(mirror.maintain)
                outcome.commit_message, outcome.commit_author = mirror.describe(job.commit_hash)
                mirror.export(job.commit_hash, workspace)
                say(f"Checked out {job.commit_hash[:12]} ({outcome.commit_message.splitlines()[0][:120]})"
                    if outcome.commit_message else f"Checked out {job.commit_hash[:12]}")
                plan = self.off_the_hub(read_plan, workspace)
                self._repos_with_plans.discard(job.repo_url)
                if plan is not None:
                    self._repos_with_plans.add(job.repo_url)
                    early.let_go()
                if plan is None:
                    image, env, steps = job.image, {}, [Step(None, (job.command,))]
                else:
                    context = job.context(mirror)
                    if plan.when is not None and (reason := plan.when.excludes(context)):
                        outcome.skipped = reason
                        say(f"Skipped: {reason}")
                        return outcome
                    image, env, steps = plan.image or job.image, plan.env, list(plan.steps)
                    say(f"Following {FILENAME}: {len(steps)} step(s) in {image}")
                    if on_plan:
                        on_plan(plan)
                if plan is None:
                    if halt is not None and halt.is_set():
                        raise BuildError("stopped before the build command started")
                    result = self._run_step(job, workspace, image, env, steps[0], 0, 1, say, output, images,
                                            ahead=early.take(), later=cleanup)
                    outcome.exit_code = result.exit_code
                    self._out_of_memory(result, outcome, say)
                else:
                    self._run_plan(job, workspace, image, env, plan, context, say, output, lines_of, report_step,
                                   on_step_output, halt, outcome, images, cleanup)
            except (GitError, PlanError, BuildError) as exc:
                outcome.error = f"checkout failed: {exc}" if isinstance(exc, GitError) else str(exc)
                say(outcome.error)
        return outcome

    def _maintenance_due(self, mirror):
        """Whether git should look at packing the mirror after this fetch: after the first and every
        MAINTAIN_EVERY-th after it. Looking costs a git process (about 10 ms of CPU), and packing is
        due only after thousands of objects."""
        with self._mirrors_lock:
            self._fetches[mirror.path] += 1
            return self._fetches[mirror.path] % MAINTAIN_EVERY == 1

    def _early_container(self, job, workspace, cleanup, images):
        """The build command's container, made and started, its command held at its gate, while
        the commit is fetched and checked out: the engine's part of the wait overlaps git's. Made
        only when the repository's last build here had no .stoker.yml, and let past its gate only
        if the commit has none either. Removed with the rest of the build."""
        early = EarlyContainer(self.engine)
        cleanup.callback(early.discard)
        if job.repo_url not in self._repos_with_plans:
            early.make(self._spec(job, workspace, job.image, {}, job.command, gated=True), images.ready_to_run)
        return early

    def _run_plan(self, job, workspace, image, env, plan, context, say, output, lines_of, report_step, on_step_output,
                  halt, outcome, images, cleanup):
        # A matrix is its steps once per combination, side by side, in one graph.
        plan = plan.expanded()
        needs = plan.needs()
        side_by_side = not plan.in_order()
        step_output = on_step_output or (lambda name, raw: None)

        def run_step(position, step):
            own = (lambda raw: step_output(step.name, raw))
            if side_by_side:
                lines = lines_of(step.name)
                shown = (lambda raw: (lines.feed(raw), own(raw)))
            else:
                lines, shown = None, (lambda raw: (output(raw), own(raw)))
            try:
                variables = {**env, **dict(step.matrix), **dict(step.environment)}
                return self._run_step(job, workspace, step.image or image, variables, step,
                                      position, len(plan.steps), say, shown, images, later=steps_later, **placed)
            finally:
                if lines is not None:
                    lines.flush()

        def skip_reason(step):
            return step.when.excludes(context) if step.when is not None else None

        def on_end(position, step, ended):
            if ended.state == SKIPPED:
                say(f"Step {step.name} skipped: {ended.reason}")
            elif ended.state == IGNORED:
                say(f"Step {step.name} failed, and its failure is ignored")
            if ended.result is not None:
                self._out_of_memory(ended.result, outcome, say)
            result = ended.result or StepResult(position, step.name)
            # A step whose failure is ignored still failed, as its own status says.
            report_step(replace(result, matrix=dict(step.matrix)) if step.matrix else result,
                        ended.state if ended.state != IGNORED else FAILED)

        if plan.cache:
            self._restore_cache(job, workspace, plan.cache, say)
        # The build's own network can go only once no container is on it: with services, each step's
        # container goes as the step ends.
        steps_later = cleanup if not plan.services else None
        with self._services(job, workspace, image, env, plan.services, say, lines_of, images) as (network, hosts):
            placed = {"network": network, "hosts": hosts}
            ended, outcome.exit_code, problem = run_graph(plan.steps, needs, run_step, skip_reason=skip_reason,
                                                           on_end=on_end, halt=halt)
        if problem is not None:
            raise problem
        if halt is not None and halt.is_set() and len(ended) < len(plan.steps):
            first = next(step for step in plan.steps if step.name not in ended)
            for position, step in enumerate(plan.steps):
                if step.name not in ended:
                    report_step(StepResult(position, step.name), SKIPPED)
            raise BuildError("stopped before the build command started" if not ended
                             else f"stopped before step {first.name!r}")
        if outcome.exit_code is None:
            outcome.exit_code = 0
        if plan.cache and outcome.exit_code == 0 and job.cache is not None and job.cache.write:
            try:
                size = self.off_the_hub(caches.save, job.cache, workspace, plan.cache)
                say(f"Saved the cache of {job.cache.branch} ({size / 2**20:.1f} MB)")
            except (caches.CacheError, OSError) as exc:
                say(f"Cache not saved: {exc}")

    def _restore_cache(self, job, workspace, paths, say):
        if job.cache is None:
            say("No cache: a fork's pull request neither reads nor writes one")
            return
        try:
            restored = self.off_the_hub(caches.restore, job.cache, workspace, paths)
        except caches.CacheError as exc:
            say(f"Cache not restored: {exc}")
            return
        say(f"Restored the cache of {restored}" if restored else "No cache yet")

    @contextmanager
    def _services(self, job, workspace, image, env, services, say, lines_of, images):
        """The build's own network with its services running on it, as (network, {name: address})
        for the steps; (None, {}) without services. However the build ends, the services are
        removed, then the network."""
        if not services:
            yield None, {}
            return
        labels = {**self.labels, "stoker.build": str(job.build_id)}
        network, subnet = self._make_network(job, labels)
        hosts = {service.name: str(subnet.network_address + 10 + i) for i, service in enumerate(services)}
        started, pumps = [], []
        try:
            for service in services:
                service_image = service.image or image
                service_image_id = images.ensure(service_image, "if-missing")
                script = service.script()
                handle = self.engine.prepare(ContainerSpec(
                    image=service_image_id, command=("sh", "-c", f"exec 2>&1; {script}") if script else (),
                    workspace=workspace, workdir=WORKDIR, sandbox=self.sandbox,
                    labels={**labels, "stoker.service": service.name},
                    environment={**env, **service.environment, **job.run_variables(), **job.environment()},
                    network=network, address=hosts[service.name], hosts=hosts))
                started.append(handle)
                lines = lines_of(service.name)
                pump = threading.Thread(target=_pump, args=(self.engine.stream(handle), lines), daemon=True,
                                        name=f"service-{service.name}")
                pump.start()
                pumps.append(pump)
                self.engine.start(handle)
                say(f"Service {service.name} started ({service_image}), reached as {service.name}")
            yield network, hosts
        finally:
            for handle in started:
                self.engine.remove(handle)
            for pump in pumps:
                pump.join(timeout=10)
            self.engine.remove_network(network)

    def _make_network(self, job, labels):
        for _ in range(20):
            subnet = random.choice(self.service_subnets)
            name = f"stoker-build-{job.build_id}-{secrets.token_hex(3)}"
            try:
                self.engine.create_network(name, subnet, labels)
                return name, subnet
            except NetworkTaken:
                continue
        raise BuildError("no subnet for the build's own network is free among STOKER_SERVICE_SUBNETS")

    def _out_of_memory(self, result, outcome, say):
        if result.out_of_memory and outcome.error is None:
            outcome.error = f"the build ran out of memory (limit {self.sandbox.memory})"
            say(outcome.error)

    def _spec(self, job, workspace, image, env, command, network=None, hosts=None, gated=False, secret_names=None):
        """The container for a command, given the job's secrets named in `secret_names` (None: all)."""
        given = job.secrets if secret_names is None else {
            name: value for name, value in job.secrets.items() if name in secret_names}
        return ContainerSpec(
            image=image,
            # One pipe for both streams: the engine may keep stdout and stderr apart, and
            # lines written close together would otherwise reach the log swapped.
            command=("sh", "-c", f"exec 2>&1; {command}"),
            gated=gated,
            workspace=workspace,
            workdir=WORKDIR,
            sandbox=self.sandbox,
            labels={**self.labels, "stoker.build": str(job.build_id)},
            environment={**env, **job.run_variables(), **given, **job.environment()},
            network=network or job.network,
            hosts=hosts or {},
        )

    def _run_step(self, job, workspace, image, env, step, position, count, say, output, images, network=None,
                  hosts=None, ahead=None, later=None):
        """Run one step (or, with no plan, the build command) in its own container, on the build's own
        network (reaching its services by `hosts`) if it has one; `ahead`: its container, started
        ahead of its turn (see EarlyContainer)."""
        image_id = images.ensure(image, step.pull) if ahead is None else image
        if step.name is None:
            say(f"Running in {image}: {job.command}")
            command = job.command
        else:
            say(f"Step {position + 1}/{count}: {step.name}")
            command = step.script()
        started, clock = utcnow(), time.monotonic()
        spec = self._spec(job, workspace, image_id, env, command, network, hosts, gated=ahead is not None,
                          secret_names=step.secrets)
        guarded = NoOwnLines(output)
        try:
            ended = self.engine.run(spec, guarded, ahead=ahead, later=later)
        except ImageMissing:
            raise BuildError(f"image {image!r} is not on the Docker engine (make it with "
                             f"'stoker make-image' or 'docker pull' it)") from None
        finally:
            guarded.flush()
        exit_code = ended.code
        seconds = time.monotonic() - clock
        if step.name is None:
            say(f"Exited with code {exit_code} after {seconds:.1f} s")
        else:
            verdict = "passed" if exit_code == 0 else f"failed with code {exit_code}"
            say(f"Step {step.name} {verdict} after {seconds:.1f} s")
        return StepResult(position, step.name, exit_code, started, utcnow(), ended.out_of_memory)


class EarlyContainer:
    """A gated container started on a thread of its own ahead of its turn (ContainerEngine.ahead);
    `take` it to run it, or `discard` it. Starting it is a guess: when it fails, it is as if it had
    not been tried."""

    def __init__(self, engine):
        self.engine, self.thread, self.ahead, self.taken = engine, None, None, False
        self.letting_go = None
        self.lock = threading.Lock()

    def make(self, spec, ready_to_run):
        """Make it from the image's id, if `ready_to_run` gives one: an image that must be pulled or
        checked first is the build's own path to pull, or to fail on, in its own words."""
        self.thread = threading.Thread(target=self._make, args=(spec, ready_to_run), daemon=True,
                                       name="early-container")
        self.thread.start()

    def _make(self, spec, ready_to_run):
        try:
            image_id = ready_to_run(spec.image)
            if image_id is None:
                return
            self.ahead = self.engine.ahead(replace(spec, image=image_id))
        except Exception as exc:
            log.info("no early container (%s): made when its turn comes", exc)

    def take(self):
        """What `ahead` gave, now the taker's to remove; None when there is none."""
        if self.thread is not None:
            self.thread.join()
        self.taken = True
        return self.ahead

    def discard(self):
        """Remove it unless it was taken (its command never ran), once it is made; then it is gone."""
        if self.thread is not None:
            self.thread.join()
        with self.lock:
            ahead = None if self.taken else self.ahead
            if ahead is not None:
                self.ahead = None
        if ahead is not None:
            ahead.gate.close()
            self.engine.remove(ahead.handle)
        if self.letting_go is not None and self.letting_go is not threading.current_thread():
            self.letting_go.join()

    def let_go(self):
        """`discard` it on a thread of its own: the build goes on without waiting for it to be made."""
        self.letting_go = threading.Thread(target=self.discard, daemon=True, name="early-container-gone")
        self.letting_go.start()


def _pump(chunks, lines):
    """Give a service's output to the log, line by line, until it ends or is removed."""
    try:
        for chunk in chunks:
            lines.feed(chunk)
    except BuildError:
        pass
    lines.flush()


class Images:
    """The images one build runs, each made present once: pulled as its step's policy says, from a
    registry this server pulls from, with the project's credentials for that registry; Stoker's own
    image made by `own` instead, whatever the policy. An image a registry gave only for credentials
    (`pulled`) is pulled again, whatever the policy, before this build runs it: it runs only if the
    registry gives it to this build too.

    `ensure` answers with the image's id, which the build's container is made from: a name could
    be given to another image (pulled by another build) between the check and the container.
    """

    def __init__(self, engine, allowed, credentials, say, own, pulled):
        self.engine, self.allowed, self.credentials, self.say = engine, allowed, credentials, say
        self.own, self.pulled = own, pulled
        self.ready = {}
        self.lock = threading.Lock()

    def ensure(self, image, policy):
        with self.lock:
            if image not in self.ready:
                self.ready[image] = self._ensure(image, policy)
            return self.ready[image]

    def ready_to_run(self, image):
        """The id of `image` if this build may run it with no pull and no check (for a container
        made ahead of its turn), else None."""
        if is_own(image):
            return self.engine.image_id(image)
        with self.pulled.looking():
            present = self.engine.image_id(image)
            return present if present and self.pulled.registry(present) is None else None

    def _ensure(self, image, policy):
        if is_own(image):
            present = self.engine.image_id(image)
            if present is None:
                self.own.make(image, self.say)
                present = self.engine.image_id(image)
            return present or image
        with self.pulled.looking():
            present = self.engine.image_id(image)
            guarded = present is not None and self.pulled.registry(present) is not None
        if not guarded and (policy == "never" or (present and policy == "if-missing")):
            return present or image
        host = registry_of(image)
        if self.allowed and host not in self.allowed and host.partition(":")[0] not in self.allowed:
            if present and not guarded:
                return present
            raise BuildError(f"image {image!r} is not on the Docker engine, and this server pulls only from "
                             f"{', '.join(self.allowed)}")
        credentials = self.credentials.get(host)
        self.say(f"Pulling {image} from {host}" + (f" as {credentials[0]}" if credentials else ""))
        with self.pulled.pulling():
            try:
                self.engine.pull(image, credentials, lambda line: self.say(f"{image}: {line}"))
            except BuildError as exc:
                raise BuildError(f"pulling {image} from {host} failed: {exc}") from None
            pulled = self.engine.image_id(image)
            if pulled is None:
                raise BuildError(f"image {image!r} was pulled and is gone from the Docker engine")
            self.pulled.record(pulled, host if credentials else None)
        return pulled


class NoOwnLines:
    """Passes a container's output on with a backslash before any line of it that starts as
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


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def read_plan(workspace):
    """The commit's .stoker.yml as a Plan, None when it has none; PlanError when it is not usable."""
    path = Path(workspace) / FILENAME
    try:
        # A repository may commit the file as a link to a host file; it is never followed.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError:
        raise PlanError(f"{FILENAME} must be a regular file, not a link") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise PlanError(f"{FILENAME} must be a regular file")
        data = f.read(MAX_PLAN_BYTES + 1)
    if len(data) > MAX_PLAN_BYTES:
        raise PlanError(f"{FILENAME} is larger than {MAX_PLAN_BYTES // 1024} KB")
    try:
        return parse(data.decode())
    except UnicodeDecodeError:
        raise PlanError(f"{FILENAME} is not UTF-8 text") from None
