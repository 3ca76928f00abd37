"""Logins counted per username and per client address, so that passwords cannot be guessed at speed.

Each login is counted before its password is checked, in one step with the look at the count, so
that however many arrive at once no more than the limit are tried; a login that succeeds is then
forgiven. The counts live in this process, or in Redis when REDIS_URL is set, so that every web
process behind a load balancer counts the same failures.
"""
import math
import threading
import time
import uuid

import redis

from ..services import services

WINDOW_SECONDS = 15 * 60


class MemoryCounts:
    """Each key's attempts within the window, in this process; one lock makes look-and-count one step."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempts = {}  # key: {ticket: when}
        self.swept_at = time.time()

    def take(self, key, ticket, limit, window):
        """Count `ticket` under `key` and return None, or, with `limit` counted already, the time
        the oldest of them leaves the window."""
        now = time.time()
        with self.lock:
            if now - self.swept_at > window:
                # Keys no one has tried since would otherwise be kept for ever.
                self.attempts = {k: live for k, held in self.attempts.items() if (live := _since(held, now - window))}
                self.swept_at = now
            held = self.attempts[key] = _since(self.attempts.get(key, {}), now - window)
            if len(held) >= limit:
                return min(held.values(), default=now) + window
            held[ticket] = now
            return None

    def give_back(self, key, ticket):
        with self.lock:
            self.attempts.get(key, {}).pop(ticket, None)


def _since(held, start):
    return {ticket: when for ticket, when in held.items() if when > start}


# KEYS[1] a sorted set of tickets scored by time; ARGV now, window, limit, ticket. Redis runs a
# script as one step: no other client's command comes between the look and the count.
TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
    return redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2] or ARGV[1]
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return false
"""


class RedisCounts:
    """The same as MemoryCounts, in Redis, shared by every process that uses it."""

    def __init__(self, url):
        self.client = redis.Redis.from_url(url)
        self.script = self.client.register_script(TAKE)

    def take(self, key, ticket, limit, window):
        oldest = self.script(keys=[f"stoker:{key}"], args=[repr(time.time()), window, limit, ticket])
        return None if oldest is None else float(oldest) + window

    def give_back(self, key, ticket):
        self.client.zrem(f"stoker:{key}", ticket)


class LoginThrottle:
    """A moving 15-minute window of logins for each username and each address, the successful ones forgiven."""

    def __init__(self, redis_url, per_user, per_address):
        self.counts = RedisCounts(redis_url) if redis_url else MemoryCounts()
        self.per_user, self.per_address = per_user, per_address

    def _counters(self, username, address):
        yield self.per_address, f"login-address:{address}"
        if username is not None:
            yield self.per_user, f"login-user:{username}"

    def take(self, username, address):
        """Count one login against the address and the username (None when no account can have
        it), unless either is at its limit. Return (tickets to forgive it by, 0), or (None, whole
        seconds until it may be tried) with nothing counted."""
        taken = []
        for limit, key in self._counters(username, address):
            ticket = uuid.uuid4().hex
            frees_at = self.counts.take(key, ticket, limit, WINDOW_SECONDS)
            if frees_at is not None:
                self.forgive(taken)
                return None, max(1, math.ceil(frees_at - time.time()))
            taken.append((key, ticket))
        return taken, 0

    def forgive(self, tickets):
        """Uncount a login that succeeded."""
        for key, ticket in tickets:
            self.counts.give_back(key, ticket)


def init_app(app):
    services(app).login_throttle = LoginThrottle(
        app.config["REDIS_URL"], app.config["STOKER_LOGIN_FAILURES_PER_USER"],
        app.config["STOKER_LOGIN_FAILURES_PER_ADDRESS"])
