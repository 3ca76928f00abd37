"""Runs one build from start to end: fetch, check out, run, clean up; knows nothing of the web side."""
import logging
import re
import threading
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Callable

from . import artifacts, caches, imagebuilder, plugins, workspaces
from .backend import BuildError, BuildSpec, StepSpec
from .clock import utcnow
from .early import EarlyStep
from .git import GitError
from .git.checkout import REGULAR, Clone, Head, check_out
from .git.command import NO_ACCESS, Access
from .git.inputs import pull_number, without_credentials
from .git.mirror import DEFAULT_LFS_MAX_BYTES, GitMirror, ObjectReader, mirror_path
from .graph import FAILED, IGNORED, SKIPPED, run_graph
from .imagebuilder import is_image_builder
from .images import PULLED_WITH_CREDENTIALS, OwnImages, PulledWithCredentials
from .lines import LinePrefixer, NoOwnLines, shown
from .masks import SecretMask
from .plan import FILENAME, IMAGE_BUILDER_ALONE, PlanError, Step, parse, run_variable_refused
from .pulls import Images
from .services import services_running
from .when import Context
from .words import Event

MAX_PLAN_BYTES = 256 * 1024
# How many mirrors keep a `git cat-file` process running for the builds of this runner.
MAX_READERS = 16
# After how many fetches into a mirror git looks at packing it again (see Runner._maintenance_due).
MAINTAIN_EVERY = 16
# What names a credential (Access.fingerprint), as the server sends it: it goes into a mirror's path.
FINGERPRINT = re.compile(r"[0-9a-f]{16}")

log = logging.getLogger(__name__)

class ArtifactNotKept(Exception):
    """What keeps a build's artifacts (the worker's store, the server through an agent) did not
    keep one; says why."""


# The build a green thread (or thread) is running, for its host's log lines (STOKER_LOG_FORMAT=json).
building = ContextVar("building", default=None)


@contextmanager
def about(build_id):
    """While in it, this thread's log lines are about the build `build_id`."""
    token = building.set(build_id)
    try:
        yield
    finally:
        building.reset(token)


def run_watched(runner, job, watch, output, on_step, on_step_output, later, masks, stopping, on_artifact=None):
    """Run `job` with `runner` under `watch`, a thread that halts it when it must stop (a worker's
    or an agent's: it has `halt`, `done`, `reason` and `follow(plan)`), and stop the watch once it
    ends; never raises. Its outcome, and why it was halted, if it was ("stopped": the process
    `stopping` was)."""
    watch.start()
    try:
        outcome = runner.run(job, output, halt=watch.halt, on_plan=watch.follow, on_step=on_step,
                             on_step_output=on_step_output, later=later, masks=masks, on_artifact=on_artifact)
    except Exception as exc:
        log.exception("build %s failed inside Stoker", job.build_id)
        outcome = Outcome(error=f"internal error: {exc}")
    finally:
        watch.done.set()
        watch.join()
    reason = watch.reason
    if reason is None and watch.halt.is_set() and stopping.is_set() and outcome.exit_code != 0:
        reason = "stopped"
    return outcome, reason


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
    event: str = Event.PUSH
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
    # Those given to the image builder (its pushes, its Dockerfile's pulls), which its Dockerfile can read.
    builder_registries: dict = field(default_factory=dict, repr=False)
    # A fork's pull request: it builds no image.
    fork: bool = False
    # The project's own network for its containers, in place of the sandbox's; None: the sandbox's.
    network: str | None = None
    # A way out for its containers (see BuildSpec.egress); the project's `network`, if any, goes first.
    egress: bool = False
    # What it may do with the project's caches here (see pipeline/caches.py); None: nothing.
    cache: caches.CacheAccess | None = None
    # What its record knows of its commit (git says, where it does not), and its page, for CI_* variables.
    commit_message: str | None = None
    commit_author: str | None = None
    page_url: str | None = None
    # The labels this host carries, which the pipeline file's must be among; None: not asked.
    carried: tuple | None = None
    # How much of its workspace it may keep as artifacts: each file, and all; None: none here.
    artifact_max_bytes: int | None = None
    artifact_total_bytes: int | None = None

    def mask(self):
        """What hides its secrets, credentials and registry passwords in its log."""
        registries = self.registries.values()
        return SecretMask([*self.secrets.values(), *self.access.secrets(), *(password for _, password in registries),
                           *(imagebuilder.auth_token(*credentials) for credentials in registries)])

    @classmethod
    def given(cls, fields, data_dir, pin=None, carried=None, relay=None):
        """The job the server's plain values describe (app/background/assignments.py), its caches
        under this host's `data_dir`; `pin` keeps the ssh host key met on first contact. With a
        `relay` (a Relay without its fingerprint), its git goes through the server."""
        fields = dict(fields)
        access, cache = fields.pop("access"), fields.pop("cache")
        if relay is not None:
            if not FINGERPRINT.fullmatch(str(access.get("fingerprint"))):
                raise ValueError("the server named no credential for the build's mirrors")
            access = {"relay": replace(relay, fingerprint=access["fingerprint"])}
        registries = {host: tuple(pair) for host, pair in fields.pop("registries").items()}
        builder_registries = {host: tuple(pair) for host, pair in fields.pop("builder_registries").items()}
        if cache is not None:
            cache = caches.CacheAccess(**{**cache, "folder": Path(data_dir) / "caches" / Path(cache["folder"]).name})
        return cls(**fields, access=Access(**access, pin=pin), registries=registries,
                   builder_registries=builder_registries, cache=cache, carried=carried)

    def context(self, mirror):
        """What `when:` conditions are held against for this build."""
        if self.event == Event.PULL_REQUEST:
            branch, base, since_fork = self.base_branch, f"refs/heads/{self.base_branch}", True
        elif self.event == Event.PUSH:
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
            branch, base = (None if self.event == Event.TAG else self.branch), None
        if base is None:
            return Context(self.event, branch)
        return Context(self.event, branch, lambda: mirror.changed_files(base, self.commit_hash, since_fork))

    def head(self):
        """Where its workspace stands: a pull request's head with its base branch beside it, a tag's
        commit with the tag, else its commit as its branch."""
        if self.event == "pull_request":
            base = self.base_branch
            return Head(self.commit_hash, also=((f"refs/heads/{base}", f"refs/remotes/origin/{base}"),) if base else ())
        if self.event == "tag" and self.ref and self.ref.startswith("refs/tags/"):
            return Head(self.commit_hash, also=((self.ref, self.ref),))
        return Head(self.commit_hash, self.branch)

    def run_variables(self):
        """The run's variables that it may set."""
        return {name: value for name, value in self.variables.items() if not run_variable_refused(name)}

    def environment(self, described=None):
        """What every container of the build is told about it, besides the plan's env and the secrets:
        Stoker's own STOKER_* and the CI_* of Woodpecker's plugins (see plugins.ci_variables)."""
        ref = self.ref or f"refs/heads/{self.branch}"
        pull = pull_number(ref) or ""
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
            **plugins.ci_variables(self, described),
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
    # The labels its pipeline file asks for that this host does not carry: the build goes back.
    labels_needed: tuple = ()


@dataclass
class Run:
    """One build as it runs: what its steps share, and where what they say goes (see Runner.run)."""

    job: BuildJob
    workspace: Path
    # Where what the build leaves is removed: the runner's own stack, or the caller's `later`.
    cleanup: ExitStack
    outcome: Outcome
    # The build's log, as raw bytes; each step's end and each step's own output.
    output: Callable
    report_step: Callable
    step_output: Callable
    halt: threading.Event | None = None
    # Makes a mask for a stream cut into lines among others' (see Runner.run).
    masks: Callable | None = None
    images: Images | None = None
    # The image and env of its steps: the plan's, once it is read, else the project's.
    image: str | None = None
    env: dict = field(default_factory=dict)
    # Whether it has a way out: asked for (BuildJob.egress), and the backend's guard stands.
    egress: bool = False
    # Keeps one artifact: (Found, its open file); raises ArtifactNotKept saying why not.
    keep_artifact: Callable | None = None

    def say(self, line):
        """Stoker's own account of a stage: a line starting `==>`."""
        self.output(f"==> {shown(line)}\n".encode())

    def lines_of(self, name):
        """Output for one stream among others': masked first, then cut into lines `[name] ...`."""
        return LinePrefixer(f"[{shown(name)}] ".encode(), self.output, self.masks() if self.masks else None)

    def step(self, image, env, script, secret_names=None, image_id=None, entrypoint=None, settings=()):
        """A step running `script` (None: its image's entrypoint, or `entrypoint`), given the job's
        secrets named in `secret_names` (None: all) and its plugin `settings` as PLUGIN_* variables."""
        job = self.job
        given = job.secrets if secret_names is None else {
            name: value for name, value in job.secrets.items() if name in secret_names}
        try:
            settings = plugins.variables(settings, job.secrets)
        except plugins.SecretMissing as exc:
            raise BuildError(str(exc)) from None
        return StepSpec(image=image, image_id=image_id, script=script, entrypoint=entrypoint,
                        environment={**env, **job.run_variables(), **given, **settings, **self.told()})

    def image_build(self, image, image_id, settings):
        """Stoker's image builder with its `settings`: told the build and given the credentials of
        the registries the project keeps for image builds, and nothing else (no file env, matrix,
        run variables or secrets but its settings' own), since its container may make namespaces."""
        try:
            settings = plugins.variables(settings, self.job.secrets)
        except plugins.SecretMissing as exc:
            raise BuildError(str(exc)) from None
        auth = imagebuilder.auth_file(self.job.builder_registries)
        return StepSpec(image=image, image_id=image_id, namespaces=True,
                        environment={**settings, **self.told(), imagebuilder.REGISTRY_AUTH: auth})

    def told(self):
        """What each of its containers is told about the build (BuildJob.environment), the commit as
        git described it once it has."""
        return self.job.environment((self.outcome.commit_message, self.outcome.commit_author))


class Runner:
    """Runs build jobs with one data dir, backend (see pipeline/backend) and sandbox."""

    def __init__(self, data_dir, *, backend, sandbox, allow_local_repos, git_timeout, labels=None,
                 allow_private_hosts=False, pull_registries=(), busybox=None, off_the_hub=None,
                 image_builder=None, lfs_max_bytes=DEFAULT_LFS_MAX_BYTES):
        self.backend = backend
        self.labels = dict(labels or {})
        self.sandbox = sandbox
        self.mirrors = Path(data_dir) / "mirrors"
        self.workspaces = Path(data_dir) / workspaces.BUILDS
        self.allow_local = allow_local_repos
        self.allow_private_hosts = allow_private_hosts
        self.git_timeout = git_timeout
        self.lfs_max_bytes = lfs_max_bytes
        # How many fetches each mirror has had here, for _maintenance_due.
        self._fetches = Counter()
        # A long-lived `git cat-file` per mirror in use (see ObjectReader), at most MAX_READERS.
        self._readers = {}
        self._mirrors_lock = threading.Lock()
        # Repositories whose last build here had a .stoker.yml: their builds make no early step.
        self._repos_with_plans = set()
        # The registries images may be pulled from (host or host:port); empty: any.
        self.pull_registries = tuple(pull_registries)
        # Stoker's own build image, made here when a build needs it (from `busybox`, or one looked for).
        self.own_images = OwnImages(self.backend, data_dir, busybox)
        # Runs work that holds the CPU or the disk without yielding (reading a hostile pipeline file,
        # a cache archive of up to STOKER_CACHE_MAX_MB) where it cannot hold the process's other
        # green threads: function, *args -> its result.
        self.off_the_hub = off_the_hub or (lambda function, *args: function(*args))
        self.pulled_with_credentials = PulledWithCredentials(Path(data_dir) / PULLED_WITH_CREDENTIALS)
        # What a step naming stoker-image-builder runs (see pipeline/imagebuilder); None: no step may.
        self.image_builder = image_builder

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
                         allow_private_hosts=self.allow_private_hosts, access=access, reader=reader,
                         lfs_max_bytes=self.lfs_max_bytes)

    def kill_containers(self, build_id=None):
        """Kill the build steps this runner started (of one build, if given); each run then ends."""
        only = {} if build_id is None else {"stoker.build": str(build_id)}
        self.backend.kill({**self.labels, **only})

    def run(self, job, on_output=None, halt=None, on_plan=None, on_step=None, on_step_output=None, later=None,
            masks=None, on_artifact=None):
        """Run `job` to its end and say how it ended; never raises for a failed build.

        Stoker's own account of each stage (lines starting `==>`) and the
        command's output go to `on_output` as bytes, in the order they happen.
        A `.stoker.yml` at the commit's root is given to `on_plan`, and its
        steps run as their graph says (see pipeline/graph.py), each reported
        to `on_step` as it ends or is skipped, and each one's own output also
        given to `on_step_output(name, raw)`. Steps that run side by side have
        each line of theirs in the combined output start with `[name] `. Once
        `halt` (a threading.Event) is set, no further step is started.

        The build's steps (all ended by then) and its workspace are
        removed before this returns, or, given `later` (a contextlib.ExitStack),
        when `later` closes: the caller may report the outcome first.

        `masks`, if given, makes a fresh mask (feed and flush raw bytes) for each stream that is cut
        into lines among others' (steps side by side, services), to mask it before it is cut.

        The files the plan's `artifacts:` name are given to `on_artifact(found, file)` once its steps
        end (see pipeline/artifacts.py); without it, none are kept.
        """
        outcome = Outcome()
        with ExitStack() as own:
            cleanup = own if later is None else later
            workspace = cleanup.enter_context(workspaces.workspace(self.workspaces, f"build-{job.build_id}-"))
            run = Run(job, workspace, cleanup, outcome, on_output or (lambda raw: None),
                      on_step or (lambda result, status: None), on_step_output or (lambda name, raw: None),
                      halt, masks, image=job.image, keep_artifact=on_artifact)
            run.images = Images(self.backend, self.pull_registries, job.registries, run.say, self.own_images,
                                self.pulled_with_credentials)
            say = run.say
            run.egress = job.egress and self._guarded(say)
            early = self._early_step(run)
            try:
                by_way = " by way of the server" if job.access.relay else ""
                say(f"Fetching {job.commit_hash} from {without_credentials(job.repo_url)}{by_way}")
                mirror = self.mirror(job.repo_url, job.access)
                if mirror.fetch(job.commit_hash, job.ref) and self._maintenance_due(mirror):
                    cleanup.callback(mirror.maintain)
                outcome.commit_message, outcome.commit_author = mirror.describe(job.commit_hash)
                # The plan says how to check out: it is read from the mirror first.
                top = mirror.top_level(job.commit_hash)
                plan = self.off_the_hub(parse_plan, plan_text(mirror, top))
                if plan is not None and job.carried is not None and not set(plan.labels) <= set(job.carried):
                    outcome.labels_needed = plan.labels
                    say(f"{FILENAME} asks for labels this host does not carry ({', '.join(plan.labels)}); "
                        f"handing the build back for one that does")
                    return outcome
                self._repos_with_plans.discard(job.repo_url)
                if plan is not None:
                    self._repos_with_plans.add(job.repo_url)
                    early.let_go()
                self._check_out(run, mirror, top, plan.clone if plan is not None else Clone())
                if plan is None:
                    if halt is not None and halt.is_set():
                        raise BuildError("stopped before the build command started")
                    ahead, set_up = early.take()
                    with self._set_up(run, set_up=set_up) as build:
                        result = self._run_step(run, build, Step(None, (job.command,)), 0, 1, run.output,
                                                ahead=ahead, later=cleanup)
                    outcome.exit_code = result.exit_code
                    self._out_of_memory(result, run)
                else:
                    context = job.context(mirror)
                    if plan.when is not None and (reason := plan.when.excludes(context)):
                        outcome.skipped = reason
                        say(f"Skipped: {reason}")
                        return outcome
                    run.image, run.env = plan.image or job.image, plan.env
                    say(f"Following {FILENAME}: {len(plan.steps)} step(s) in {run.image}")
                    if on_plan:
                        on_plan(plan)
                    self._run_plan(run, plan, context)
            except (GitError, PlanError, BuildError) as exc:
                outcome.error = f"checkout failed: {exc}" if isinstance(exc, GitError) else str(exc)
                say(outcome.error)
        return outcome

    def _guarded(self, say):
        """Whether the backend's guard stands, as a build with a way out needs; if not, it says so in
        the build's log, and the build runs with no way out."""
        if self.backend.guarded():
            return True
        say("No way out for this build: this host's rules that keep builds from the server's own "
            "networks are not in place (an admin runs 'stoker firewall' as root)")
        return False

    def _check_out(self, run, mirror, top, clone):
        job = run.job
        if clone.skip:
            run.say(f"No checkout: {FILENAME} says clone: skip")
            return
        check_out(mirror, job.head(), run.workspace, clone, self.mirror, top)
        message = run.outcome.commit_message
        run.say(f"Checked out {job.commit_hash[:12]} ({message.splitlines()[0][:120]})"
                if message else f"Checked out {job.commit_hash[:12]}")

    def _maintenance_due(self, mirror):
        """Whether git should look at packing the mirror after this fetch: after the first and every
        MAINTAIN_EVERY-th after it. Looking costs a git process (about 10 ms of CPU), and packing is
        due only after thousands of objects."""
        with self._mirrors_lock:
            self._fetches[mirror.path] += 1
            return self._fetches[mirror.path] % MAINTAIN_EVERY == 1

    def _early_step(self, run):
        """The build command's step, made and started, its command held, while the commit is fetched
        and checked out: the backend's part of the wait overlaps git's. Made only when the
        repository's last build here had no .stoker.yml, and let run only if the commit has none
        either. Removed with the rest of the build."""
        early = EarlyStep(self.backend)
        run.cleanup.callback(early.discard)
        if run.job.repo_url not in self._repos_with_plans:
            early.make(self._build_spec(run), run.step(run.job.image, {}, run.job.command), run.images.ready_to_run)
        return early

    def _build_spec(self, run, services=()):
        job = run.job
        return BuildSpec(name=f"build-{job.build_id}", workspace=run.workspace, sandbox=self.sandbox,
                         labels={**self.labels, "stoker.build": str(job.build_id)}, network=job.network,
                         services=services, egress=run.egress)

    @contextmanager
    def _set_up(self, run, services=(), set_up=None):
        """The build set up on the backend for its steps, with the plan's `services` (names); torn
        down once its steps are gone: with services, as the block ends (each step is removed as it
        ends, and the services with the block), else with the rest of the build."""
        build = set_up or self.backend.setup_build(self._build_spec(run, services))
        if not services:
            run.cleanup.callback(self.backend.destroy_build, build)
            yield build
            return
        try:
            yield build
        finally:
            self.backend.destroy_build(build)

    def _run_plan(self, run, plan, context):
        # A matrix is its steps once per combination, side by side, in one graph.
        plan = plan.expanded()
        needs = plan.needs()
        side_by_side = not plan.in_order()
        job, outcome, say = run.job, run.outcome, run.say

        def run_step(position, step):
            own = (lambda raw: run.step_output(step.name, raw))
            if side_by_side:
                lines = run.lines_of(step.name)
                show = (lambda raw: (lines.feed(raw), own(raw)))
            else:
                lines, show = None, (lambda raw: (run.output(raw), own(raw)))
            try:
                return self._run_step(run, build, step, position, len(plan.steps), show, later=steps_later)
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
                self._out_of_memory(ended.result, run)
            result = ended.result or StepResult(position, step.name)
            # A step whose failure is ignored still failed, as its own status says.
            run.report_step(replace(result, matrix=dict(step.matrix)) if step.matrix else result,
                            ended.state if ended.state != IGNORED else FAILED)

        if plan.cache:
            self._restore_cache(run, plan.cache)
        # The build's own network can go only once no step is on it: with services, each step's
        # container goes as the step ends.
        steps_later = run.cleanup if not plan.services else None
        names = tuple(service.name for service in plan.services)
        with self._set_up(run, names) as build, services_running(self.backend, build, run, plan.services):
            ended, outcome.exit_code, problem = run_graph(plan.steps, needs, run_step, skip_reason=skip_reason,
                                                           on_end=on_end, halt=run.halt)
        if problem is not None:
            raise problem
        if run.halt is not None and run.halt.is_set() and len(ended) < len(plan.steps):
            first = next(step for step in plan.steps if step.name not in ended)
            for position, step in enumerate(plan.steps):
                if step.name not in ended:
                    run.report_step(StepResult(position, step.name), SKIPPED)
            raise BuildError("stopped before the build command started" if not ended
                             else f"stopped before step {first.name!r}")
        if outcome.exit_code is None:
            outcome.exit_code = 0
        if plan.artifacts is not None and (outcome.exit_code == 0 or plan.artifacts.when == "always"):
            self._keep_artifacts(run, plan.artifacts)
        if plan.cache and outcome.exit_code == 0 and job.cache is not None and job.cache.write:
            try:
                size = self.off_the_hub(caches.save, job.cache, run.workspace, plan.cache)
                say(f"Saved the cache of {job.cache.branch} ({size / 2**20:.1f} MB)")
            except (caches.CacheError, OSError) as exc:
                say(f"Cache not saved: {exc}")

    def _keep_artifacts(self, run, plan):
        if run.keep_artifact is None or run.job.artifact_max_bytes is None:
            run.say("No artifacts are kept here")
            return
        job = run.job
        found = self.off_the_hub(artifacts.find, run.workspace, plan, job.artifact_max_bytes,
                                 job.artifact_total_bytes, run.say, run.halt)
        if not found:
            run.say("No artifacts: nothing in the workspace matches artifacts:")
            return
        files, size = 0, 0
        for each in found:
            try:
                with artifacts.opened(run.workspace, each.name, each.size) as file:
                    run.keep_artifact(each, file)
                files, size = files + 1, size + each.size
            except (artifacts.Refused, ArtifactNotKept) as exc:
                run.say(str(exc))
        run.say(f"Kept {files} artifact(s), {size / 2**20:.1f} MB")

    def _restore_cache(self, run, paths):
        if run.job.cache is None:
            run.say("No cache: a fork's pull request neither reads nor writes one")
            return
        try:
            restored = self.off_the_hub(caches.restore, run.job.cache, run.workspace, paths)
        except caches.CacheError as exc:
            run.say(f"Cache not restored: {exc}")
            return
        run.say(f"Restored the cache of {restored}" if restored else "No cache yet")

    def _image_builder(self, run, step):
        """The image builder's name and id for `step`, which names it; BuildError saying why it may not run."""
        if self.image_builder is None:
            raise BuildError("this server builds no images: its admin turned the image builder off "
                             "(STOKER_IMAGE_BUILDER)")
        if step.name is None or step.commands or step.entrypoint is not None:
            raise BuildError(IMAGE_BUILDER_ALONE)
        if run.job.fork:
            raise BuildError(f"step {step.name!r}: a fork's pull request builds no images")
        image_id = self.backend.image_id(self.image_builder)
        if image_id is None:
            raise BuildError(f"Stoker's image builder {self.image_builder} is not on this host; "
                             "an admin makes it with 'stoker make-image-builder' (root, a few minutes)")
        return self.image_builder, image_id

    def _out_of_memory(self, result, run):
        if result.out_of_memory and run.outcome.error is None:
            run.outcome.error = f"the build ran out of memory (limit {self.sandbox.memory})"
            run.say(run.outcome.error)

    def _run_step(self, run, build, step, position, count, output, ahead=None, later=None):
        """Run one step (or, with no plan, the build command) in the set-up `build`; `ahead`: it,
        started ahead of its turn (see EarlyStep)."""
        image = step.image or run.image
        builds_image = is_image_builder(image)
        try:
            if builds_image:
                image, image_id = self._image_builder(run, step)
            else:
                image_id = run.images.ensure(image, step.pull) if ahead is None else None
        except BaseException:
            if ahead is not None:
                self.backend.destroy_step(ahead)
            raise
        if step.name is None:
            run.say(f"Running in {image}: {run.job.command}")
            command = run.job.command
        else:
            run.say(f"Step {position + 1}/{count}: {step.name}")
            command = step.script()
        started, clock = utcnow(), time.monotonic()
        env = {**run.env, **dict(step.matrix), **dict(step.environment)}
        guarded = NoOwnLines(output)
        try:
            if builds_image:
                spec = run.image_build(image, image_id, step.settings)
            else:
                spec = run.step(image, env, command, step.secrets, image_id, step.entrypoint, step.settings)
            ended = self.backend.run_step(build, spec, guarded, ahead=ahead, later=later)
        finally:
            guarded.flush()
        exit_code = ended.code
        seconds = time.monotonic() - clock
        if step.name is None:
            run.say(f"Exited with code {exit_code} after {seconds:.1f} s")
        else:
            verdict = "passed" if exit_code == 0 else f"failed with code {exit_code}"
            run.say(f"Step {step.name} {verdict} after {seconds:.1f} s")
        return StepResult(position, step.name, exit_code, started, utcnow(), ended.out_of_memory)


def plan_text(mirror, top):
    """The bytes of the commit's .stoker.yml from the mirror (its `top_level`), None when it has none;
    PlanError when it is not a regular file of at most MAX_PLAN_BYTES."""
    mode, sha = top.get(FILENAME, (None, None))
    if mode is None:
        return None
    if mode == "120000":
        # A repository may commit the file as a link to a host file; it is never followed.
        raise PlanError(f"{FILENAME} must be a regular file, not a link")
    if mode not in REGULAR:
        raise PlanError(f"{FILENAME} must be a regular file")
    data = mirror.blob(sha, MAX_PLAN_BYTES)
    if data is None:
        raise PlanError(f"{FILENAME} is larger than {MAX_PLAN_BYTES // 1024} KB")
    return data


def parse_plan(data):
    """The Plan of a .stoker.yml's bytes, None for None; PlanError when it is not usable."""
    if data is None:
        return None
    try:
        return parse(data.decode())
    except UnicodeDecodeError:
        raise PlanError(f"{FILENAME} is not UTF-8 text") from None
