"""The data dir: private to Stoker's own user, and mounted so that setuid bits in it mean nothing.

A build is root in its container and its workspace is a host folder under the
data dir, so whatever it writes there (a setuid copy of a shell, say) is on
the host. Two things keep that from becoming a way up for another user of the
host: the data dir is 0700, so no one else can reach into it whatever a build
does to its own folders, and, where Stoker may mount, it is a nosuid, nodev
bind mount of itself, so setuid and setgid bits and device files there are
ignored even for whoever can reach them.
"""
import logging
import os
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


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


def mount_nosuid(data_dir):
    """Make the data dir a nosuid, nodev mount of itself, if it is not on one; True if it is now.

    Needs root (a worker usually is, to reach the Docker engine). The mount is
    left in place when the process ends: other Stoker processes on this host
    may share the data dir.
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
    return ignores_setuid(path)
