"""Waking idle workers when a build is queued: this process's at once, other processes' through Redis."""
import logging
import time

import redis

from ..runtime import Periodic
from ..services import services

log = logging.getLogger(__name__)

CHANNEL = "stoker:queued"


def init_app(app):
    url = app.config["REDIS_URL"]
    services(app).redis = redis.Redis.from_url(url) if url else None


def wake_workers(app):
    """Ring this process's doorbell, and every other process's when there are others (REDIS_URL)."""
    services(app).doorbell.ring()
    client = services(app).redis
    if client is not None:
        try:
            client.publish(CHANNEL, b"1")
        except redis.RedisError as exc:
            # The build is saved; other processes' workers still find it when they next poll.
            log.warning("could not wake other processes' workers: %s", exc)


# How long the relay waits before subscribing again after Redis went away.
RETRY_SECONDS = 2


def relay(app):
    """Ring this process's doorbell for every build another process queues: listen for a second,
    subscribing first when not subscribed."""
    doorbell = services(app).doorbell
    try:
        if services(app).subscription is None:
            subscription = services(app).redis.pubsub(ignore_subscribe_messages=True)
            subscription.subscribe(CHANNEL)
            services(app).subscription = subscription
            # A ring may have been missed while not subscribed: look once anyway.
            doorbell.ring()
        if services(app).subscription.get_message(timeout=1.0) is not None:
            doorbell.ring()
    except redis.RedisError as exc:
        services(app).subscription = None
        log.warning("lost the wake-up channel (%s); polling meanwhile, retrying in %g s", exc, RETRY_SECONDS)
        time.sleep(RETRY_SECONDS)


# Every process: workers wait on the doorbell, and so do the agents' requests for work a web process holds.
RELAY = Periodic("relaying wake-ups from other processes", relay, every=0, role="all",
                 applies=lambda app: bool(app.config["REDIS_URL"]))
