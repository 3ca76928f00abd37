"""Which of its project's caches a build may read and write, and removing those nobody uses.

The archives themselves are pipeline/caches.py's. A branch's builds (pushes, manual and scheduled
runs) read and write its cache; a pull request reads its base branch's and a tag the default
branch's, and neither writes; a fork's pull request gets none at all.
"""
import hashlib
import json
import shutil
import time
from pathlib import Path

from pipeline.caches import CacheAccess

from ..records.models import Event, Project, db
from ..runtime import Periodic

WRITERS = (Event.PUSH, Event.MANUAL, Event.CRON)
# An archive no build has read or written for this long is removed.
UNUSED_SECONDS = 30 * 24 * 3600
# A half-written archive (its process died) older than this is removed.
PART_SECONDS = 3600
EVERY_SECONDS = 600


def folder_of(project, data_dir):
    """The project's folder of archives: named by its id and the moment it was made, so that a
    new project given a deleted one's id (SQLite reuses them) never finds its caches."""
    made = hashlib.sha256(project.created_at.isoformat().encode()).hexdigest()[:12]
    return Path(data_dir) / "caches" / f"{project.id}-{made}"


def access_for(build, project, config):
    """What `build` of `project` may do with the project's caches; None for a fork's pull request."""
    if build.fork:
        return None
    if build.event == Event.PULL_REQUEST:
        branch = json.loads(build.pull_request)["baseBranch"]
    elif build.event == Event.TAG:
        branch = project.branch
    else:
        branch = build.branch
    return CacheAccess(folder=folder_of(project, config["STOKER_DATA_DIR"]), branch=branch, fallback=project.branch,
                       write=build.event in WRITERS, max_bytes=config["STOKER_CACHE_MAX_BYTES"])


def remove_unused_caches(app):
    """Remove deleted projects' caches, archives unused for UNUSED_SECONDS, and half-written ones
    long abandoned; return how many went."""
    root = Path(app.config["STOKER_DATA_DIR"]) / "caches"
    if not root.is_dir():
        return 0
    read_at = time.time()
    with db.connection_context():
        live = {folder_of(project, app.config["STOKER_DATA_DIR"]).name
                for project in Project.select(Project.id, Project.created_at)}
    removed = 0
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        if folder.name not in live and folder.stat().st_mtime < read_at:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
            continue
        for archive in folder.iterdir():
            age = read_at - archive.stat().st_mtime
            if age > UNUSED_SECONDS or (archive.suffix == ".part" and age > PART_SECONDS):
                archive.unlink(missing_ok=True)
                removed += 1
    return removed


REMOVE_UNUSED_CACHES = Periodic("removing caches nobody uses", remove_unused_caches, every=EVERY_SECONDS,
                                role="workers")
