"""Workers: the side that claims records and hands plain values to pipeline/ to run.

`Worker` (loop.py) claims jobs of every kind in app/records/jobs.py and runs each
with its kind's executor: builds.py (under a `Watch`, watch.py) and app_builds.py.
recovery.py takes back what lost workers left. Imports the records, the forges,
the live side and the background work.
"""
from ..records.lifecycle import STOPPED
from .loop import Worker, worker_name
from .recovery import REMOVE_WHAT_LOST_BUILDS_LEFT, TAKE_BACK_LOST_BUILDS

__all__ = ["REMOVE_WHAT_LOST_BUILDS_LEFT", "STOPPED", "TAKE_BACK_LOST_BUILDS", "Worker", "worker_name"]
