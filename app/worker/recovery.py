"""Looking after what lost workers left: their builds taken back, their containers and folders removed."""
import logging
import os
import socket

from pipeline import workspaces
from pipeline.backend import BuildError

from ..records.lifecycle import recover_lost
from ..records.models import db
from ..runtime import Periodic
from ..services import services

log = logging.getLogger(__name__)


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def look_after_lost_builds(app):
    """Take back the builds of lost workers, and remove their containers and folders on this host."""
    with app.app_context(), db.connection_context():
        recover_lost()
    workspaces.sweep_data_dir(app.config["STOKER_DATA_DIR"])
    try:
        services(app).engine.remove_orphans(socket.gethostname(), process_alive)
    except BuildError as exc:
        log.warning("cannot remove orphaned build containers: %s", exc)


LOOK_AFTER_LOST_BUILDS = Periodic(
    "looking after lost builds", look_after_lost_builds, role="workers",
    every=lambda app: max(1.0, min(app.config["STOKER_LEASE_SECONDS"] / 2, 10.0)))
