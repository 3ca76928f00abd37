"""Looking after what lost workers left: their builds taken back, their containers and folders removed."""
import logging
import os
import socket

from pipeline import docker_runner, workspaces
from pipeline.docker_runner import BuildError

from ..lifecycle import recover_lost
from ..models import db

log = logging.getLogger(__name__)


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def look_after_lost_builds(app, stopping):
    """Until `stopping`, take back the builds of lost workers, and remove their containers and
    folders on this host."""
    interval = max(1.0, min(app.config["STOKER_LEASE_SECONDS"] / 2, 10.0))
    client = None
    while True:
        try:
            with app.app_context(), db.connection_context():
                recover_lost()
            workspaces.sweep_data_dir(app.config["STOKER_DATA_DIR"])
            client = client or docker_runner.connect()
            docker_runner.remove_orphans(client, socket.gethostname(), process_alive)
        except BuildError as exc:
            log.warning("cannot remove orphaned build containers: %s", exc)
        except Exception:
            log.exception("looking after lost builds failed; trying again in %s s", interval)
        if stopping.wait(interval):
            return
