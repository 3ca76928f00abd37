"""The workspace as a git repository: the build's commit checked out from the mirror, with its history,
its tags, its submodules and its LFS files, and no credential in it.

Objects are copied out of the mirror by a fetch from it into the workspace's own `.git`: never shared
with it (alternates) nor hard-linked to its files, so nothing a build does to its `.git` reaches the
mirror. Submodules come through mirrors of their own, their URLs checked as a project's; nothing of
the repository's (hooks, filters, config) runs on the host.
"""
import json
import os
import posixpath
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from . import GitError
from .command import NO_ACCESS, credentials, run_git
from .inputs import SCP_LIKE, check_branch, check_repo_url, origin_of, without_credentials
from .lfs import fetch_from, fetched_here, lfs_url
from .modules import REGULAR, submodules_at

# A submodule's submodules count as deep as they nest; all of them count towards the most.
MAX_SUBMODULE_DEPTH = 8
MAX_SUBMODULES = 200
# What git runs with in a workspace: none of its hooks, and no fetch but the one asked for.
SAFE = ("-c", "core.hooksPath=/dev/null", "-c", "fetch.recurseSubmodules=false")
# Given on the command line to git-lfs's own commands alone, never written into the workspace.
LFS_FILTER = ("-c", "filter.lfs.process=git-lfs filter-process", "-c", "filter.lfs.required=true",
              "-c", "filter.lfs.smudge=git-lfs smudge -- %f", "-c", "filter.lfs.clean=git-lfs clean -- %f")


@dataclass(frozen=True)
class Clone:
    """How a build's workspace is checked out: `depth` commits (None: all), with its submodules, with
    its LFS files, or (`skip`) not at all."""

    depth: int | None = None
    submodules: bool = True
    lfs: bool = True
    skip: bool = False


@dataclass(frozen=True)
class Head:
    """Where a build's workspace stands: at `commit`, as the branch `branch` (a push's) or detached,
    with the mirror's refs in `also` fetched beside it as (ref, name in the workspace), those it has."""

    commit: str
    branch: str | None = None
    also: tuple = ()


def check_out(mirror, head, dest, clone, mirror_of, top=None):
    """Make the empty folder `dest` a git repository at `head` from the fetched `mirror` (a GitMirror),
    its submodules fetched through `mirror_of(url, access)` (a GitMirror) as `clone` says; `top`: the
    commit's top_level, if read already. GitError saying what failed."""
    try:
        for name in ([head.branch] if head.branch else []) + [ref.split("/", 2)[2] for ref, _ in head.also]:
            check_branch(name)
    except ValueError as exc:
        raise GitError(str(exc)) from None
    _Checkout(mirror, clone, mirror_of).repository(mirror, head, Path(dest), top, depth=0)


class _Checkout:
    def __init__(self, project, clone, mirror_of):
        self.project, self.clone, self.mirror_of = project, clone, mirror_of
        self.submodules = 0

    def _git(self, dest, *args, env=None, secrets=()):
        # Only ever the mirrors' paths are fetched from: local, whatever the project may reach.
        return run_git(["-C", str(dest), *SAFE, *args], allow_local=True, timeout=self.project.timeout, env=env,
                       secrets=secrets)

    def repository(self, mirror, head, dest, top, depth):
        """Check out one repository (the project's, or a submodule) into `dest`, then its submodules."""
        self._git(dest, "init", "--quiet", "--template=")
        self._git(dest, "remote", "add", "origin", mirror.url)
        refspecs = [f"+{head.commit}:refs/remotes/origin/{head.branch}" if head.branch else head.commit]
        # Those the remote no longer has (a base branch deleted, a tag moved away) are left out.
        refspecs += [f"+{ref}:{name}" for ref, name in head.also if mirror.has(ref)]
        shallow = [f"--depth={self.clone.depth}"] if self.clone.depth else []
        # Tags are those that point into what is fetched, as git follows them: `git describe` finds them.
        self._git(dest, "fetch", "--quiet", "--no-write-fetch-head", "--no-auto-maintenance", *shallow,
                  "--", os.path.abspath(mirror.path), *refspecs)
        if head.branch:
            self._git(dest, "checkout", "--quiet", "-B", head.branch, f"refs/remotes/origin/{head.branch}")
        else:
            self._git(dest, "checkout", "--quiet", "--detach", head.commit)
        top = top if top is not None else mirror.top_level(head.commit)
        if self.clone.lfs and _uses_lfs(mirror, top):
            self._lfs(mirror, head.commit, dest)
        if self.clone.submodules:
            for name, path, url, commit in submodules_at(lambda *args: self._git(dest, *args), head.commit, top):
                self._submodule(mirror, name, path, url, commit, dest, depth + 1)

    def _submodule(self, parent, name, path, url, commit, dest, depth):
        said = f"submodule {name!r} ({path})"
        self.submodules += 1
        if depth > MAX_SUBMODULE_DEPTH or self.submodules > MAX_SUBMODULES:
            raise GitError(f"{said}: submodules nest more than {MAX_SUBMODULE_DEPTH} deep or number more than "
                           f"{MAX_SUBMODULES}; at most that")
        if any(ord(ch) < 0x20 for ch in name) or ".." in name.split("/") or name.startswith("/"):
            raise GitError(f"{said}: not a name git allows")
        target = dest / path
        if target.is_symlink() or not target.is_dir() or not target.resolve().is_relative_to(dest.resolve()):
            raise GitError(f"{said}: its path is not a folder of the repository")
        resolved = resolved_url(url, parent.url)
        # The project's credentials go to its own host alone; any other host is asked without them.
        access = self.project.access if origin_of(resolved) == origin_of(self.project.url) else NO_ACCESS
        try:
            # Through a relay the server reaches it, and checks it by its own rules.
            if access.relay is None:
                check_repo_url(resolved, self.project.allow_local, self.project.allow_private_hosts)
        except ValueError as exc:
            reason = str(exc).replace("repoUrl", "its URL")
            raise GitError(f"{said}: its URL {without_credentials(url)!r} is refused: {reason}") from None
        mirror = self.mirror_of(resolved, access)
        try:
            mirror.fetch(commit)
            self.repository(mirror, Head(commit), target, None, depth)
        except GitError as exc:
            raise GitError(f"{said}: {exc}") from None
        self._git(dest, "config", f"submodule.{name}.url", mirror.url)

    def _lfs(self, mirror, commit, dest):
        """Replace the LFS pointers of the checkout with their files, from the remote's LFS store."""
        if shutil.which("git-lfs") is None:
            raise GitError("the repository keeps files in Git LFS, and git-lfs is not installed on this worker "
                           "(Debian: apt-get install git-lfs); or set clone: {lfs: false}")
        # The store is the remote's, whatever the repository's .lfsconfig says: -c comes first.
        relay = mirror.access.relay
        # Through a relay, the server's copy of the remote's store, fetched with the project's credential.
        store = ("-c", f"lfs.url={relay.url(mirror.url, commit)}/info/lfs" if relay else f"lfs.url={lfs_url(mirror.url)}")
        # git-lfs reads the user's ~/.netrc; this host's user has none to give.
        home = tempfile.mkdtemp(prefix="stoker-lfs-")
        try:
            with credentials(mirror.remote, mirror.access) as env:
                env = {**env, "HOME": home}
                if relay is None and fetched_here(mirror.url):
                    self._fetch_lfs(mirror, dest, env)
                else:
                    self._git(dest, *store, *LFS_FILTER, "lfs", "fetch", "origin", commit, env=env,
                              secrets=mirror.access.secrets())
                self._git(dest, *store, *LFS_FILTER, "lfs", "checkout", env=env)
                # The index learns the files as they are now, so a git without git-lfs sees them
                # unchanged; dated a little back, or git would look at them again (racily clean).
                files = self._git(dest, *store, *LFS_FILTER, "lfs", "ls-files", "--name-only", env=env)
                past = time.time() - 2
                for name in filter(None, files.splitlines()):
                    try:
                        os.utime(dest / name, (past, past), follow_symlinks=False)
                    except OSError:
                        pass  # a name git-lfs quoted: that file is looked at again, and seen changed
                self._git(dest, *LFS_FILTER, "update-index", "-q", "--refresh", env=env)
        finally:
            shutil.rmtree(home, ignore_errors=True)


    def _fetch_lfs(self, mirror, dest, env):
        """The checkout's LFS files into its own store by Stoker's client, not git-lfs (see lfs.py)."""
        listed = json.loads(self._git(dest, *LFS_FILTER, "lfs", "ls-files", "--json", env=env)).get("files") or []
        # One git-lfs says is here already (in the store, or whole in the tree) is not fetched again.
        files = {item["name"]: item for item in listed
                 if isinstance(item, dict) and isinstance(item.get("name"), str) and not item.get("downloaded")}
        try:
            fetched = fetch_from(mirror, list(files.values()), dest / ".git" / "lfs" / "objects", env)
        except GitError as exc:
            raise GitError(f"the repository's LFS files could not be fetched: {exc}") from None
        for name, item in files.items():
            if item.get("oid") not in fetched:
                raise GitError(f"the repository's LFS server did not send the LFS file {name!r}")


def _uses_lfs(mirror, top):
    """Whether the root .gitattributes sends files through LFS (read as git would, a link not followed)."""
    mode, sha = top.get(".gitattributes", (None, None))
    if mode not in REGULAR:
        return False
    content = mirror.blob(sha, 1024 * 1024)
    return content is not None and b"filter=lfs" in content


def resolved_url(url, base):
    """A submodule's URL as git reads it: `./x` and `../x` are relative to its superproject's URL."""
    if not url.startswith(("./", "../")):
        return url
    if SCP_LIKE.fullmatch(base):
        host, _, path = base.partition(":")
        joined = posixpath.normpath(f"{path}/{url}")
        if joined.startswith(".."):
            raise GitError(f"relative URL {url!r} climbs out of {base!r}")
        return f"{host}:{joined}"
    parts = urlsplit(base) if "://" in base else None
    path = parts.path if parts else base
    joined = posixpath.normpath(f"{path.rstrip('/')}/{url}")
    if not joined.startswith("/") or joined.startswith("//"):
        raise GitError(f"relative URL {url!r} climbs out of {base!r}")
    return urlunsplit(parts._replace(path=joined)) if parts else joined
