"""Delivering the outgoing webhooks' outbox (app/records/hooks.py) to each target.

Nothing here can hold a build up or change its result: a body a target does not take (no answer,
or not a 2xx) is tried again with backoff, then given up and logged. Each delivery is claimed before
it is sent, so processes delivering side by side send it once. A body is signed with the target's
own secret: X-Stoker-Signature-256 is `sha256=` and the hex HMAC-SHA256 of the exact bytes sent.
"""
import hashlib
import hmac
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from ..forges.hosting import ForgeError, request
from ..records.hooks import HookDelivery, body_of
from ..records.models import Build, db, utcnow
from ..records.vault import VaultError, unseal
from ..runtime import Periodic

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Backoff after the n-th failed try: FIRST_PAUSE * 2**(n-1) seconds, at most LONGEST_PAUSE.
FIRST_PAUSE, LONGEST_PAUSE = 10, 3600
# How long a claimed delivery is left to the process that claimed it (a try takes at most ~15 s).
CLAIM = timedelta(minutes=2)
# How many are looked at a round, sent at once, and how long ended ones are kept to be shown.
BATCH = 50
AT_ONCE = 8
KEPT = timedelta(days=7)


def deliver_due(app):
    """Send each delivery that is due, once, a few at a time (a slow target holds up only its own);
    return how many the targets took."""
    due = list(HookDelivery.select().where((HookDelivery.done == False)  # noqa: E712
                                           & (HookDelivery.next_try_at <= utcnow())).order_by(HookDelivery.id)
               .limit(BATCH))
    with ThreadPoolExecutor(max_workers=AT_ONCE, thread_name_prefix="hook") as sending:
        taken = sum(sending.map(lambda row: _deliver(app, row), due))
    HookDelivery.delete().where((HookDelivery.done == True) & (HookDelivery.created_at < utcnow() - KEPT)).execute()  # noqa: E712
    return taken


def _deliver(app, row):
    """Claim one delivery (another process may have) and send it; 1 if the target took it."""
    with app.app_context(), db.connection_context():
        claimed = HookDelivery.update(next_try_at=utcnow() + CLAIM).where(
            (HookDelivery.id == row.id) & (HookDelivery.next_try_at == row.next_try_at)
            & (HookDelivery.done == False)).execute()  # noqa: E712
        hook = row.hook if claimed == 1 else None
    if hook is None:
        return 0  # another process has it
    row.attempts += 1
    # No database connection is held while the target answers.
    _try(app, hook, row, "build")
    if row.problem is None:
        row.done, row.delivered_at = True, utcnow()
    elif row.attempts >= MAX_ATTEMPTS:
        row.done = True
        log.error("gave up posting build %s to hook %s after %d tries: %s", row.build_id, row.hook_id,
                  row.attempts, row.problem)
    else:
        row.next_try_at = utcnow() + timedelta(seconds=min(LONGEST_PAUSE, FIRST_PAUSE * 2 ** (row.attempts - 1)))
        log.warning("hook %s did not take build %s (%s); trying again", row.hook_id, row.build_id, row.problem)
    with app.app_context(), db.connection_context():
        row.save()
    return 1 if row.delivered_at else 0


def send(app, hook, body, delivery_id, event):
    """Post `body` to the hook's target, signed; the target's HTTP status, or ForgeError."""
    data = body.encode()
    secret = unseal(app.config["SECRET_KEY"], hook.secret_sealed, "the webhook's secret")
    signature = hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()
    status, _ = request(app, "POST", hook.url, {
        "User-Agent": "Stoker-Hookshot", "Content-Type": "application/json", "X-Stoker-Event": event,
        "X-Stoker-Delivery": delivery_id, "X-Stoker-Signature-256": f"sha256={signature}"},
        data=data, allow_private=app.config["STOKER_ALLOW_PRIVATE_HOOK_HOSTS"], what="the webhook's target")
    return status


def ping(app, hook):
    """Post a test to the target now (the project's newest build as the body's build, if any), and
    keep it among the hook's deliveries; the delivery."""
    newest = Build.select().where(Build.project == hook.project_id).order_by(Build.id.desc()).first()
    row = HookDelivery(hook=hook, outcome="test", body=body_of("test", newest, hook.project, event="ping"),
                       attempts=1, done=True)
    # No database connection is held while the target answers (the row is kept after, on a new one).
    if not db.is_closed():
        db.close()
    _try(app, hook, row, "ping")
    if row.problem is None:
        row.delivered_at = utcnow()
    row.save()
    return row


def _try(app, hook, row, event):
    """Send the delivery's body once, and keep on it what the target answered, or why it did not."""
    try:
        row.answered = send(app, hook, row.body, row.delivery_id, event)
        row.problem = None if 200 <= row.answered < 300 else f"the target answered {row.answered}"
    except (ForgeError, VaultError) as exc:
        row.answered, row.problem = None, str(exc)[:300]


def _deliver_in_context(app):
    with app.app_context(), db.connection_context():
        deliver_due(app)


# Any process: one with workers or without (a server whose builds run on agents).
DELIVERY = Periodic("delivering outgoing webhooks", _deliver_in_context, every=1.0, role="all")
