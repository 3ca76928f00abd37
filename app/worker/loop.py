"""The worker loop: claims queued builds and app builds, runs them, records how they ended.

Everything it hands to pipeline/ is plain values and plain callbacks; pipeline/
never imports this side.
"""
import dataclasses
import hashlib
import json
import logging
import os
import socket
import threading

from pipeline import docker_runner
from pipeline.app_build import AppBuildFailed, AppBuilder, AppJob
from pipeline.docker_runner import Sandbox
from pipeline.runner import BuildJob, Outcome, Runner

from ..lifecycle import claim_next, claim_next_app_build, set_app_status, set_status
from ..logs import LogWriter, append_note
from ..models import AppArtifact, AppStatus, BuildStep, Status, db
from ..vault import SecretMask, VaultError, secrets_of
from .signing import signing_key
from .watch import Watch

log = logging.getLogger(__name__)

STOPPED = "Stoker was stopped while this build ran"


def worker_name(index):
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


class Worker:
    """Runs builds one at a time for one app; several may share a process."""

    def __init__(self, app, name, stopping=None):
        self.app = app
        self.name = name
        self.stopping = stopping or threading.Event()
        self.watch = None
        self.doorbell = app.extensions["stoker.doorbell"]
        # One per process: the workers of a process share their engine.
        self.engine = app.extensions.setdefault("stoker.engine", docker_runner.Engine())
        self.runner = Runner(
            app.config["STOKER_DATA_DIR"],
            sandbox=Sandbox(
                network=app.config["STOKER_BUILD_NETWORK"],
                caps=app.config["STOKER_BUILD_CAPS"],
                pids=app.config["STOKER_BUILD_PIDS"],
                memory=app.config["STOKER_BUILD_MEMORY"],
                cpus=app.config["STOKER_BUILD_CPUS"],
            ),
            allow_local_repos=app.config["STOKER_ALLOW_LOCAL_REPOS"],
            allow_private_hosts=app.config["STOKER_ALLOW_PRIVATE_REPO_HOSTS"],
            git_timeout=app.config["STOKER_GIT_TIMEOUT"],
            labels={"stoker.worker": name},
        )
        self.app_builder = AppBuilder(
            app.config["STOKER_DATA_DIR"],
            image=app.config["STOKER_ANDROID_IMAGE"],
            allow_private_urls=app.config["STOKER_ALLOW_PRIVATE_APP_URLS"],
            timeout=app.config["STOKER_APP_BUILD_TIMEOUT"],
            labels={"stoker.worker": name},
        )
        # Builds and app builds share the workers; each worker takes the kinds in turn.
        self.app_builds_first = False

    @property
    def busy(self):
        return self.watch is not None

    def interrupt(self):
        """Stop the build this worker runs, if any; used when the process is stopping."""
        watch = self.watch
        if watch is not None:
            watch.halt.set()
            self.runner.kill_containers()
        self.app_builder.kill_containers()

    def run_forever(self):
        """Run builds until `stopping` is set, sleeping on the doorbell when idle."""
        poll = self.app.config["STOKER_POLL_SECONDS"]
        while not self.stopping.is_set():
            seen = self.doorbell.rings()
            try:
                ran = self.run_once()
            except Exception:
                log.exception("worker %s could not claim a build", self.name)
                ran = False
            if not ran:
                self.doorbell.wait(seen, poll)

    def run_once(self):
        """Claim and run the oldest queued build or app build, taking the two kinds in turn;
        False when there was neither."""
        # An engine that does not answer would fail every build it was given: leave them to others.
        if self.stopping.is_set() or not self.engine.answering():
            return False
        kinds = [self.run_next_build, self.run_next_app_build]
        if self.app_builds_first:
            kinds.reverse()
        self.app_builds_first = not self.app_builds_first
        return any(run() for run in kinds)

    def run_next_build(self):
        """Claim and run the oldest queued build; False when there was none."""
        with self.app.app_context():
            with db.connection_context():
                build = claim_next(self.name, self.app.config["STOKER_LEASE_SECONDS"])
                if build is None:
                    return False
                try:
                    secrets = secrets_of(build.project_id, self.app.config["SECRET_KEY"])
                except VaultError as exc:
                    set_status(build.id, Status.FAILED, expect=Status.RUNNING, owner=self.name, error=str(exc))
                    return True
                job = BuildJob(
                    build_id=build.id,
                    repo_url=build.project.repo_url,
                    commit_hash=build.commit_hash,
                    branch=build.branch,
                    image=build.project.image,
                    command=build.project.build_command,
                    timeout=build.project.timeout_seconds,
                    secrets=secrets,
                )
            log.info("worker %s runs build %s (%s)", self.name, job.build_id, job.commit_hash[:12])
            mask = SecretMask(job.secrets.values())
            outcome, reason, timeout = self._run(job, mask)
            error = {"timeout": f"Timed out after {timeout:g} s", "stopped": STOPPED}.get(reason)
            with db.connection_context():
                # A canceled build's record already says so, and one taken over after this
                # worker lost its lease is another's: this write then changes nothing.
                set_status(
                    build.id,
                    Status.PASSED if outcome.exit_code == 0 and reason is None else Status.FAILED,
                    expect=Status.RUNNING,
                    owner=self.name,
                    exit_code=outcome.exit_code,
                    error=mask.mask(error or outcome.error),
                    commit_message=build.commit_message or outcome.commit_message,
                    commit_author=build.commit_author or outcome.commit_author,
                )
                if reason == "log lost":
                    append_note(build, outcome.error)
            return True

    def run_next_app_build(self):
        """Claim and run the oldest queued app build; False when there was none.

        An app build is short and bounded (its fetches and its builder container
        time out), so its lease covers the whole of it and is never renewed.
        """
        config = self.app.config
        lease = config["STOKER_APP_BUILD_TIMEOUT"] + config["STOKER_LEASE_SECONDS"]
        with self.app.app_context(), db.connection_context():
            build = claim_next_app_build(self.name, lease)
            if build is None:
                return False
            permissions = tuple(json.loads(build.permissions))
            job = AppJob(uid=build.uid, platform=build.platform, name=build.name, bundle_id=build.bundle_id,
                         version=build.version, url=build.url, permissions=permissions)
        log.info("worker %s builds app %s (%s %s)", self.name, job.uid, job.bundle_id, job.version)
        artifact, error = None, None
        try:
            if job.platform == "android":
                with self.app.app_context(), db.connection_context():
                    key, certificate = signing_key(build.app_bundle_id, config["SECRET_KEY"])
                job = dataclasses.replace(job, signing_key=key, certificate=certificate)
            artifact = self.app_builder.build(job)
        except (AppBuildFailed, VaultError) as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("app build %s failed inside Stoker", job.uid)
            error = f"internal error: {exc}"
        with self.app.app_context(), db.connection_context(), db.atomic() as transaction:
            if artifact is None:
                set_app_status(build.id, AppStatus.FAILED, expect=AppStatus.BUILDING, owner=self.name, error=error)
                return True
            AppArtifact.create(build=build.id, file_name=artifact.file_name, content_type=artifact.content_type,
                               sha256=hashlib.sha256(artifact.data).hexdigest(), data=artifact.data)
            # Lost to another worker meanwhile: its artifact is the one kept.
            if set_app_status(build.id, AppStatus.SUCCESS, expect=AppStatus.BUILDING, owner=self.name) is None:
                transaction.rollback()
        return True

    def _run(self, job, mask):
        """Run one job under watch; return its outcome, why it was halted (if it was), and its timeout."""
        log_writer = LogWriter(self.app, job.build_id, self.app.config["STOKER_LOG_MAX_BYTES"], mask)
        watch = self.watch = Watch(self, job, log_writer)
        watch.start()
        try:
            outcome = self.runner.run(job, log_writer.write, halt=watch.halt,
                                      on_plan=lambda plan: self._follow(watch, plan),
                                      on_step=lambda result: self._record_step(job, result))
        except Exception as exc:
            log.exception("build %s failed inside Stoker", job.build_id)
            outcome = Outcome(error=f"internal error: {exc}")
        finally:
            watch.done.set()
            watch.join()
            self.watch = None
            # Every line is saved and emitted before the final status goes out.
            log_writer.close()
        reason = watch.reason
        if reason is None and watch.halt.is_set() and self.stopping.is_set() and outcome.exit_code != 0:
            reason = "stopped"
        if log_writer.lost:
            # Whatever the command's exit code, a build whose log stops short has not passed.
            outcome.error, reason = log_writer.lost, reason or "log lost"
        return outcome, reason, watch.timeout

    @staticmethod
    def _follow(watch, plan):
        if plan.timeout is not None:
            watch.timeout = plan.timeout

    def _record_step(self, job, result):
        """Keep how a .stoker.yml step ended; the build command of a build without one is no step."""
        if result.name is None:
            return
        if result.started_at is None:
            status = Status.SKIPPED
        else:
            status = Status.PASSED if result.exit_code == 0 else Status.FAILED
        with self.app.app_context(), db.connection_context():
            BuildStep.create(build=job.build_id, position=result.position, name=result.name, status=status,
                             exit_code=result.exit_code, started_at=result.started_at,
                             finished_at=result.finished_at)
