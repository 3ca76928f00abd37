"""The `stoker` command.

Patches the standard library for eventlet before anything else is imported:
peewee, the docker SDK and GitPython bind threading and socket primitives at
import time, and must get the green ones so that one build never stalls the
web server. This is the only place that patches; see app/cli.py for the rest.
"""
import warnings

# The stack is chosen (see README); the banner would print on every command.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()


def never_wait_on_the_hub_for_nothing():
    """Answer urllib3's zero-timeout socket checks with the real select, not eventlet's.

    eventlet's green select can hang for ever when asked not to wait at all: its 0 s
    timer may fire before the caller has switched to the hub (eventlet/eventlet#798).
    urllib3 asks exactly that before it reuses a pooled connection, which the docker
    SDK does for every call; under load a worker then hung for good between creating
    a build's container and starting it. A zero timeout never blocks, so the real
    select is safe there.
    """
    from eventlet.patcher import original
    from urllib3.util import wait

    real_select, green_wait = original("select").select, wait.select_wait_for_socket

    def wait_for_socket(sock, read=False, write=False, timeout=None):
        if timeout == 0:
            ready = real_select([sock] if read else [], [sock] if write else [], [sock] if write else [], 0)
            return any(ready)
        return green_wait(sock, read=read, write=write, timeout=timeout)

    wait.wait_for_socket = wait_for_socket


never_wait_on_the_hub_for_nothing()

from app.cli import main  # noqa: E402  (must follow the patch)

if __name__ == "__main__":
    main()
