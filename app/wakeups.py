"""Waking idle workers when a build is queued: this process's at once, other processes' through Redis."""
import logging

import redis

log = logging.getLogger(__name__)

CHANNEL = "stoker:queued"


def init_app(app):
    url = app.config["REDIS_URL"]
    app.extensions["stoker.redis"] = redis.Redis.from_url(url) if url else None


def wake_workers(app):
    """Ring this process's doorbell, and every other process's when there are others (REDIS_URL)."""
    app.extensions["stoker.doorbell"].ring()
    client = app.extensions["stoker.redis"]
    if client is not None:
        try:
            client.publish(CHANNEL, b"1")
        except redis.RedisError as exc:
            # The build is saved; other processes' workers still find it when they next poll.
            log.warning("could not wake other processes' workers: %s", exc)


def relay_forever(app, stopping):
    """Ring this process's doorbell for every build another process queues, until `stopping`."""
    client = app.extensions["stoker.redis"]
    if client is None:
        return
    while not stopping.is_set():
        try:
            subscription = client.pubsub(ignore_subscribe_messages=True)
            subscription.subscribe(CHANNEL)
            # A ring may have been missed while not subscribed: look once anyway.
            app.extensions["stoker.doorbell"].ring()
            while not stopping.is_set():
                if subscription.get_message(timeout=1.0) is not None:
                    app.extensions["stoker.doorbell"].ring()
        except redis.RedisError as exc:
            log.warning("lost the wake-up channel (%s); polling meanwhile, retrying in 2 s", exc)
            stopping.wait(2)
