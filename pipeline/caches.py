"""A project's cache on this host: the paths a .stoker.yml names under `cache:`, kept from one
build's workspace for the next, one tar archive per branch.

Nothing in an archive reaches outside the workspace it is restored into, or came from outside the
one it was saved from: a path through a link is refused on the way in, a link leading out is left
behind, and tarfile's "data" filter checks every member again on the way out. Who may read and
write which archive is the worker's to say (see CacheAccess).
"""
import hashlib
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MAX_PATHS = 20
MAX_PATH_LENGTH = 255


class CacheError(Exception):
    """Why a cache could not be restored or saved; the build goes on without it."""


@dataclass(frozen=True)
class CacheAccess:
    """What one build may do with its project's caches on this host."""

    # The project's own folder of archives.
    folder: Path
    # The branch whose archive is read first and, with `write`, replaced when the build passes.
    branch: str
    # Read when `branch` has none yet (the project's default branch).
    fallback: str | None
    write: bool
    max_bytes: int


def check_path(text):
    """A cache path as given in .stoker.yml, normalised, or ValueError: relative, inside the workspace."""
    if not text or len(text) > MAX_PATH_LENGTH or not text.isprintable() or "\\" in text:
        raise ValueError(f"cache path {text[:80]!r} must be 1 to {MAX_PATH_LENGTH} printable characters")
    path = PurePosixPath(text)
    if path.is_absolute() or ".." in path.parts or not path.parts or path.parts == (".",):
        raise ValueError(f"cache path {text!r} must be a path inside the workspace, such as node_modules")
    return str(path)


def archive_of(folder, branch):
    return Path(folder) / f"{hashlib.sha256(branch.encode()).hexdigest()[:32]}.tar"


def restore(access, workspace, paths):
    """Extract the branch's archive (else the fallback's) into `workspace`, the members under
    `paths` alone; return the branch whose it was, or None when there is none yet."""
    for branch in dict.fromkeys(name for name in (access.branch, access.fallback) if name):
        archive = archive_of(access.folder, branch)
        try:
            with tarfile.open(archive) as tar:
                members = [member for member in tar.getmembers() if _under(member.name, paths)]
                tar.extractall(workspace, members=members, filter="data")
        except FileNotFoundError:
            continue
        except (tarfile.TarError, OSError) as exc:
            raise CacheError(f"the cache of {branch} could not be restored: {exc}") from None
        # Used: a sweep of caches left unused keeps it.
        os.utime(archive)
        return branch
    return None


def save(access, workspace, paths):
    """Replace the branch's archive with `paths` as they are in `workspace` (those present); return
    its size in bytes. Raises CacheError, leaving the archive before it as it was."""
    workspace = Path(os.path.realpath(workspace))
    access.folder.mkdir(parents=True, exist_ok=True)
    archive = archive_of(access.folder, access.branch)
    fd, part = tempfile.mkstemp(dir=access.folder, suffix=".part")
    too_big = CacheError(f"the cache would be larger than {access.max_bytes // 2**20} MB; it is not kept")

    def keep(member):
        if member.issym():
            target = PurePosixPath(os.path.normpath(PurePosixPath(member.name).parent / member.linkname))
            if PurePosixPath(member.linkname).is_absolute() or ".." in target.parts:
                return None  # a link leading out of the workspace stays behind
        elif not (member.isfile() or member.isdir() or member.islnk()):
            return None  # devices and pipes are no cache
        # The archive as written so far, headers and all: many empty files with long names are small
        # files and a big archive.
        if raw.tell() + member.size > access.max_bytes:
            raise too_big
        return member

    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for relative in paths:
                full = workspace / relative
                if os.path.realpath(full.parent) != str(full.parent):
                    raise CacheError(f"cache path {relative} passes through a link")
                if full.is_symlink() or full.exists():
                    tar.add(full, arcname=relative, recursive=True, filter=keep)
        if Path(part).stat().st_size > access.max_bytes:
            raise too_big
        os.replace(part, archive)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise
    return archive.stat().st_size


def _under(name, paths):
    return any(name == path or name.startswith(path + "/") for path in paths)
