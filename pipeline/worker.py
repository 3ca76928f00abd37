"""The worker loop: claims queued builds, runs them, records how they ended.

This is the one module that joins the web side (records, events) and the
pipeline (git, Docker); everything it calls in pipeline/ takes plain values.
"""
import logging
import os
import socket
import threading

from app.lifecycle import claim_next, set_status
from app.logs import LogWriter
from app.models import Status, db

from .runner import BuildJob, Outcome, Runner

log = logging.getLogger(__name__)


def worker_name(index):
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


STOPPED = "Stoker was stopped while this build ran"


class Worker:
    """Runs builds one at a time for one app; several may share a process."""

    def __init__(self, app, name, stopping=None):
        self.app = app
        self.name = name
        self.stopping = stopping or threading.Event()
        self.busy = False
        self.doorbell = app.extensions["stoker.doorbell"]
        self.runner = Runner(
            app.config["STOKER_DATA_DIR"],
            network=app.config["STOKER_BUILD_NETWORK"],
            allow_local_repos=app.config["STOKER_ALLOW_LOCAL_REPOS"],
            git_timeout=app.config["STOKER_GIT_TIMEOUT"],
            labels={"stoker.worker": name},
        )

    def interrupt(self):
        """Kill the container of the build this worker runs, if any; used when stopping."""
        if self.busy:
            self.runner.kill_containers()

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
        """Claim and run the oldest queued build; False when there was none."""
        if self.stopping.is_set():
            return False
        self.busy = True
        try:
            return self._run_next()
        finally:
            self.busy = False

    def _run_next(self):
        with self.app.app_context():
            with db.connection_context():
                build = claim_next(self.name)
                if build is None:
                    return False
                project = build.project
                job = BuildJob(
                    build_id=build.id,
                    repo_url=project.repo_url,
                    commit_hash=build.commit_hash,
                    branch=build.branch,
                    image=project.image,
                    command=project.build_command,
                )
            log.info("worker %s runs build %s (%s)", self.name, job.build_id, job.commit_hash[:12])
            log_writer = LogWriter(self.app, job.build_id, self.app.config["STOKER_LOG_MAX_BYTES"])
            try:
                outcome = self.runner.run(job, log_writer.write)
            except Exception as exc:
                log.exception("build %s failed inside Stoker", job.build_id)
                outcome = Outcome(error=f"internal error: {exc}")
            finally:
                # Every line is saved and emitted before the final status goes out.
                log_writer.close()
            if self.stopping.is_set() and outcome.exit_code != 0 and outcome.error is None:
                outcome.error = STOPPED
            self._finish(
                build,
                Status.PASSED if outcome.exit_code == 0 else Status.FAILED,
                exit_code=outcome.exit_code,
                error=outcome.error,
                commit_message=build.commit_message or outcome.commit_message,
                commit_author=build.commit_author or outcome.commit_author,
            )
            return True

    def _finish(self, build, status, **fields):
        with db.connection_context():
            set_status(build.id, status, expect=Status.RUNNING, **fields)
