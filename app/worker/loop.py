"""The worker loop: claims queued jobs of every kind in turn and hands each to its kind's executor.

Everything it hands to pipeline/ is plain values and plain callbacks; pipeline/
never imports this side.
"""
import importlib
import logging
import os
import socket
import threading
from contextlib import ExitStack, contextmanager

from pipeline.engine import Sandbox
from pipeline.mobile.build import MobileBuilder
from pipeline.runner import Runner

from .. import runtime
from ..records.jobs import KINDS
from ..records.lifecycle import claim_next
from ..records.models import db
from ..services import services

log = logging.getLogger(__name__)


def worker_name(index):
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


def executor_of(kind):
    module, _, function = kind.executor.partition(":")
    return getattr(importlib.import_module(module), function)


class Worker:
    """Runs jobs one at a time for one app; several may share a process, and its engine."""

    def __init__(self, app, name, stopping=None):
        self.app = app
        self.name = name
        self.stopping = stopping or threading.Event()
        # The watch on the build this worker runs, while it runs one (see builds.py).
        self.watch = None
        # Removing what the last job left, while it does (see tidying).
        self.tidier = None
        self.doorbell = services(app).doorbell
        if services(app).engine is None:
            from pipeline.docker_engine import DockerEngine

            services(app).engine = DockerEngine()
        self.engine = services(app).engine
        config = app.config
        labels = {"stoker.worker": name}
        self.runner = Runner(
            config["STOKER_DATA_DIR"],
            engine=self.engine,
            sandbox=Sandbox(network=config["STOKER_BUILD_NETWORK"], caps=config["STOKER_BUILD_CAPS"],
                            pids=config["STOKER_BUILD_PIDS"], memory=config["STOKER_BUILD_MEMORY"],
                            cpus=config["STOKER_BUILD_CPUS"]),
            allow_local_repos=config["STOKER_ALLOW_LOCAL_REPOS"],
            allow_private_hosts=config["STOKER_ALLOW_PRIVATE_REPO_HOSTS"],
            git_timeout=config["STOKER_GIT_TIMEOUT"],
            labels=labels,
            pull_registries=config["STOKER_PULL_REGISTRIES"],
            service_subnets=config["STOKER_SERVICE_SUBNETS"],
            busybox=config["STOKER_BUSYBOX"],
            off_the_hub=runtime.off_the_hub,
        )
        self.mobile_builder = MobileBuilder(
            config["STOKER_DATA_DIR"],
            engine=self.engine,
            image=config["STOKER_ANDROID_IMAGE"],
            allow_private_urls=config["STOKER_ALLOW_PRIVATE_APP_URLS"],
            timeout=config["STOKER_APP_BUILD_TIMEOUT"],
            labels=labels,
        )
        self.executors = [(kind, executor_of(kind)) for kind in KINDS]
        # The kinds share the workers; each worker starts its look with the next kind each time.
        self.first_kind = 0

    @property
    def busy(self):
        """Whether it runs a build, or removes what one left; a stopping process waits for those
        to record how they ended and to leave nothing behind."""
        return self.watch is not None or (self.tidier is not None and self.tidier.is_alive())

    @contextmanager
    def tidying(self):
        """An ExitStack for what a job leaves to remove once its result is out. It is closed on a
        thread of its own while the worker takes its next job, one at a time: the last job's is
        waited for first."""
        self.tidied()
        with ExitStack() as left:
            yield left
            left = left.pop_all()
        self.tidier = threading.Thread(target=left.close, name=f"tidy-{self.name}", daemon=True)
        self.tidier.start()

    def tidied(self):
        """Wait until what the last job left is removed."""
        if self.tidier is not None:
            self.tidier.join()

    def interrupt(self):
        """Stop the job this worker runs, if any; used when the process is stopping."""
        watch = self.watch
        if watch is not None:
            watch.halt.set()
        self.engine.kill({"stoker.worker": self.name})

    def run_forever(self):
        """Run jobs until `stopping` is set, sleeping on the doorbell when idle."""
        poll = self.app.config["STOKER_POLL_SECONDS"]
        while not self.stopping.is_set():
            seen = self.doorbell.rings()
            try:
                ran = self.run_once()
            except Exception:
                log.exception("worker %s could not claim a job", self.name)
                ran = False
            if not ran:
                self.doorbell.wait(seen, poll)

    def run_once(self):
        """Claim and run the oldest queued job of one kind, the kinds taken in turn; False when
        there was none of any."""
        # An engine that does not answer would fail every job it was given: leave them to others.
        if self.stopping.is_set() or not self.engine.answering():
            return False
        turn = self.executors[self.first_kind:] + self.executors[:self.first_kind]
        self.first_kind = (self.first_kind + 1) % len(self.executors)
        return any(self.run_next(kind, execute) for kind, execute in turn)

    def run_next(self, kind, execute):
        """Claim the oldest queued job of `kind` and run it; False when there was none."""
        with self.app.app_context():
            with db.connection_context():
                job = claim_next(kind, self.name, kind.lease_seconds(self.app.config))
            if job is None:
                return False
            execute(self, job)
            return True
