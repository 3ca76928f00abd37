"""What a build keeps of its workspace (`artifacts:` in .stoker.yml): the regular files its globs name,
collected once its steps have ended, each handed to whoever keeps them (the worker's store, or the
server through an agent).

The workspace is the build's own, written by strangers' code: a link is never followed (a file that
is one is not kept, a folder that is one is not entered), nothing but a regular file is read, and a
file is opened without following a link at its last step and checked again once open. By then no
step runs, so nothing changes under the walk.
"""
import os
import stat
import time
from dataclasses import dataclass
from pathlib import PurePosixPath

from . import globs

# The most files a build keeps, and the most workspace entries looked at to find them.
MAX_FILES = 100
MAX_LOOKED_AT = 200_000
MAX_NAME_LENGTH = 500
LOOKING_SECONDS = 120
# The folder git keeps: never an artifact.
SKIPPED = {".git"}


@dataclass(frozen=True)
class ArtifactPlan:
    """`artifacts:` as the pipeline file gives it."""

    paths: tuple = ()
    # JUnit XML files: kept, and read for the build's test counts.
    reports: tuple = ()
    # "success": collected after a build whose steps all passed; "always": after a failed one too.
    when: str = "success"


@dataclass(frozen=True)
class Found:
    name: str
    size: int
    report: bool


class Refused(Exception):
    """A file matched but is not kept; says why."""


def find(workspace, plan, max_bytes, total_bytes, say, halt=None):
    """The files of `workspace` the plan names, as Found, within the bounds: each at most
    `max_bytes`, all at most `total_bytes`, at most MAX_FILES, looked for at most LOOKING_SECONDS
    (and no longer once `halt` is set). What is passed over is said."""
    found, total, looked = [], 0, 0
    patterns = plan.paths + plan.reports
    deadline = time.monotonic() + LOOKING_SECONDS
    for folder, folders, files in os.walk(workspace, followlinks=False):
        if time.monotonic() > deadline or (halt is not None and halt.is_set()):
            say(f"Artifacts: looked for no longer than {LOOKING_SECONDS} s, or the build was stopped; "
                "what was found by then is kept")
            break
        relative = PurePosixPath(os.path.relpath(folder, workspace))
        if relative.parts == ():
            folders[:] = [name for name in folders if name not in SKIPPED]
        folders.sort()
        looked += len(folders) + len(files)
        if looked > MAX_LOOKED_AT:
            say(f"Artifacts: the workspace holds more than {MAX_LOOKED_AT} entries; looked no further")
            break
        for entry in sorted(files):
            name = str(relative / entry) if relative.parts else entry
            # A name no artifact may have is not even matched: matching costs its length.
            if len(name) > MAX_NAME_LENGTH or not name.isprintable() or not globs.matches(patterns, name):
                continue
            info = os.lstat(os.path.join(folder, entry))
            if not stat.S_ISREG(info.st_mode):
                say(f"Artifact {name!r} not kept: not a regular file (a link, say)")
                continue
            if info.st_size > max_bytes:
                say(f"Artifact {name!r} not kept: {info.st_size / 2**20:.1f} MB, more than {max_bytes / 2**20:g} MB")
                continue
            if len(found) >= MAX_FILES or total + info.st_size > total_bytes:
                say(f"Artifact {name!r} and any after it not kept: a build keeps at most {MAX_FILES} files "
                    f"and {total_bytes / 2**20:g} MB")
                return found
            total += info.st_size
            found.append(Found(name, info.st_size, globs.matches(plan.reports, name)))
    return found


def opened(workspace, name, size):
    """The artifact `name` of the workspace, open for reading: a regular file of the size found, its
    every folder a real one; Refused if it is not so now."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    at = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        parts = PurePosixPath(name).parts
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=at)
            os.close(at)
            at = inner
        fd = os.open(parts[-1], flags, dir_fd=at)
    except OSError as exc:
        raise Refused(f"Artifact {name!r} not kept: {exc.strerror}") from None
    finally:
        os.close(at)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size != size:
        os.close(fd)
        raise Refused(f"Artifact {name!r} not kept: it changed while it was collected")
    return os.fdopen(fd, "rb")
