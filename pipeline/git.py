"""Git for builds: checking what users give us, and a cached bare mirror per repository.

Every URL, branch and commit is checked here before any git process starts,
and every git process runs with GIT_ALLOW_PROTOCOL so that git itself refuses
transports we never meant to allow (ext::, file:// when local repos are off).
"""
import base64
import hashlib
import logging
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit, urlunsplit

from filelock import FileLock, Timeout

from .hosts import UnsafeAddress, check_host, resolve

log = logging.getLogger(__name__)

COMMIT_HASH = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
SCP_LIKE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9.-]*:[A-Za-z0-9._~][A-Za-z0-9._~/-]*")
REF_FORBIDDEN = set(" ~^:?*[\\")
# The user information of a URL (`scheme://user:password@`), wherever it stands in a text.
USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s]*@")


# How builds fetch: git's own upkeep (packing loose objects) is not done on the way to the
# build, but by GitMirror.maintain once the build's result is out.
FETCH = ("fetch", "--no-auto-maintenance", "--no-write-fetch-head")


class GitError(Exception):
    """A git operation failed; the message is fit to show the user."""


class UnsafeRemote(GitError, UnsafeAddress):
    """The repository's address is one Stoker may not reach (private, loopback, link-local)."""


def check_repo_url(url, allow_local, allow_private_hosts=False):
    """Return the URL if Stoker may hand it to git, else raise ValueError saying why.

    Local paths and private network hosts are separate permissions: a server
    that builds local repositories must still not be steered at its own
    network. Link-local addresses (cloud metadata) are never allowed.
    """
    if not isinstance(url, str) or not url:
        raise ValueError("repoUrl must be a non-empty string")
    if len(url) > 2048:
        raise ValueError("repoUrl is longer than 2048 characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise ValueError("repoUrl must not contain spaces or control characters")
    if url.startswith("-"):
        raise ValueError("repoUrl must not start with '-'")
    if url.startswith("https://"):
        _check_host(_https_host(url), allow_private_hosts)
        return url
    if SCP_LIKE.fullmatch(url):
        _check_host(url.partition("@")[2].partition(":")[0], allow_private_hosts)
        return url
    if url.startswith("ssh://"):
        _check_host(_ssh_address(url)[0], allow_private_hosts)
        return url
    if allow_local and (url.startswith("file:///") or url.startswith("/")) and "::" not in url:
        return url
    allowed = "an https:// URL, git@host:owner/repo or ssh://git@host[:port]/owner/repo"
    if allow_local:
        allowed += ", an absolute path or a file:/// URL"
    raise ValueError(f"repoUrl must be {allowed}")


def without_credentials(text):
    """`text` with the user information of every URL in it replaced by `***`."""
    return USERINFO.sub(r"\1***@", text)


def _https_host(url):
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise ValueError("repoUrl is not a valid URL") from None
    if "@" in parts.netloc:
        # They would be stored, shown in answers and logs, and visible to every local user
        # in the process list while git ran.
        raise ValueError("repoUrl must not contain a user name or password; "
                         "give a private repository's token as repoToken instead")
    if parts.query or parts.fragment:
        raise ValueError("repoUrl must not have a query or fragment")
    if parts.path.strip("/") == "":
        raise ValueError("repoUrl has no repository path")
    return host


SSH_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SSH_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*|[0-9A-Fa-f:.]+")


def _ssh_address(url):
    """(host, port) of an ssh:// URL, which must name a user and a path and nothing else."""
    try:
        parts = urlsplit(url)
        port = parts.port or 22
    except ValueError:
        raise ValueError("repoUrl is not a valid URL") from None
    user, at, _ = parts.netloc.rpartition("@")
    if not at or not SSH_USER.fullmatch(user) or not SSH_HOST.fullmatch(parts.hostname or ""):
        raise ValueError("an ssh:// repoUrl names a user and a host, such as ssh://git@host:22/owner/repo")
    if parts.query or parts.fragment or parts.path.strip("/") == "" or parts.path.startswith("/-"):
        raise ValueError("repoUrl has no repository path, or a query or fragment")
    return parts.hostname, port


def is_ssh(url):
    return url.startswith("ssh://") or bool(SCP_LIKE.fullmatch(url))


def _check_host(host, allow_private_hosts):
    check_host(host, allow_private_hosts, "repoUrl", error=UnsafeRemote)


def network_pins(url, allow_private_hosts):
    """Resolve the URL's host once, refuse it if any address is one Stoker may not reach, and
    return git options that make git connect to exactly those addresses.

    Checking the name alone is not enough: a name can resolve to a private address
    (or a number git reads as one, such as 2130706433), and resolve differently by
    the time git looks it up again. Pinning covers https; an ssh host is checked but
    ssh resolves it again itself.
    """
    if url.startswith("https://"):
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or 443
    elif SCP_LIKE.fullmatch(url):
        host, port = url.partition("@")[2].partition(":")[0], 22
    elif url.startswith("ssh://"):
        host, port = _ssh_address(url)
    else:
        return []  # a local path: no network
    try:
        addresses = resolve(host, port, allow_private_hosts, "repoUrl", error=UnsafeRemote)
    except OSError:
        raise GitError(f"cannot resolve the repository host {host}") from None
    if not url.startswith("https://"):
        return []
    listed = ",".join(f"[{a}]" if a.version == 6 else str(a) for a in addresses)
    return ["-c", f"http.curloptResolve={host}:{port}:{listed}"]


def check_branch(name):
    """Return the branch name if git would accept it as a branch, else raise ValueError."""
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise ValueError("branch must be a string of 1 to 255 characters")
    bad = (
        name.startswith(("-", "/"))
        or name.endswith(("/", ".", ".lock"))
        or ".." in name
        or "//" in name
        or "@{" in name
        or name == "@"
        or any(ch in REF_FORBIDDEN or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name)
        or any(part.startswith(".") or part.endswith(".lock") for part in name.split("/"))
    )
    if bad:
        raise ValueError(f"branch {name!r} is not a valid git branch name")
    return name


def check_commit_hash(value):
    """Return a full lowercase commit hash, else raise ValueError."""
    if not isinstance(value, str) or not COMMIT_HASH.fullmatch(value):
        raise ValueError("commit hash must be 40 (or 64) lowercase hex digits")
    return value


def git_env(allow_local):
    """What every git process runs with: the project's own credentials (see `credentials`) and
    nothing of this host's user, whose ssh keys, agent, ssh config, git config and credential
    helpers could reach what no project was given."""
    protocols = "https:ssh" + (":file" if allow_local else "")
    return {
        "GIT_ALLOW_PROTOCOL": protocols,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_SSH_COMMAND": "ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none "
                           "-o IdentityFile=none -o StrictHostKeyChecking=accept-new",
    }


def run_git(args, *, allow_local, timeout, env=None, secrets=()):
    """Run one git command; its output (without the last newline), or GitError with git's own
    words on failure (never with any of `secrets` in them). A process, not GitPython: a web
    process checks remotes without loading it."""
    try:
        done = subprocess.run(["git", *args], env={**os.environ, **git_env(allow_local), **(env or {})},
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except Exception as exc:
        # Under eventlet the green module raises the standard library's TimeoutExpired, another
        # class than its own; either way run() has killed git.
        if type(exc).__name__ != "TimeoutExpired":
            raise
        raise GitError(f"git took longer than {timeout:g} s") from None
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace")
        lines = [line.strip() for line in said.splitlines() if line.strip()]
        reason = without_credentials(_reason(lines) if lines else f"git exited with {done.returncode}")
        for secret in secrets:
            reason = reason.replace(secret, "***")
        raise GitError(reason.strip("' "))
    out = done.stdout.decode("utf-8", "replace")
    return out[:-1] if out.endswith("\n") else out


@dataclass(frozen=True)
class Access:
    """How git proves itself to a private repository: a token for https:// remotes, a deploy key
    (an OpenSSH private key) for ssh ones, with the server's host key once pinned."""

    token: str | None = None
    ssh_key: str | None = None
    known_hosts: str | None = None
    # Given the host key ssh accepted on first contact, to pin it for every later one.
    pin: Callable[[str], None] | None = None

    def secrets(self):
        return [value for value in (self.token, self.ssh_key) if value]

    def fingerprint(self):
        """Names the credential (never shows it): a mirror fetched with one is used with it alone."""
        digest = hashlib.sha256()
        for value in (self.token, self.ssh_key):
            digest.update((value or "").encode() + b"\0")
        return digest.hexdigest()[:16]


NO_ACCESS = Access()


@contextmanager
def credentials(url, access):
    """Git environment carrying `access` for `url`, so that no credential is ever in a command
    line: a token as an HTTP header in git's environment, a deploy key in a file of a folder only
    this user can read, removed when git is done."""
    url, env = _split_credentials(url)
    env = dict(env or {})
    if access.token and url.startswith("https://") and not env:
        basic = base64.b64encode(f"x-access-token:{access.token}".encode()).decode()
        env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="http.extraHeader",
                   GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}")
    if not (access.ssh_key and is_ssh(url)):
        yield env
        return
    folder = Path(tempfile.mkdtemp(prefix="stoker-ssh-"))
    try:
        key, hosts = folder / "key", folder / "known_hosts"
        with os.fdopen(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(access.ssh_key.strip() + "\n")
        hosts.write_text(access.known_hosts.strip() + "\n" if access.known_hosts else "")
        checking = "yes" if access.known_hosts else "accept-new"
        env["GIT_SSH_COMMAND"] = (
            f"ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i {shlex.quote(str(key))} "
            f"-o UserKnownHostsFile={shlex.quote(str(hosts))} -o GlobalKnownHostsFile=/dev/null "
            f"-o StrictHostKeyChecking={checking}")
        yield env
        learned = hosts.read_text().strip()
        if learned and not access.known_hosts and access.pin is not None:
            access.pin(learned)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _reason(lines):
    """The line of git's stderr that says why: its last, but for a remote it could not read, what
    ssh said before git's own advice (a host key that changed, a key the server refused)."""
    for index, line in enumerate(lines):
        if "Could not read from remote repository" in line:
            said = [earlier for earlier in lines[:index] if not earlier.startswith(("Warning:", "@"))]
            return f"{said[-1]} ({line.removeprefix('fatal: ')})" if said else line
    return lines[-1]


def ls_remote_branch(url, branch, *, allow_local, timeout, allow_private_hosts=False, access=NO_ACCESS):
    """Return the commit hash at the tip of `branch` in the remote repository."""
    pins = network_pins(url, allow_private_hosts)
    with credentials(url, access) as env:
        out = run_git([*pins, "ls-remote", "--heads", "--", _split_credentials(url)[0], f"refs/heads/{branch}"],
                      allow_local=allow_local, timeout=timeout, env=env, secrets=access.secrets())
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref == f"refs/heads/{branch}":
            return sha
    raise GitError(f"branch {branch!r} does not exist in the repository")


def _split_credentials(url):
    """The URL without its user information, and git environment that sends it as a header instead.

    Such URLs are refused now, but projects made before may have one: git's
    command line is visible to every local user, its environment is not.
    """
    parts = urlsplit(url) if url.startswith("https://") else None
    if parts is None or "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    basic = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
    return urlunsplit(parts._replace(netloc=host)), {
        "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"}


PULL_REF = re.compile(r"refs/pull/[1-9][0-9]{0,9}/head")


def check_pull_ref(ref):
    if not isinstance(ref, str) or not PULL_REF.fullmatch(ref):
        raise ValueError("a pull request's ref must be refs/pull/<number>/head")
    return ref


def mirror_path(root, url, access=NO_ACCESS):
    """Where the mirror of the remote at `url`, as fetched with `access`, lives under `root`.

    One mirror per remote and credential: what one project's token or key fetched is never there
    for a project that reaches the remote with another one, or with none, to read without fetching.
    """
    return Path(root) / f"{_url_key(url)}-{access.fingerprint()}.git"


def _url_key(url):
    return hashlib.sha256(url.encode()).hexdigest()[:24]


def remove_mirrors_except(root, urls, *, older_than):
    """Remove the mirrors under `root` of remotes not in `urls` (whatever credential fetched them),
    untouched since `older_than` (a time.time(): a mirror made after the caller read `urls` may be a
    new project's) and not in use; return how many went. Mirrors of the form before credentials had
    their own go too."""
    kept = {_url_key(url) for url in urls}
    removed = 0
    for path in Path(root).glob("*.git"):
        url_key, credential, _ = path.name.partition("-")
        if (credential and url_key in kept) or path.stat().st_mtime >= older_than:
            continue
        try:
            with FileLock(str(path) + ".lock", timeout=0):
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

    def read(self, name):
        """(type, content) of the object `name` (a hash, or a hash with ^{commit}), None when it
        has no such object or cannot tell."""
        with self.lock:
            try:
                if self.process is None or self.process.poll() is not None or self._moved():
                    self._start()
                self.process.stdin.write(name.encode() + b"\n")
                self.process.stdin.flush()
                header = self.process.stdout.readline().split()
                if len(header) != 3:
                    return None
                content = self.process.stdout.read(int(header[2]) + 1)[:-1]
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


class GitMirror:
    """A bare mirror of one remote repository, fetched into and exported from, never cloned per build.

    With a `reader` (an ObjectReader on the same path) it asks that first whether it has a commit
    and what the commit says.
    """

    def __init__(self, root, url, *, allow_local, timeout, allow_private_hosts=False, access=NO_ACCESS,
                 reader=None):
        self.path = mirror_path(root, url, access)
        self.remote, self.url = url, _split_credentials(url)[0]
        self.access = access
        self.allow_local = allow_local
        self.allow_private_hosts = allow_private_hosts
        self.timeout = timeout
        self.lock = FileLock(str(self.path) + ".lock")
        self.reader = reader

    def _git(self, *args, env=None):
        return run_git(["--git-dir", str(self.path), *args],
                       allow_local=self.allow_local, timeout=self.timeout, env=env, secrets=self.access.secrets())

    def _fetch(self, *args):
        with credentials(self.remote, self.access) as env:
            self._git(*args, env=env)

    def has(self, commit_hash, surely=True):
        """Whether the mirror has the commit; not `surely`: a quick answer, perhaps a wrong no."""
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
        """Make sure `commit_hash` is in the mirror, fetching only what is new; a pull request's
        `ref` (refs/pull/<n>/head, which GitHub keeps in the base repository, forks' too) is
        fetched with the branches and tags. True when it fetched: then `maintain()` is owed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock:
            if not (self.path / "HEAD").exists():
                shutil.rmtree(self.path, ignore_errors=True)
                self.path.mkdir(parents=True)
                self._git("init", "--quiet", "--bare")
            # A wrong no here costs a fetch that brings nothing.
            if self.has(commit_hash, surely=False):
                return False
            pins = network_pins(self.url, self.allow_private_hosts)
            try:
                extra = [f"+{check_pull_ref(ref)}:{ref}"] if ref and ref.startswith("refs/pull/") else []
                self._fetch(*pins, *FETCH, "--prune", "--force", "--", self.url,
                            "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", *extra)
            except GitError:
                self._remove_half_written()
                raise
            if not self.has(commit_hash):
                # A force-push may have left the commit on no branch; ask for it by name.
                try:
                    self._fetch(*pins, *FETCH, "--", self.url, commit_hash)
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

    def export(self, commit_hash, dest):
        """Write the tree of `commit_hash` into the empty folder `dest`, as git checks it out."""
        index = Path(dest).parent / f".{Path(dest).name}.index"
        env = {"GIT_INDEX_FILE": str(index), "GIT_WORK_TREE": str(dest)}
        try:
            self._git("read-tree", "--reset", "-u", commit_hash, env=env)
        finally:
            index.unlink(missing_ok=True)


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
