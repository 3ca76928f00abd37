"""Removing the mirrors of deleted projects from this host, whichever process deleted them."""
import time
from pathlib import Path

from pipeline.git.mirror import remove_mirrors_except

from ..records.models import Project, db
from ..runtime import Periodic

# How often a process looks (the server too: it keeps mirrors for its agents); it also looks as soon as it starts.
EVERY_SECONDS = 60


def remove_unused_mirrors(app, wait=0):
    """Remove the mirrors no project's repository needs any more (waiting up to `wait` seconds for
    one in use); return how many went."""
    root = Path(app.config["STOKER_DATA_DIR"]) / "mirrors"
    if not root.is_dir():
        return 0
    read_at = time.time()
    with db.connection_context():
        urls = [url for (url,) in Project.select(Project.repo_url).distinct().tuples()]
    return remove_mirrors_except(root, urls, older_than=read_at, wait=wait)


REMOVE_UNUSED_MIRRORS = Periodic("removing the mirrors of deleted projects", remove_unused_mirrors,
                                 every=EVERY_SECONDS, role="all")
