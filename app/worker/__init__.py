"""Workers: the side that claims records and hands plain values to pipeline/ to run.

`Worker` (loop.py) claims jobs of every kind in app/records/jobs.py and runs each
with its kind's executor: builds.py (under a `Watch`, watch.py) and app_builds.py.
recovery.py takes back what lost workers left. Imports the records, the forges,
the live side and the background work.
"""
from .builds import STOPPED
from .loop import Worker, worker_name
from .recovery import LOOK_AFTER_LOST_BUILDS

__all__ = ["LOOK_AFTER_LOST_BUILDS", "STOPPED", "Worker", "worker_name"]
