"""The kinds of job workers take, one entry each.

A kind brings its model (a LeasedJob), its statuses, the event its owner
hears, and what a status change owes elsewhere (its forge's commit statuses).
The lifecycle (records/lifecycle.py) queues, claims, moves, renews, cancels and
recovers every kind the same way. How a worker runs a kind is the worker's
business (app/worker/kinds.py, one entry each there too, checked against KINDS),
so a web process never loads what runs builds.
"""
from dataclasses import dataclass
from typing import Callable

from flask import current_app
from peewee import Field

from . import hooks, links, outbox
from .models import AppBuild, AppBuildStatus, Build, Member, Project, Status


@dataclass(frozen=True, eq=False)
class JobKind:
    name: str
    model: type
    # The kind's status words: QUEUED, FAILED, FINISHED and WAITING at least (see words.py).
    statuses: type
    # The status of a job a worker has claimed, and of one canceled (None: it cannot be).
    running: str
    canceled: str | None
    # The Socket.IO event its people hear each change by, who they are (user ids) and its data.
    event: str
    recipients: Callable
    payload: Callable
    # How long a claim lasts before it must be renewed, from the app's config.
    lease_seconds: Callable
    # Set to the claim's time when a worker claims the job, and to the end's when it finishes.
    started_field: str | None
    finished_field: str
    # Outbox rows a status change owes, written in the change's own transaction.
    owe: Callable = lambda job: None
    # Jobs that share `group` run at most `limit` (a field of the group's row; null for none) at once.
    group: Field | None = None
    limit: Field | None = None
    # Whether the job has a log that notes about it (a lost worker, say) belong in.
    has_log: bool = False
    # The labels (JSON, a field of the group's row, and one of the job's own) a worker must carry
    # all of to take the job.
    labels: Field | None = None
    job_labels: Field | None = None


# `build.project` is read once and kept on the row: the outbox and the announcement share it.
def _owe_statuses(build):
    outbox.owe(build, build.project)
    hooks.owe(build, build.project)


BUILD = JobKind(
    name="build", model=Build, statuses=Status, running=Status.RUNNING, canceled=Status.CANCELED,
    event="buildStatusUpdate", recipients=lambda build: Member.user_ids(build.project_id), payload=lambda build: build.to_json(),
    lease_seconds=lambda config: config["STOKER_LEASE_SECONDS"],
    started_field="run_started_at", finished_field="finished_at",
    owe=_owe_statuses, group=Build.project, limit=Project.concurrency, has_log=True, labels=Project.agent_labels,
    job_labels=Build.labels,
)

APP_BUILD = JobKind(
    name="app build", model=AppBuild, statuses=AppBuildStatus, running=AppBuildStatus.BUILDING,
    canceled=AppBuildStatus.CANCELED,
    event="appBuildStatusUpdate", recipients=lambda build: [build.owner_id],
    payload=lambda build: links.shown(current_app, build),
    # A app build is short and bounded (its fetches and its builder container time out), so its
    # lease covers the whole of it and is never renewed.
    lease_seconds=lambda config: config["STOKER_APP_BUILD_TIMEOUT"] + config["STOKER_LEASE_SECONDS"],
    started_field=None, finished_field="completed_at",
)

KINDS = (BUILD, APP_BUILD)
