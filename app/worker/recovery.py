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


def take_back_lost_builds(app):
    """Take back the builds whose worker or agent stopped renewing its lease. Every process does
    this, a web process without workers too, since agents' builds are leased through it."""
    with app.app_context(), db.connection_context():
        recover_lost()


def remove_what_lost_builds_left(app):
    """Remove the containers and folders of lost workers' builds on this host."""
    workspaces.sweep_data_dir(app.config["STOKER_DATA_DIR"])
    try:
        services(app).engine.remove_orphans(socket.gethostname(), process_alive)
    except BuildError as exc:
        log.warning("cannot remove orphaned build containers: %s", exc)


def _every(app):
    return max(1.0, min(app.config["STOKER_LEASE_SECONDS"] / 2, 10.0))


TAKE_BACK_LOST_BUILDS = Periodic("taking back lost builds", take_back_lost_builds, role="all", every=_every)
REMOVE_WHAT_LOST_BUILDS_LEFT = Periodic("removing what lost builds left", remove_what_lost_builds_left,
                                        role="workers", every=_every)
