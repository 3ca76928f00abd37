"""Waiting for something to happen, with a bound: the one polling loop the tests use."""
import time


def wait_until(condition, timeout=30, interval=0.1, what=None):
    """Call `condition` until it returns something true, and return that; past `timeout` seconds,
    fail saying `what` (a string, or a function returning one, such as a server's log)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"not within {timeout:g} s" + (f": {said}" if said else ""))
        time.sleep(interval)
