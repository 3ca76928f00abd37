"""Folders a build or app build works in: each locked by its process while in use, swept when left behind.

A process killed with -9 never runs its `finally`, so its folders stay; the
lock (flock, which the kernel drops when the process dies, in any container on
this host) tells a leftover from a folder some live process still uses.
"""
import fcntl
import logging
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

# A folder is made under this prefix and renamed once locked; one left so (its process died
# in between) is a leftover once it is this old.
NEW = "new-"
MIN_AGE_SECONDS = 60
# Under the data dir: where builds and app builds make their folders.
BUILDS = "workspaces"
APP_BUILDS = "app-builds"


@contextmanager
def workspace(root, prefix):
    """A new empty folder under `root`, locked while the block runs and removed after it."""
    root = Path(root)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    made = Path(tempfile.mkdtemp(prefix=NEW + prefix, dir=root))
    path = made
    fd = os.open(made, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # Only now does a sweep look at it: it can never see it unlocked.
        path = made.rename(root / made.name.removeprefix(NEW))
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def sweep_data_dir(data_dir):
    """Sweep the folders of builds and app builds under the data dir; return what was removed."""
    return [name for folder in (BUILDS, APP_BUILDS) for name in sweep(Path(data_dir) / folder)]


def sweep(root, min_age=MIN_AGE_SECONDS):
    """Remove the folders under `root` that no live process holds, and return their names.

    Files beside them (a checkout's temporary index) go once their folder is gone.
    """
    removed = []
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return removed
    now = time.time()
    for entry in entries:
        try:
            if entry.name.startswith(NEW) and now - entry.stat(follow_symlinks=False).st_ctime < min_age:
                continue
            if entry.is_dir(follow_symlinks=False):
                if _remove_if_unlocked(entry.path):
                    removed.append(entry.name)
            elif not (Path(root) / entry.name.removeprefix(".").removesuffix(".index")).exists():
                os.unlink(entry.path)
                removed.append(entry.name)
        except FileNotFoundError:
            continue  # its own process removed it meanwhile
    if removed:
        log.info("removed %d left-over folder(s) under %s", len(removed), root)
    return removed


def _remove_if_unlocked(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        shutil.rmtree(path, ignore_errors=True)
        return True
    finally:
        os.close(fd)
