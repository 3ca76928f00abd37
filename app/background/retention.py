"""Keeping a project's builds to its newest `keepBuilds`: what an older one leaves goes with it."""
import logging

from peewee import DatabaseError

from ..records import artifacts
from ..records.models import Build, Project, Status, db
from ..runtime import Periodic

log = logging.getLogger(__name__)

MAX_KEEP_BUILDS = 1_000_000
# Builds deleted in one transaction: a project that has just been given a limit may have
# thousands to lose, and one long transaction would hold every other writer back meanwhile.
BATCH = 100


def prune(project_id, config):
    """Delete the project's finished builds older than its newest `keep_builds` finished ones,
    with their logs, steps and statuses (the database's cascades) and artifacts (under `config`'s
    STOKER_ARTIFACT_DIR), a batch at a time; return how
    many went. Builds not yet finished are never touched, nor counted. A database that fails
    meanwhile (a full disk) leaves the rest for after the next build."""
    try:
        return _prune(project_id, config)
    except DatabaseError as exc:
        log.warning("project %s: old builds not deleted: %s", project_id, exc)
        return 0


def _prune(project_id, config):
    deleted = 0
    with db.connection_context():
        keep = Project.select(Project.keep_builds).where(Project.id == project_id).scalar()
        if not keep:
            return 0
        finished = (Build.project == project_id) & Build.status.in_(Status.FINISHED)
        oldest_kept = (Build.select(Build.id).where(finished).order_by(Build.id.desc())
                       .offset(keep - 1).limit(1).scalar())
        if oldest_kept is None:
            return 0
        while True:
            with db.atomic():
                batch = [build_id for (build_id,) in Build.select(Build.id).where(finished & (Build.id < oldest_kept))
                         .order_by(Build.id).limit(BATCH).tuples()]
                if not batch:
                    break
                deleted += Build.delete().where(Build.id.in_(batch) & finished).execute()
            artifacts.remove_of(config, batch)
    if deleted:
        log.info("project %s: deleted %d build(s) older than its newest %d", project_id, deleted, keep)
    return deleted


def _remove_orphan_artifacts(app):
    with db.connection_context():
        gone = artifacts.remove_orphans(app.config)
    if gone:
        log.info("removed the artifacts of %d deleted build(s)", gone)


# What a project deleted with its builds (or a build deleted by another process) left in the store.
REMOVE_ORPHAN_ARTIFACTS = Periodic("removing the artifacts of deleted builds", _remove_orphan_artifacts,
                                   every=60, role="all")
