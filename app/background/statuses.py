"""Delivering the commit status outbox (app/records/outbox.py) to each project's forge.

Nothing here can fail a build: a status the forge does not take is retried with
backoff, then given up and logged. Only a build's newest owed status is sent,
so a retried `pending` never lands on top of a `success`.
"""
import logging
from datetime import timedelta

from ..forges import FORGES
from ..forges.hosting import ForgeError
from ..records.models import Build, GithubStatus, db, utcnow
from ..records.vault import VaultError
from ..runtime import Periodic

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# How long a status claimed for sending is left to the process that claimed it.
CLAIM = timedelta(minutes=2)


def deliver_due(app):
    """Send the newest due status of each build that owes one; return how many the forges took."""
    now = utcnow()
    newest = {}
    for row in (GithubStatus.select().where((GithubStatus.done == False)  # noqa: E712
                                            & (GithubStatus.next_try_at <= now)).order_by(GithubStatus.id)):
        newest[row.build_id] = row
    delivered = 0
    for row in newest.values():
        claimed = GithubStatus.update(next_try_at=utcnow() + CLAIM).where(
            (GithubStatus.id == row.id) & (GithubStatus.next_try_at == row.next_try_at)
            & (GithubStatus.done == False)).execute()  # noqa: E712
        if claimed != 1:
            continue  # another process is sending it
        GithubStatus.update(done=True).where((GithubStatus.build == row.build_id) & (GithubStatus.id < row.id)
                                             & (GithubStatus.done == False)).execute()  # noqa: E712
        try:
            _send(app, row)
        except (ForgeError, VaultError) as exc:
            row.attempts += 1
            if row.attempts >= MAX_ATTEMPTS:
                row.done = True
                log.error("gave up telling the forge build %s is %s: %s", row.build_id, row.state, exc)
            else:
                row.next_try_at = now + timedelta(seconds=min(60, 2 ** row.attempts))
                log.warning("the forge did not take build %s's status (%s); retrying", row.build_id, exc)
            row.save()
            continue
        row.done = True
        row.save()
        delivered += 1
    return delivered


def _send(app, row):
    build = Build.get_by_id(row.build_id)
    # A self-hosted forge's address is checked again as it is sent to (see forges/hosting.py): a name
    # may since point at this server's own networks.
    FORGES[build.project.forge].send_status(app, build.project, build, row.state, row.description)


def _deliver_in_context(app):
    with app.app_context(), db.connection_context():
        deliver_due(app)


# Any process, each status claimed before it is sent: a server whose builds run on agents has no workers.
DELIVERY = Periodic("delivering commit statuses", _deliver_in_context, every=1.0, role="all")
