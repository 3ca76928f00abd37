"""Failed logins counted per username and per client address, so that passwords cannot be guessed at speed.

The counts live in this process, or in Redis when REDIS_URL is set, so that
every web process behind a load balancer counts the same failures.
"""
import math
import time

from limits import RateLimitItemPerMinute, storage, strategies

from .services import services

WINDOW_MINUTES = 15


class LoginThrottle:
    """A moving 15-minute window of failed logins for each username and each address."""

    def __init__(self, redis_url, per_user, per_address):
        store = storage.storage_from_string(redis_url, key_prefix="stoker") if redis_url \
            else storage.MemoryStorage()
        self.limiter = strategies.MovingWindowRateLimiter(store)
        self.per_user = RateLimitItemPerMinute(per_user, WINDOW_MINUTES)
        self.per_address = RateLimitItemPerMinute(per_address, WINDOW_MINUTES)

    def _counters(self, username, address):
        yield self.per_address, "login-address", address
        if username is not None:
            yield self.per_user, "login-user", username

    def retry_after(self, username, address):
        """Whole seconds until this username may try again from this address; 0 if it may now."""
        waits = [0]
        for item, kind, key in self._counters(username, address):
            if not self.limiter.test(item, kind, key):
                reset_at, _ = self.limiter.get_window_stats(item, kind, key)
                waits.append(max(1, math.ceil(reset_at - time.time())))
        return max(waits)

    def failed(self, username, address):
        """Count one failed login against the username (None when no account can have it) and the address."""
        for item, kind, key in self._counters(username, address):
            self.limiter.hit(item, kind, key)


def init_app(app):
    services(app).login_throttle = LoginThrottle(
        app.config["REDIS_URL"], app.config["STOKER_LOGIN_FAILURES_PER_USER"],
        app.config["STOKER_LOGIN_FAILURES_PER_ADDRESS"])
