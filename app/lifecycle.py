"""Every build is created and moved between statuses here: the row first, then the event."""
from datetime import timedelta

from flask import current_app

from . import downloads, github_status
from .logs import append_note
from .models import AppBuild, AppStatus, Build, Project, Status, db, utcnow
from .realtime import emit_to_user
from .wakeups import wake_workers

LOST = "the worker running this build was lost twice"


def announce_app_build(build):
    emit_to_user(current_app, build.owner_id, "appBuildStatusUpdate",
                 build.to_json(downloads.url_for_build(current_app, build)))


def queue_app_build(**fields):
    """Create a queued app build; the workers are woken after commit."""
    build = AppBuild.create(status=AppStatus.QUEUED, **fields)

    def after_commit():
        announce_app_build(build)
        wake_workers(current_app)

    db.after_commit(after_commit)
    return build


def announce(build):
    """Tell the build's owner its status, and owe it to GitHub; called only once the row is committed."""
    project = Project.get_by_id(build.project_id)
    emit_to_user(current_app, project.owner_id, "buildStatusUpdate", build.to_json())
    github_status.owe(build, project)


def queue_build(project, *, commit_hash, branch, commit_message=None, commit_author=None,
                delivery_id=None):
    """Create a queued build; its owner hears of it and the workers are woken after commit."""
    build = Build.create(
        project=project,
        status=Status.QUEUED,
        commit_hash=commit_hash,
        branch=branch,
        commit_message=commit_message,
        commit_author=commit_author,
        delivery_id=delivery_id,
    )

    def after_commit():
        announce(build)
        wake_workers(current_app)

    db.after_commit(after_commit)
    return build


def set_status(build_id, status, *, expect, owner=None, lease_ended_before=None, **fields):
    """Move a build from status `expect` to `status`, then emit; None if it was no longer `expect`.

    The write is a compare-and-set, so two workers can never both claim one
    build and a finished build can never be moved again. With `owner`, it
    also needs the build to still be that worker's: a worker whose build was
    taken over can no longer report on it.
    """
    if status in Status.FINISHED:
        fields.setdefault("finished_at", utcnow())
    return _move(Build, announce, build_id, status, expect, owner, lease_ended_before, fields)


def set_app_status(build_id, status, *, expect, owner=None, lease_ended_before=None, **fields):
    """set_status for app builds: the same compare-and-set, and `appBuildStatusUpdate` to the owner."""
    if status in AppStatus.FINISHED:
        fields.setdefault("completed_at", utcnow())
    return _move(AppBuild, announce_app_build, build_id, status, expect, owner, lease_ended_before, fields)


def _move(model, announcer, row_id, status, expect, owner, lease_ended_before, fields):
    condition = (model.id == row_id) & (model.status == expect)
    if owner is not None:
        condition &= model.worker_id == owner
    if lease_ended_before is not None:
        condition &= model.lease_expires_at < lease_ended_before
    if model.update(status=status, **fields).where(condition).execute() != 1:
        return None
    row = model.get_by_id(row_id)
    db.after_commit(lambda: announcer(row))
    return row


def claim_next(worker_id, lease_seconds):
    """Mark the oldest queued build `running` for this worker, with a lease, and return it, or None.

    A build whose project already runs as many builds as its `concurrency`
    allows stays queued, and the next one in line is taken instead. Either way
    the move is a compare-and-set, so no build is ever given to two workers.
    """
    now = utcnow()
    lease = {"worker_id": worker_id, "lease_expires_at": now + timedelta(seconds=lease_seconds),
             "run_started_at": now}
    if db.for_update:
        return _claim_skipping_locked(lease)
    # SQLite: read the candidates to the end first, since writing while a read is still
    # open on the connection fails at once if another writer got in between.
    candidates = list(_queued().limit(CANDIDATES).tuples())
    for build_id, project_id, limit in candidates:
        if limit is None:
            build = set_status(build_id, Status.RUNNING, expect=Status.QUEUED, **lease)
        else:
            build = _claim_within_limit(build_id, project_id, limit, lease)
        if build is not None:
            return build
    return None


def claim_next_app_build(worker_id, lease_seconds):
    """Mark the oldest queued app build `building` for this worker, with a lease, and return it, or None."""
    now = utcnow()
    lease = {"worker_id": worker_id, "lease_expires_at": now + timedelta(seconds=lease_seconds)}
    queued = (AppBuild.select(AppBuild.id).where(AppBuild.status == AppStatus.QUEUED)
              .order_by(AppBuild.id))
    with db.atomic():
        if db.for_update:
            candidates = list(queued.limit(1).for_update(skip_locked=True).tuples())
        else:
            candidates = list(queued.limit(CANDIDATES).tuples())
        for (build_id,) in candidates:
            build = set_app_status(build_id, AppStatus.BUILDING, expect=AppStatus.QUEUED, **lease)
            if build is not None:
                return build
    return None


# How many queued builds one claim looks at, when projects at their concurrency hold the first.
CANDIDATES = 64


def _queued():
    return (Build.select(Build.id, Build.project, Project.concurrency).join(Project)
            .where(Build.status == Status.QUEUED).order_by(Build.id))


def _claim_skipping_locked(lease):
    """PostgreSQL: take the oldest queued build no other worker is taking right now.

    FOR UPDATE SKIP LOCKED lets workers claiming at once each lock a different row
    instead of queueing behind one; the lock lasts only this short transaction.
    """
    passed_over = []
    with db.atomic():
        while len(passed_over) < CANDIDATES:
            query = _queued()
            if passed_over:
                query = query.where(Build.id.not_in(passed_over))
            row = query.limit(1).for_update(of=Build, skip_locked=True).tuples().first()
            if row is None:
                return None
            build_id, project_id, limit = row
            if limit is not None and (_running(project_id, lock=True) >= limit
                                      or _older_queued(project_id, build_id)):
                passed_over.append(build_id)
                continue
            build = set_status(build_id, Status.RUNNING, expect=Status.QUEUED, **lease)
            if build is not None:
                return build
    return None


def _running(project_id, lock=False):
    """How many of the project's builds run now; with `lock`, one claim per project at a time
    (PostgreSQL), so two cannot both see room for one."""
    if lock:
        Project.select(Project.id).where(Project.id == project_id).for_update().execute()
    return Build.select().where((Build.project == project_id) & (Build.status == Status.RUNNING)).count()


def _older_queued(project_id, build_id):
    """Whether an older build of the project is still queued: SKIP LOCKED hid it because another
    worker is claiming it right now, and a limited project's builds start oldest first."""
    return Build.select().where((Build.project == project_id) & (Build.status == Status.QUEUED)
                                & (Build.id < build_id)).exists()


def _claim_within_limit(build_id, project_id, limit, lease):
    # SQLite's IMMEDIATE transactions already take turns: no lock is needed for the count.
    with db.atomic():
        if _running(project_id) >= limit:
            return None
        return set_status(build_id, Status.RUNNING, expect=Status.QUEUED, **lease)


def cancel_build(build_id, reason=None):
    """Cancel a queued or running build; return it, or None if it had already finished.

    A queued build then never starts; the worker running a running one sees the
    change within a second and kills its container.
    """
    for current in (Status.QUEUED, Status.RUNNING):
        build = set_status(build_id, Status.CANCELED, expect=current, error=reason)
        if build is not None:
            return build
    return None


def cancel_superseded(build):
    """Cancel the older builds of the same project and branch that are still queued or running."""
    older = (Build.select(Build.id)
             .where((Build.project == build.project_id) & (Build.branch == build.branch)
                    & (Build.id < build.id) & (Build.status.in_([Status.QUEUED, Status.RUNNING])))
             .tuples())
    for (build_id,) in list(older):
        cancel_build(build_id, reason=f"superseded by build {build.id}")


def renew_lease(build_id, worker_id, lease_seconds):
    """Extend this worker's lease on its running build; False if the build is no longer its own."""
    return Build.update(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds)).where(
        (Build.id == build_id) & (Build.status == Status.RUNNING) & (Build.worker_id == worker_id)
    ).execute() == 1


def recover_lost():
    """Take back running builds and app builds whose worker stopped renewing its lease; return the
    ids of the builds (not app builds) taken back.

    A build whose worker is lost is queued again once; lost a second time, it
    fails with an error saying so. Either write is a compare-and-set on the
    expired lease, so a worker that renews in time keeps its build.
    """
    now = utcnow()
    recovered = []
    for build_id, worker_id, attempts in _expired(Build, Status.RUNNING, now):
        if attempts < 1:
            moved = set_status(build_id, Status.QUEUED, expect=Status.RUNNING, owner=worker_id,
                               lease_ended_before=now, worker_id=None, lease_expires_at=None,
                               attempts=attempts + 1)
            note = "The worker running this build was lost; it is queued again"
        else:
            moved = set_status(build_id, Status.FAILED, expect=Status.RUNNING, owner=worker_id,
                               lease_ended_before=now, error=LOST)
            note = "The worker running this build was lost again; the build has failed"
        if moved is not None:
            append_note(moved, note)
            recovered.append(build_id)
    requeued = False
    for build_id, worker_id, attempts in _expired(AppBuild, AppStatus.BUILDING, now):
        if attempts < 1:
            moved = set_app_status(build_id, AppStatus.QUEUED, expect=AppStatus.BUILDING, owner=worker_id,
                                   lease_ended_before=now, worker_id=None, lease_expires_at=None,
                                   attempts=attempts + 1)
        else:
            moved = set_app_status(build_id, AppStatus.FAILED, expect=AppStatus.BUILDING, owner=worker_id,
                                   lease_ended_before=now, error=LOST)
        requeued = requeued or moved is not None
    if recovered or requeued:
        wake_workers(current_app)
    return recovered


def _expired(model, running, now):
    return list(model.select(model.id, model.worker_id, model.attempts)
                .where((model.status == running) & (model.lease_expires_at < now)).tuples())
