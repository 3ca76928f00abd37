"""Git LFS files of an https or ssh repository, fetched by Stoker's own careful client, not git-lfs.

git-lfs goes wherever the LFS server's batch answer (or, over ssh, the
server's git-lfs-authenticate) sends it, with whatever headers it names: a
repository's owner could point it at this host's loopback services or a
cloud's metadata address. Here every address an LFS server sends a request
to (object stores are often other hosts) is checked and pinned as the
repository's own is (pipeline.hosts), no redirect is followed, each file is
no larger than its pointer says and has its hash, and the repository's
credential goes to the repository's own host alone. A local repository's
are left to git-lfs: it reaches no network.
"""
import hashlib
import json
import os
import re
import shlex
import tempfile
import time
from urllib.parse import urlsplit

from ..hosts import Unreachable, download, exchange
from . import GitError
from .command import git_env, run_as_git, split_credentials, token_authorization
from .inputs import SCP_LIKE, is_ssh, network_pins, origin_of

LFS_TYPE = "application/vnd.git-lfs+json"
# The most one batch answer may be: a thousand objects' actions are far less.
MAX_ANSWER = 8 * 2**20
MAX_AUTHENTICATE = 64 * 1024
WHAT = "the repository's LFS server"
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")


def lfs_url(url):
    """Where git-lfs finds the LFS store of the repository at `url`."""
    if url.startswith("/"):
        return "file://" + url
    if url.startswith("https://"):
        return url.rstrip("/") + ("/info/lfs" if url.rstrip("/").endswith(".git") else ".git/info/lfs")
    return url


def is_oid(value):
    return isinstance(value, str) and len(value) == 64 and all(ch in "0123456789abcdef" for ch in value)


def stored(folder, oid):
    """Where an object lives in a store laid out as git-lfs lays out .git/lfs/objects."""
    return folder / oid[:2] / oid[2:4] / oid


def authorization(remote, access):
    """The header git sends the repository at `remote` (its URL, perhaps with a user and password)
    with `access`: its LFS server is asked with it too."""
    url, env = split_credentials(remote)
    if env:
        return {"Authorization": env["GIT_CONFIG_VALUE_0"].partition(": ")[2]}
    if access.token and url.startswith("https://"):
        return {"Authorization": token_authorization(access.token)}
    return {}


def fetched_here(url):
    """Whether the LFS files of the repository at `url` are fetched by fetch_from (else by git-lfs)."""
    return url.startswith("https://") or is_ssh(url)


def fetch_from(mirror, objects, folder, env):
    """`objects` ({"oid", "size"} each) of the https or ssh repository `mirror` (a GitMirror) into the
    store `folder`; the oids now there. `env`: git's, with the project's credentials in it (see
    command.credentials). GitError when its LFS server cannot be asked or sends something else."""
    if mirror.url.startswith("https://"):
        store, own = lfs_url(mirror.url), authorization(mirror.remote, mirror.access)
    else:
        network_pins(mirror.url, mirror.allow_private_hosts)
        store, own = _authenticated(mirror, env)
    # As long as git-lfs was given for all of it: one git command's time.
    return fetch_objects(store, own, objects, folder, allow_private=mirror.allow_private_hosts,
                         most_bytes=mirror.lfs_max_bytes, seconds=mirror.timeout)


def _authenticated(mirror, env):
    """(LFS store, its headers) as the ssh server's git-lfs-authenticate gives them, asked with the
    ssh command git runs (the project's deploy key, its pinned host key)."""
    if SCP_LIKE.fullmatch(mirror.url):
        destination, _, path = mirror.url.partition(":")
        port = []
    else:
        parts = urlsplit(mirror.url)
        destination, path = f"{parts.username}@{parts.hostname}", parts.path
        port = ["-p", str(parts.port)] if parts.port else []
    ssh = env.get("GIT_SSH_COMMAND") or git_env(False)["GIT_SSH_COMMAND"]
    # No more of its answer than an address and a header take: past that, ssh fails on a closed pipe.
    answer = run_as_git(["bash", "-c", f'set -o pipefail; {ssh} "$@" | head -c {MAX_AUTHENTICATE}', "ssh", *port,
                         "--", destination, f"git-lfs-authenticate {shlex.quote(path)} download"],
                        allow_local=False, timeout=mirror.timeout, env=env, secrets=mirror.access.secrets(),
                        name="ssh")
    try:
        said = json.loads(answer)
        href, header = said["href"], said.get("header") or {}
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        raise GitError("the repository's ssh server did not say where its LFS files are "
                       "(git-lfs-authenticate)") from None
    if not isinstance(href, str) or not _headers(header):
        raise GitError("the repository's ssh server named its LFS server wrongly (git-lfs-authenticate)")
    return href.rstrip("/"), header


def _headers(header):
    """Whether `header` is HTTP headers as they can be sent: names HTTP's tokens, values printable Latin-1."""
    return isinstance(header, dict) and all(
        isinstance(key, str) and HEADER_NAME.fullmatch(key) and isinstance(value, str) and value.isprintable()
        and all(ord(ch) < 256 for ch in value) for key, value in header.items())


def fetch_objects(store, own, objects, folder, *, allow_private, most_bytes, seconds):
    """Download `objects` ({"oid", "size"} each) from the LFS server at `store` (the root of its
    API), asked for with the headers `own`, into the store `folder`, all within `seconds`; the oids
    now there. GitError when they come to more than `most_bytes`, or the LFS server cannot be asked
    or sends something else."""
    deadline = time.monotonic() + seconds
    sizes = {item["oid"]: item["size"] for item in objects
             if is_oid(item.get("oid")) and isinstance(item.get("size"), int) and item["size"] >= 0}
    if not sizes:
        return set()
    if sum(sizes.values()) > most_bytes:
        raise GitError(f"the LFS files come to more than the {most_bytes // 2**20} MB one fetch may bring")
    answer = bytearray()

    def keep(chunk):
        answer.extend(chunk)
        if len(answer) > MAX_ANSWER:
            raise Unreachable(f"{WHAT} answered more than it may")

    wanted = [{"oid": oid, "size": size} for oid, size in sizes.items()]
    try:
        status = exchange("POST", f"{store}/objects/batch", {"Accept": LFS_TYPE, "Content-Type": LFS_TYPE, **own},
                          json.dumps({"operation": "download", "transfers": ["basic"], "objects": wanted}).encode(),
                          keep, allow_private=allow_private, what=WHAT, seconds=_left(deadline))
        if status != 200:
            raise Unreachable(f"{WHAT} answered {status}")
        answered = json.loads(answer)["objects"]
    except (Unreachable, ValueError, TypeError, KeyError, RecursionError) as exc:
        raise GitError(str(exc) if isinstance(exc, Unreachable) else f"{WHAT} answered what is not LFS's") from None
    fetched = set()
    for item in answered if isinstance(answered, list) else []:
        href, header = _download_of(item)
        oid = item.get("oid") if href else None
        if not is_oid(oid) or oid not in sizes or oid in fetched:
            continue
        target = stored(folder, oid)
        target.parent.mkdir(parents=True, exist_ok=True)
        incoming = _Hashed(tempfile.NamedTemporaryFile(dir=target.parent, prefix=".incoming-", delete=False))
        try:
            with incoming.file:
                # The repository's credential goes to its own host alone, as git sends it.
                sent = {**(own if origin_of(href) == origin_of(store) and "Authorization" not in header else {}),
                        **header}
                status = download(href, sent, incoming, sizes[oid], allow_private=allow_private, what=WHAT,
                                  seconds=_left(deadline))
            if status != 200 or incoming.digest.hexdigest() != oid:
                raise Unreachable(f"{WHAT} sent something else for {oid[:12]}")
            os.replace(incoming.file.name, target)
        except BaseException as exc:
            os.unlink(incoming.file.name)
            if isinstance(exc, Unreachable):
                raise GitError(str(exc)) from None
            if isinstance(exc, (ValueError, UnicodeError)):
                # An address with no port that can be, a header http.client will not send.
                raise GitError(f"{WHAT} sent a download Stoker cannot ask for") from None
            raise
        fetched.add(oid)
    return fetched


def _left(deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise Unreachable(f"{WHAT} took longer than a fetch may")
    return left


def _download_of(item):
    """(href, headers) of an answered object's download, or (None, None) when it has none as LFS says."""
    actions = item.get("actions") if isinstance(item, dict) else None
    action = actions.get("download") if isinstance(actions, dict) else None
    if not isinstance(action, dict):
        return None, None
    href, header = action.get("href"), action.get("header") or {}
    if not isinstance(href, str) or not _headers(header):
        return None, None
    return href, header


class _Hashed:
    """A file written to that hashes what it is given on the way."""

    def __init__(self, file):
        self.file, self.digest = file, hashlib.sha256()

    def write(self, chunk):
        self.digest.update(chunk)
        self.file.write(chunk)


