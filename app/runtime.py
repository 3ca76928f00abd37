"""Everything eventlet, and the only module that imports it.

Stoker runs on green threads: the web server, Socket.IO, the workers and the
background tasks share one hub, so a build waiting on git or Docker never
stalls a request. `patch()` must run before Flask, peewee, the docker SDK and
GitPython are imported, since they bind threading and socket primitives at
import time; stoker.py calls it first of all. Without it (the tests, a Flask
test client) the same calls run on ordinary threads.
"""
import logging
import warnings
from dataclasses import dataclass
from typing import Callable

# The stack is chosen (see README); the banner would print on every command.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402
import eventlet.patcher  # noqa: E402
import eventlet.tpool  # noqa: E402
import eventlet.wsgi  # noqa: E402

log = logging.getLogger(__name__)

# What python-socketio is told to run on: pinned rather than guessed.
SOCKETIO_MODE = "eventlet"


def patch():
    """Make the standard library green, and mend the one place urllib3 then hangs."""
    eventlet.monkey_patch()
    _never_wait_on_the_hub_for_nothing()


def _never_wait_on_the_hub_for_nothing():
    """Answer urllib3's zero-timeout socket checks with the real select, not eventlet's.

    eventlet's green select can hang for ever when asked not to wait at all: its 0 s
    timer may fire before the caller has switched to the hub (eventlet/eventlet#798).
    urllib3 asks exactly that before it reuses a pooled connection, which the docker
    SDK does for every call; under load a worker then hung for good between creating
    a build's container and starting it. A zero timeout never blocks, so the real
    select is safe there.
    """
    from urllib3.util import wait

    real_select, green_wait = eventlet.patcher.original("select").select, wait.select_wait_for_socket

    def wait_for_socket(sock, read=False, write=False, timeout=None):
        if timeout == 0:
            ready = real_select([sock] if read else [], [sock] if write else [], [sock] if write else [], 0)
            return any(ready)
        return green_wait(sock, read=read, write=write, timeout=timeout)

    wait.wait_for_socket = wait_for_socket


def patched():
    return eventlet.patcher.is_monkey_patched("socket")


def spawn(function, *args):
    """Run `function(*args)` in a green thread of its own; returns it, to kill() and wait() on."""
    return eventlet.spawn(function, *args)


def each_at_once(function, items, at_most):
    """`function(item)` for every item, up to `at_most` at once on green threads; their results, in order."""
    return list(eventlet.GreenPool(at_most).imap(function, items))


def sleep(seconds):
    eventlet.sleep(seconds)


def off_the_hub(function, *args):
    """Run CPU-bound or C-blocking work on an OS thread, waiting green, so that the rest of the
    process goes on meanwhile; where nothing is patched, simply call it."""
    if not patched():
        return function(*args)
    return eventlet.tpool.execute(function, *args)


# Connections the kernel holds for accept(). eventlet's default of 50 overflowed under a flood of
# connections the gate was still closing, and a real client's connect was dropped, then retried by
# TCP a whole second later (seen once in CI).
LISTEN_BACKLOG = 1024


def listen(host, port):
    return eventlet.listen((host, port), backlog=LISTEN_BACKLOG)


def serve(listener, wsgi_app, *, max_connections, idle_seconds):
    """Serve `wsgi_app` on `listener` until killed; a connection idle for `idle_seconds` is closed."""
    # Its lines about requests go through logging, in the process's own format (see cli.set_up_logging).
    eventlet.wsgi.server(listener, wsgi_app, max_size=max_connections, socket_timeout=idle_seconds,
                         log=logging.getLogger("stoker.http"))


def stop(threads):
    """Kill green threads and wait for each to unwind: kill() only starts the unwinding, and a
    finally block (one that removes a container, say) must finish before the process exits."""
    for thread in threads:
        thread.kill()
        try:
            thread.wait()
        except BaseException:
            pass


@dataclass(frozen=True)
class Periodic:
    """A background task a module declares: `run(app)` again and again while the process runs.

    `every` (seconds, or a function of the app) is the pause after each run.
    `role` says which processes run it: "workers" (those with workers),
    "clients" (those serving browsers and API clients) or "all".
    `applies(app)` can rule it out for a configuration (no Redis, say).
    A run that raises is logged, and the task goes on after its pause.
    """

    name: str
    run: Callable
    every: float | Callable = 1.0
    role: str = "all"
    applies: Callable = lambda app: True

    def pause(self, app):
        return self.every(app) if callable(self.every) else self.every


def keep_running(task, app, stopping):
    """Run `task` until `stopping` (a threading.Event) is set; the supervisor's loop for one task."""
    pause = task.pause(app)
    while not stopping.is_set():
        try:
            task.run(app)
        except Exception:
            log.exception("%s failed; trying again in %g s", task.name, pause)
        if stopping.wait(pause):
            return


def supervise(app, tasks, stopping, *, roles):
    """Start each of `tasks` whose role is in `roles` and that applies to `app`; returns their threads."""
    return [spawn(keep_running, task, app, stopping) for task in tasks
            if task.role in (*roles, "all") and task.applies(app)]
