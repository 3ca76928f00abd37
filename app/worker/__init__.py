"""Workers: the side that claims records and hands plain values to pipeline/ to run.

`Worker` runs builds and app builds (loop.py), each under a `Watch` (watch.py);
`look_after_lost_builds` takes back what lost workers left (recovery.py).
"""
from .loop import STOPPED, Worker, worker_name
from .recovery import look_after_lost_builds

__all__ = ["STOPPED", "Worker", "look_after_lost_builds", "worker_name"]
