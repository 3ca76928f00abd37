"""The mirror: a cached bare repository per remote and credential, fetched into and exported from."""
import hashlib
import logging
import os
import shutil
import subprocess
import threading
from pathlib import Path

from filelock import FileLock, Timeout

from . import GitError
from .command import NO_ACCESS, credentials, git_env, run_git, split_credentials
from .inputs import check_branch, check_pull_ref, network_pins, pull_number

log = logging.getLogger(__name__)

# How builds fetch: git's own upkeep (packing loose objects) is not done on the way to the
# build, but by GitMirror.maintain once the build's result is out.
FETCH = ("fetch", "--no-auto-maintenance", "--no-write-fetch-head")
# As STOKER_LFS_MAX_MB says by default.
DEFAULT_LFS_MAX_BYTES = 2048 * 2**20


def mirror_path(root, url, access=NO_ACCESS):
    """Where the mirror of the remote at `url`, as fetched with `access`, lives under `root`.

    One mirror per remote and credential: what one project's token or key fetched is never there
    for a project that reaches the remote with another one, or with none, to read without fetching.
    """
    return Path(root) / f"{_url_key(url)}-{access.fingerprint()}.git"


def _url_key(url):
    return hashlib.sha256(url.encode()).hexdigest()[:24]


def remove_mirrors_except(root, urls, *, older_than, wait=0):
    """Remove the mirrors under `root` of remotes not in `urls` (whatever credential fetched them),
    made before `older_than` (a time.time(): a mirror made after the caller read `urls` may be a new
    project's) and not in use (waiting up to `wait` seconds for one that is: a fetch, its upkeep);
    return how many went. Mirrors of the form before credentials had their own go too."""
    kept = {_url_key(url) for url in urls}
    removed = 0
    for path in Path(root).glob("*.git"):
        url_key, credential, _ = path.name.partition("-")
        if credential and url_key in kept:
            continue
        # When it was made: its HEAD is written then, and never again (a fetch, or git's upkeep,
        # changes the folder itself).
        made = path / "HEAD" if (path / "HEAD").exists() else path
        try:
            if made.stat().st_mtime >= older_than:
                continue
        except FileNotFoundError:
            continue
        try:
            with FileLock(str(path) + ".lock", timeout=wait):
                shutil.rmtree(path)
        except Timeout:
            continue
        # The empty lock file stays: unlinking it could let two processes lock the same mirror.
        removed += 1
    return removed


class ObjectReader:
    """One long-lived `git cat-file --batch` on a mirror: asks whether it has a commit, and reads
    one, without a new git process each time.

    Only ever a shortcut: whatever it cannot answer (the mirror was removed and made again, the
    process died, an object it says is missing) is asked of a new process by its GitMirror.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.lock = threading.Lock()
        self.process, self.inode = None, None

    def read(self, name, most=None):
        """(type, content) of the object `name` (a hash, or a hash with ^{commit}), None when it
        has no such object or cannot tell; content None when it is larger than `most` bytes."""
        with self.lock:
            try:
                if self.process is None or self.process.poll() is not None or self._moved():
                    self._start()
                self.process.stdin.write(name.encode() + b"\n")
                self.process.stdin.flush()
                header = self.process.stdout.readline().split()
                if len(header) != 3:
                    return None
                if most is not None and int(header[2]) > most:
                    # Never read into memory: the next question starts a new process.
                    self.close()
                    return header[1].decode(), None
                content = _exactly(self.process.stdout, int(header[2]) + 1)[:-1]
                return header[1].decode(), content
            except (OSError, ValueError):
                self.close()
                return None

    def _moved(self):
        try:
            return os.stat(self.path).st_ino != self.inode
        except FileNotFoundError:
            return True

    def _start(self):
        self.close()
        self.inode = os.stat(self.path).st_ino
        self.process = subprocess.Popen(["git", "--git-dir", str(self.path), "cat-file", "--batch"],
                                        env={**os.environ, **git_env(False)}, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def close(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def _exactly(stream, size):
    """`size` bytes of `stream`: a green pipe gives a large read in pieces."""
    pieces, left = [], size
    while left:
        piece = stream.read(left)
        if not piece:
            raise OSError("git cat-file ended mid-object")
        pieces.append(piece)
        left -= len(piece)
    return b"".join(pieces)


class GitMirror:
    """A bare mirror of one remote repository, fetched into and exported from, never cloned per build.

    With a `reader` (an ObjectReader on the same path) it asks that first whether it has a commit
    and what the commit says.
    """

    def __init__(self, root, url, *, allow_local, timeout, allow_private_hosts=False, access=NO_ACCESS,
                 reader=None, lfs_max_bytes=DEFAULT_LFS_MAX_BYTES):
        self.path = mirror_path(root, url, access)
        self.remote, self.url = url, split_credentials(url)[0]
        self.access = access
        self.allow_local = allow_local
        self.allow_private_hosts = allow_private_hosts
        self.timeout = timeout
        # The most LFS bytes one fetch from it brings, in all.
        self.lfs_max_bytes = lfs_max_bytes
        self.lock = FileLock(str(self.path) + ".lock")
        self.reader = reader

    def _git(self, *args, env=None):
        return run_git(["--git-dir", str(self.path), *args],
                       allow_local=self.allow_local, timeout=self.timeout, env=env, secrets=self.access.secrets())

    def git(self, *args):
        """Run a git command that reads the mirror (no remote is asked); its output."""
        return self._git(*args)

    def _fetch(self, *args):
        with credentials(self.remote, self.access) as env:
            self._git(*args, env=env)

    def has(self, commit_hash, surely=True):
        """Whether the mirror has the commit (or a ref to one); not `surely`: a quick answer,
        perhaps a wrong no."""
        if self.reader is not None and self.reader.read(f"{commit_hash}^{{commit}}") is not None:
            return True
        if self.reader is not None and not surely:
            return False
        try:
            self._git("cat-file", "-e", f"{commit_hash}^{{commit}}")
            return True
        except GitError:
            return False

    def fetch(self, commit_hash, ref=None):
        """Make sure `commit_hash` is in the mirror, with the branches and tags (a tag's `ref` too,
        pushed after its commit was fetched), fetching only what is new; a pull request's `ref`
        (refs/pull/<n>/head, which GitHub keeps in the base repository, forks' too) is fetched with
        them. True when it fetched: then `maintain()` is owed."""
        tag = ref if ref and ref.startswith("refs/tags/") else None
        if tag is not None:
            try:
                check_branch(tag[len("refs/tags/"):])
            except ValueError as exc:
                raise GitError(f"tag: {exc}") from None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock:
            if not (self.path / "HEAD").exists():
                shutil.rmtree(self.path, ignore_errors=True)
                self.path.mkdir(parents=True)
                self._git("init", "--quiet", "--bare")
            # A wrong no here costs a fetch that brings nothing. A tag or a pull request's ref is
            # wanted too: a mirror served on (to an agent) is asked for it by name.
            also = tag or (ref if pull_number(ref) else None)
            if self.has(commit_hash, surely=False) and (also is None or self.has(also, surely=False)):
                return False
            relay = self.access.relay
            # Through a relay, the server reaches the remote: it resolves and checks its host.
            pins = [] if relay else network_pins(self.url, self.allow_private_hosts)
            source = relay.url(self.url, commit_hash) if relay else self.url
            try:
                extra = [f"+{check_pull_ref(ref)}:{ref}"] if pull_number(ref) else []
                self._fetch(*pins, *FETCH, "--prune", "--force", "--", source,
                            "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", *extra)
            except GitError:
                self._remove_half_written()
                raise
            if not self.has(commit_hash):
                # A force-push may have left the commit on no branch; ask for it by name.
                try:
                    self._fetch(*pins, *FETCH, "--", source, commit_hash)
                except GitError:
                    self._remove_half_written()
            if not self.has(commit_hash):
                raise GitError(f"commit {commit_hash} is not in the repository")
            return True

    def maintain(self):
        """Pack the mirror's loose objects once there are enough of them, as a fetch would have
        done on its way out (git maintenance run --auto: nothing, most times)."""
        with self.lock:
            try:
                # In the foreground, under the mirror's lock: a mirror being removed is never being packed.
                self._git("-c", "gc.autoDetach=false", "-c", "maintenance.autoDetach=false",
                          "maintenance", "run", "--auto", "--quiet")
            except GitError as exc:
                # The next fetch's turn will try again; no build depends on it.
                log.warning("could not maintain the mirror %s: %s", self.path, exc)

    def _remove_half_written(self):
        """Remove what a failed fetch can leave (a temporary pack, quarantined objects): on a full
        disk it would keep the disk full for every later build."""
        objects = self.path / "objects"
        for leftover in (*objects.glob("*/tmp_*"), *objects.glob("tmp_*"), *objects.glob("incoming-*")):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)

    def changed_files(self, base, head, since_fork=False):
        """The paths that differ between `base` and `head` (with `since_fork`, since the two
        parted: what a branch or pull request changed); None when the mirror lacks `base`."""
        if not self.has(base):
            return None
        spec = f"{base}...{head}" if since_fork else f"{base}..{head}"
        output = self._git("diff", "--name-only", "-z", "--no-renames", spec, "--")
        return [name for name in output.split("\0") if name]

    def describe(self, commit_hash):
        """Return (message, author name) of a commit that is in the mirror."""
        read = self.reader.read(commit_hash) if self.reader is not None else None
        if read is not None and read[0] == "commit":
            return _described(read[1])
        author, _, message = self._git("show", "--no-patch", "--format=%an%x00%B", commit_hash, "--").partition("\0")
        return message.strip(), author

    def top_level(self, commit_hash):
        """The entries at the root of the commit's tree, {name: (mode, hash)}: whether it has a
        .stoker.yml, .gitmodules or .gitattributes, read without a new git process."""
        found = self._read(f"{commit_hash}^{{tree}}")
        if found is None or found[0] != "tree":
            raise GitError(f"commit {commit_hash} has no tree in the mirror")
        entries, raw, at = {}, found[1], 0
        size = 32 if len(commit_hash) == 64 else 20
        while at < len(raw):
            space, nul = raw.index(b" ", at), raw.index(b"\0", at)
            entries[raw[space + 1:nul].decode("utf-8", "replace")] = (raw[at:space].decode(), raw[nul + 1:nul + 1 + size].hex())
            at = nul + 1 + size
        return entries

    def blob(self, object_hash, most):
        """The content of a blob, None when it is larger than `most` bytes."""
        found = self._read(object_hash, most)
        if found is None or found[0] != "blob":
            raise GitError(f"no blob {object_hash} in the mirror")
        return found[1]

    def _read(self, name, most=None):
        """An object of the mirror through its reader, else through a reader of its own."""
        found = self.reader.read(name, most) if self.reader is not None else None
        if found is None:
            fresh = ObjectReader(self.path)
            try:
                found = fresh.read(name, most)
            finally:
                fresh.close()
        return found


def _described(commit):
    """(message, author name) of a raw commit object, as `git show --format=%an%x00%B` gives them."""
    headers, _, message = commit.partition(b"\n\n")
    encoding, author = "utf-8", b""
    for line in headers.split(b"\n"):
        if line.startswith(b"author "):
            author = line[len(b"author "):].rpartition(b" <")[0]
        elif line.startswith(b"encoding "):
            encoding = line[len(b"encoding "):].decode("ascii", "replace")
    try:
        return message.decode(encoding, "replace").strip(), author.decode(encoding, "replace")
    except (LookupError, UnicodeError):
        # No such text encoding, or one that refuses bytes outright (a commit may name any, idna
        # say): as git does when it cannot convert, the bytes are taken as they are.
        return message.decode("utf-8", "replace").strip(), author.decode("utf-8", "replace")
