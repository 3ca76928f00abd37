"""Seeing every process this Python starts, however it is started."""
import sys
from contextlib import contextmanager

_spawned = None
_hooked = False


def _audit(event, args):
    if _spawned is not None and event in ("subprocess.Popen", "os.posix_spawn", "os.exec", "os.system"):
        _spawned.append((event, args[1] if event == "subprocess.Popen" else args[0]))


@contextmanager
def processes_started():
    """Within it, yields the list of (event, program) for every process this Python starts."""
    global _spawned, _hooked
    if not _hooked:
        # An audit hook cannot be removed: added once, at first use, it records only in here.
        sys.addaudithook(_audit)
        _hooked = True
    _spawned = []
    try:
        yield _spawned
    finally:
        _spawned = None
