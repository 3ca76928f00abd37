"""Every job is queued, claimed and moved between statuses here, whatever its kind (app/jobs.py).

Save, then emit: a change writes its row, and any outbox row it owes, in one
transaction (`changes()`); only once that has committed do its events go
out and the workers wake. An event that cannot be sent is logged, and never
undoes or fails the write.
"""
import json
import logging
from contextlib import contextmanager
from datetime import timedelta

from flask import current_app
from peewee import JOIN, SQL, fn

from ..services import services
from .jobs import BUILD, KINDS
from .logs import append_note
from .models import Build, Status, db, utcnow

log = logging.getLogger(__name__)

LOST = "the worker running this build was lost twice"
STOPPED = "Stoker was stopped while this build ran"
# How many queued jobs one claim looks at, when groups at their limit hold the first.
CANDIDATES = 64


class Changes:
    """Status changes being saved in one transaction; see `changes()`."""

    def __init__(self):
        self.saved = []
        self.queued = False

    def queue(self, kind, status=None, **fields):
        """Create a job of `kind`, queued unless `status` says otherwise (blocked, say)."""
        job = kind.model.create(status=status or kind.statuses.QUEUED, **fields)
        kind.owe(job)
        self.saved.append((kind, job))
        self.queued = self.queued or job.status == kind.statuses.QUEUED
        return job

    def move(self, kind, job_id, status, *, expect, owner=None, lease_ended_before=None, **fields):
        """Move a job from status `expect` to `status`; None if it was no longer `expect`.

        The write is a compare-and-set, so two workers can never both claim one
        job and a finished job can never be moved again. With `owner`, it also
        needs the job to still be that worker's: a worker whose job was taken
        over can no longer report on it.
        """
        model = kind.model
        if status in kind.statuses.FINISHED:
            fields.setdefault(kind.finished_field, utcnow())
        condition = (model.id == job_id) & (model.status == expect)
        if owner is not None:
            condition &= model.worker_id == owner
        if lease_ended_before is not None:
            condition &= model.lease_expires_at < lease_ended_before
        if model.update(status=status, **fields).where(condition).execute() != 1:
            return None
        job = model.get_by_id(job_id)
        kind.owe(job)
        self.saved.append((kind, job))
        self.queued = self.queued or status == kind.statuses.QUEUED
        return job

    def announce(self):
        for kind, job in self.saved:
            try:
                services(current_app).announce(current_app, kind.recipients(job), kind.event, kind.payload(job))
            except Exception:
                log.exception("could not announce %s %s is %s", kind.name, job.id, job.status)
        if self.queued:
            services(current_app).wake_workers(current_app)


@contextmanager
def changes():
    """A transaction for status changes: yields the Changes to make them with, and announces
    them once it has committed (never if it rolled back).

    It must be the outermost transaction, or the events could go out for a
    change that is later rolled back.
    """
    if db.in_transaction():
        raise RuntimeError("changes() must not be nested in another transaction: it announces on commit")
    batch = Changes()
    with db.atomic():
        yield batch
    batch.announce()


def queue(kind, **fields):
    with changes() as batch:
        return batch.queue(kind, **fields)


def move(kind, job_id, status, **conditions_and_fields):
    with changes() as batch:
        return batch.move(kind, job_id, status, **conditions_and_fields)


def queue_build(project, **fields):
    """Queue a build of `project`; `commit_hash` and `branch` are needed."""
    return queue(BUILD, project=project, **fields)


def claim_next(kind, worker_id, lease_seconds, carried=(), taken_up=True):
    """Mark the oldest queued job of `kind` running for this worker, with a lease; return it, or None.

    A job whose group already runs as many jobs as its limit allows stays
    queued, and the next one in line is taken instead; so does one that needs
    labels the worker does not carry all of. Either way the move is a
    compare-and-set, so no job is ever given to two workers.
    """
    now = utcnow()
    lease = {"worker_id": worker_id, "lease_expires_at": now + timedelta(seconds=lease_seconds),
             "taken_up_at": now if taken_up else None}
    if kind.started_field:
        lease[kind.started_field] = now
    # Groups whose labels the worker does not carry are left out before the candidates are
    # counted: a few such groups with many jobs queued must not hide every other group's.
    unfit = _unfit(kind, carried)
    if db.for_update:
        return _claim_skipping_locked(kind, lease, unfit)
    # SQLite: read the candidates to the end first, since writing while a read is still
    # open on the connection fails at once if another writer got in between.
    for job_id, group, limit in list(_queued(kind, unfit).limit(CANDIDATES).tuples()):
        # SQLite's IMMEDIATE transactions already take turns: no lock is needed for the count.
        with changes() as batch:
            if limit is not None and _running(kind, group) >= limit:
                continue
            job = batch.move(kind, job_id, kind.running, expect=kind.statuses.QUEUED, **lease)
        if job is not None:
            return job
    return None


def _unfit(kind, carried):
    """The groups (projects) and the queued jobs needing labels that `carried` does not hold all of."""
    groups, jobs = [], []
    if kind.labels is not None:
        rows = kind.labels.model
        groups = [group for group, labels in rows.select(rows.id, kind.labels).where(
            kind.labels.is_null(False)).tuples() if not fits(labels, carried)]
    if kind.job_labels is not None:
        model = kind.model
        jobs = [job for job, labels in model.select(model.id, kind.job_labels).where(
            (model.status == kind.statuses.QUEUED) & kind.job_labels.is_null(False)).tuples()
            if not fits(labels, carried)]
    return groups, jobs


def _queued(kind, unfit=((), ())):
    """The kind's queued jobs as (id, group, limit), oldest first, but those `unfit` (groups, jobs);
    of a kind in groups, those of the groups with the fewest jobs running first: a project with fifty
    builds queued holds back no other project's one."""
    model = kind.model
    if kind.group is None:
        return (model.select(model.id, SQL("NULL"), SQL("NULL"))
                .where(model.status == kind.statuses.QUEUED).order_by(model.id))
    # Each group's running jobs counted once, not once for every job queued.
    running = model.alias()
    group = getattr(running, kind.group.name)
    busy = (running.select(group.alias("group_id"), fn.COUNT(running.id).alias("jobs"))
            .where(running.status == kind.running).group_by(group).alias("busy"))
    condition = model.status == kind.statuses.QUEUED
    unfit_groups, unfit_jobs = unfit
    if unfit_groups:
        condition &= kind.group.not_in(unfit_groups)
    if unfit_jobs:
        condition &= model.id.not_in(unfit_jobs)
    return (model.select(model.id, kind.group, kind.limit).join(kind.group.rel_model)
            .join(busy, JOIN.LEFT_OUTER, on=(busy.c.group_id == kind.group))
            .where(condition).order_by(fn.COALESCE(busy.c.jobs, 0), model.id))


def fits(labels, carried):
    """Whether a worker carrying `carried` may take a job needing `labels` (JSON, or None for none)."""
    return not labels or set(json.loads(labels)) <= set(carried)


def _claim_skipping_locked(kind, lease, unfit):
    """PostgreSQL: take the oldest queued job no other worker is taking right now.

    FOR UPDATE SKIP LOCKED lets workers claiming at once each lock a different row
    instead of queueing behind one; the lock lasts only this short transaction.
    """
    passed_over = []
    with changes() as batch:
        while len(passed_over) < CANDIDATES:
            query = _queued(kind, unfit)
            if passed_over:
                query = query.where(kind.model.id.not_in(passed_over))
            row = query.limit(1).for_update(of=kind.model, skip_locked=True).tuples().first()
            if row is None:
                return None
            job_id, group, limit = row
            if limit is not None and (_running(kind, group, lock=True) >= limit
                                      or _older_queued(kind, group, job_id)):
                passed_over.append(job_id)
                continue
            job = batch.move(kind, job_id, kind.running, expect=kind.statuses.QUEUED, **lease)
            if job is not None:
                return job
    return None


def _running(kind, group, lock=False):
    """How many of the group's jobs run now; with `lock`, one claim per group at a time
    (PostgreSQL), so two cannot both see room for one."""
    if lock:
        rows = kind.group.rel_model
        rows.select(rows.id).where(rows.id == group).for_update().execute()
    model = kind.model
    return model.select().where((kind.group == group) & (model.status == kind.running)).count()


def _older_queued(kind, group, job_id):
    """Whether an older job of the group is still queued: SKIP LOCKED hid it because another
    worker is claiming it right now, and a limited group's jobs start oldest first."""
    model = kind.model
    return model.select().where((kind.group == group) & (model.status == kind.statuses.QUEUED)
                                & (model.id < job_id)).exists()


def cancel(kind, job_id, reason=None):
    """Cancel a job that has not finished; return it, or None if it had already finished.

    A waiting job then never starts; the worker running a running one sees
    the change within a second and kills its containers.
    """
    for current in (*kind.statuses.WAITING, kind.running):
        job = move(kind, job_id, kind.canceled, expect=current, error=reason)
        if job is not None:
            return job
    return None


def cancel_unfinished(project_id, ref, reason, *, before=None, waiting_only=False):
    """Cancel the project's builds of `ref` (a branch, tag or pull request; None: of every ref) that
    have not finished (with `waiting_only`, not started), older than build `before` if given; return
    the canceled builds."""
    statuses = [*Status.WAITING] if waiting_only else [*Status.WAITING, Status.RUNNING]
    condition = (Build.project == project_id) & Build.status.in_(statuses)
    if ref is not None:
        same_ref = Build.ref == ref
        if ref.startswith("refs/heads/"):
            # Builds from before refs were kept are their branch's pushes.
            same_ref |= Build.ref.is_null() & (Build.branch == ref[len("refs/heads/"):])
        condition &= same_ref
    if before is not None:
        condition &= Build.id < before
    unfinished = [build_id for (build_id,) in Build.select(Build.id).where(condition).tuples()]
    canceled = (cancel(BUILD, build_id, reason=reason) for build_id in unfinished)
    return [build for build in canceled if build is not None]


def cancel_superseded(build, waiting_only=False):
    """Cancel the older builds of the same project and ref (branch, tag or pull request) that have
    not finished (with `waiting_only`, not started)."""
    cancel_unfinished(build.project_id, build.full_ref,
                      reason=f"superseded by build {build.id}", before=build.id, waiting_only=waiting_only)


def renew_lease(kind, job_id, worker_id, lease_seconds):
    """Extend this worker's lease on its running job, which it has taken up; False if the job is no
    longer its own."""
    model = kind.model
    now = utcnow()
    return model.update(lease_expires_at=now + timedelta(seconds=lease_seconds),
                        taken_up_at=fn.COALESCE(model.taken_up_at, now)).where(
        (model.id == job_id) & (model.status == kind.running) & (model.worker_id == worker_id)
    ).execute() == 1


def recover_lost():
    """Take back running jobs of every kind whose worker stopped renewing its lease; return them.

    A job whose worker is lost is queued again once; lost a second time, it
    fails with an error saying so. Either write is a compare-and-set on the
    expired lease, so a worker that renews in time keeps its job.
    """
    now = utcnow()
    recovered = []
    for kind in KINDS:
        model = kind.model
        expired = list(model.select(model.id, model.worker_id, model.attempts, model.taken_up_at)
                       .where((model.status == kind.running) & (model.lease_expires_at < now)).tuples())
        for job_id, worker_id, attempts, taken_up_at in expired:
            taken = {"expect": kind.running, "owner": worker_id, "lease_ended_before": now}
            if taken_up_at is None:
                # Given to an agent that never took it up (gone while its request was held): it did not
                # run, and is queued again as it was.
                job = move(kind, job_id, kind.statuses.QUEUED, **taken, worker_id=None, lease_expires_at=None)
                note = f"The agent given this {kind.name} never took it up; it is queued again"
            elif attempts < 1:
                job = move(kind, job_id, kind.statuses.QUEUED, **taken, worker_id=None, lease_expires_at=None,
                           attempts=attempts + 1)
                note = f"The worker running this {kind.name} was lost; it is queued again"
            else:
                job = move(kind, job_id, kind.statuses.FAILED, **taken, error=LOST)
                note = f"The worker running this {kind.name} was lost again; the {kind.name} has failed"
            if job is not None:
                if kind.has_log:
                    append_note(job, note)
                recovered.append(job)
    return recovered


def ending(exit_code, skipped, reason, error, timeout):
    """The status a build's run ends in and the error it says, from its exit code, whether its plan
    skipped it, and why it was halted (if it was: "timeout", "stopped", "canceled" ...)."""
    said = {"timeout": f"Timed out after {timeout:g} s", "stopped": STOPPED}.get(reason)
    if skipped and reason is None:
        return Status.SKIPPED, said or error
    return (Status.PASSED if exit_code == 0 and reason is None else Status.FAILED), said or error


def hand_back(build_id, owner, labels):
    """A build whose pipeline file asks for labels its holder does not carry: queued again with
    them, for a worker or agent that does; it did not run, and spends nothing."""
    build = move(BUILD, build_id, Status.QUEUED, expect=Status.RUNNING, owner=owner, worker_id=None,
                 lease_expires_at=None, taken_up_at=None, labels=json.dumps(sorted(labels)))
    if build is not None:
        append_note(build, f"Its pipeline file asks for labels ({', '.join(sorted(labels))}); queued again for a "
                           f"worker or agent that carries them")
    return build
