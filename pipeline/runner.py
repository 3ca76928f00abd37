"""Runs one build from start to end: fetch, export, run, clean up; knows nothing of the web side."""
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import docker_runner
from .docker_runner import BuildError
from .git import GitError, GitMirror

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


@dataclass
class Outcome:
    """How a build ended: an exit code when the container ran, else an error."""

    exit_code: int | None = None
    error: str | None = None
    commit_message: str | None = None
    commit_author: str | None = None


class Runner:
    """Runs build jobs with one data dir, Docker engine and sandbox."""

    def __init__(self, data_dir, *, sandbox, allow_local_repos, git_timeout, labels=None):
        self.labels = dict(labels or {})
        self.sandbox = sandbox
        self.mirrors = Path(data_dir) / "mirrors"
        self.workspaces = Path(data_dir) / "workspaces"
        self.allow_local = allow_local_repos
        self.git_timeout = git_timeout
        self._docker = None

    def docker(self):
        if self._docker is None:
            self._docker = docker_runner.connect()
        return self._docker

    def mirror(self, url):
        return GitMirror(self.mirrors, url, allow_local=self.allow_local, timeout=self.git_timeout)

    def kill_containers(self, build_id=None):
        """Kill the build containers this runner started (of one build, if given); each run then ends."""
        if self._docker is not None:
            only = {} if build_id is None else {"stoker.build": str(build_id)}
            docker_runner.kill_labelled(self._docker, {**self.labels, **only})

    def run(self, job, on_output=None, halt=None):
        """Run `job` to its end and say how it ended; never raises for a failed build.

        Stoker's own account of each stage (lines starting `==>`) and the
        command's output go to `on_output` as bytes, in the order they happen.
        Once `halt` (a threading.Event) is set, no container is started.
        """
        output = on_output or (lambda raw: None)

        def say(line):
            output(f"==> {line}\n".encode())

        outcome = Outcome()
        self.workspaces.mkdir(parents=True, exist_ok=True)
        workspace = Path(tempfile.mkdtemp(prefix=f"build-{job.build_id}-", dir=self.workspaces))
        try:
            say(f"Fetching {job.commit_hash} from {job.repo_url}")
            mirror = self.mirror(job.repo_url)
            mirror.fetch(job.commit_hash)
            outcome.commit_message, outcome.commit_author = mirror.describe(job.commit_hash)
            mirror.export(job.commit_hash, workspace)
            say(f"Checked out {job.commit_hash[:12]} ({outcome.commit_message.splitlines()[0][:120]})"
                if outcome.commit_message else f"Checked out {job.commit_hash[:12]}")
            if halt is not None and halt.is_set():
                raise BuildError("stopped before the build command started")
            say(f"Running in {job.image}: {job.command}")
            started = time.monotonic()
            outcome.exit_code, out_of_memory = docker_runner.run_in_container(
                self.docker(),
                image=job.image,
                command=job.command,
                workspace=workspace,
                sandbox=self.sandbox,
                labels={**self.labels, "stoker.build": str(job.build_id)},
                environment={
                    "CI": "true",
                    "STOKER": "true",
                    "STOKER_BUILD_ID": str(job.build_id),
                    "STOKER_COMMIT": job.commit_hash,
                    "STOKER_BRANCH": job.branch,
                },
                on_output=output,
            )
            say(f"Exited with code {outcome.exit_code} after {time.monotonic() - started:.1f} s")
            if out_of_memory:
                outcome.error = f"the build ran out of memory (limit {self.sandbox.memory})"
                say(outcome.error)
        except GitError as exc:
            outcome.error = f"checkout failed: {exc}"
            say(outcome.error)
        except BuildError as exc:
            outcome.error = str(exc)
            say(outcome.error)
        finally:
            shutil.rmtree(workspace, ignore_errors=True)
        return outcome
