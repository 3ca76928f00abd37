"""The data dir: private to Stoker's own user, and mounted so that setuid bits in it mean nothing.

A build is root in its container and its workspace is a host folder under the
data dir, so whatever it writes there (a setuid copy of a shell, say) is on
the host. Two things keep that from becoming a way up for another user of the
host: the data dir is 0700, so no one else can reach into it whatever a build
does to its own folders, and, where Stoker may mount, it is a nosuid, nodev
bind mount of itself, so setuid and setgid bits and device files there are
ignored even for whoever can reach them.
"""
import fcntl
import logging
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# In the data dir: every process using it holds a shared lock on USERS while it runs; STOKERS_MOUNT
# says the nosuid mount there is Stoker's own, for the last process leaving to take away.
USERS, STOKERS_MOUNT = ".users.lock", ".nosuid-mount"


def make_private(data_dir):
    """Create the data dir if need be, and make it 0700 whatever the umask or its mode before."""
    path = Path(data_dir)
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    path.chmod(PRIVATE_DIR)
    return path


def make_file_private(path):
    """Make an existing file 0600 (files Stoker made before it kept them private)."""
    try:
        os.chmod(path, PRIVATE_FILE)
    except FileNotFoundError:
        pass


def ignores_setuid(path):
    return bool(os.statvfs(path).f_flag & os.ST_NOSUID)


@contextmanager
def kept_nosuid(data_dir):
    """The data dir on a nosuid, nodev mount while the block runs, where this process may mount.

    Processes on one host may share the data dir: each holds a shared lock while it runs, and the
    last to leave takes away the mount Stoker made (never one the host's admin made), so none is
    left behind. One that is starting waits while one leaving does that.
    """
    path = make_private(data_dir)
    users = os.open(path / USERS, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    try:
        fcntl.flock(users, fcntl.LOCK_SH)
        mount_nosuid(path)
        yield
    finally:
        try:
            fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if (path / STOKERS_MOUNT).exists():
                # Lazily: files this process still has open there (the database) keep it busy.
                subprocess.run(["umount", "--lazy", str(path)], capture_output=True)
                (path / STOKERS_MOUNT).unlink(missing_ok=True)
        except BlockingIOError:
            pass  # another process still uses the data dir, and its mount
        finally:
            os.close(users)


def mount_nosuid(data_dir):
    """Make the data dir a nosuid, nodev mount of itself, if it is not on one; True if it is now.

    Needs root (a worker usually is, to reach the Docker engine). See kept_nosuid for when the
    mount is taken away.
    """
    path = str(make_private(data_dir))
    if ignores_setuid(path):
        return True
    if os.geteuid() != 0:
        log.warning("%s is not on a nosuid mount, and this process is not root so cannot make it one: "
                    "only its mode (0700) keeps other users from setuid files a build writes there. "
                    "As root: mount --bind %s %s && mount -o remount,bind,nosuid,nodev %s",
                    path, path, path, path)
        return False
    for command in (["mount", "--bind", path, path], ["mount", "-o", "remount,bind,nosuid,nodev", path]):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            log.warning("could not mount %s nosuid (%s): %s", path, " ".join(command), done.stderr.strip())
            return False
    (Path(path) / STOKERS_MOUNT).touch(mode=PRIVATE_FILE)
    return ignores_setuid(path)
