"""Every build is created and moved between statuses here: the row first, then the event."""
from flask import current_app

from .models import Build, Project, Status, db, utcnow
from .realtime import emit_to_user


def announce(build):
    """Tell the build's owner its status; called only once the row is committed."""
    owner_id = Project.select(Project.owner).where(Project.id == build.project_id).scalar()
    emit_to_user(current_app, owner_id, "buildStatusUpdate", build.to_json())


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
        current_app.extensions["stoker.doorbell"].ring()

    db.after_commit(after_commit)
    return build


def set_status(build_id, status, *, expect, **fields):
    """Move a build from status `expect` to `status`, then emit; None if it was no longer `expect`.

    The write is a compare-and-set, so two workers can never both claim one
    build and a finished build can never be moved again.
    """
    if status in Status.FINISHED:
        fields.setdefault("finished_at", utcnow())
    changed = (
        Build.update(status=status, **fields)
        .where((Build.id == build_id) & (Build.status == expect))
        .execute()
    )
    if changed != 1:
        return None
    build = Build.get_by_id(build_id)
    db.after_commit(lambda: announce(build))
    return build


def claim_next(worker_id):
    """Mark the oldest queued build `running` for this worker and return it, or None."""
    # Read the candidates to the end first: on SQLite, writing while a read is
    # still open on the connection fails at once if another writer got in between.
    candidates = list(
        Build.select(Build.id)
        .where(Build.status == Status.QUEUED)
        .order_by(Build.id)
        .limit(8)
        .tuples()
    )
    for (candidate,) in candidates:
        build = set_status(candidate, Status.RUNNING, expect=Status.QUEUED, worker_id=worker_id)
        if build is not None:
            return build
    return None


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
