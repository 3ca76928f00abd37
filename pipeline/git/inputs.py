"""Checking what users give before git sees it: repository URLs, branches, commit hashes, pull refs.

Every URL, branch and commit is checked here before any git process starts;
a remote's host is resolved once and git pinned to the addresses checked.
"""
import base64
import re
from urllib.parse import urlsplit

from ..hosts import UnsafeAddress, check_host, resolve
from . import GitError

COMMIT_HASH = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
SCP_LIKE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9.-]*:[A-Za-z0-9._~][A-Za-z0-9._~/-]*")
REF_FORBIDDEN = set(" ~^:?*[\\")
# The user information of a URL (`scheme://user:password@`), wherever it stands in a text.
USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s]*@")


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


# Where a forge keeps a pull request's head in the base repository, forks' too: GitHub, Gitea and
# Forgejo under refs/pull/, GitLab (merge requests) under refs/merge-requests/.
PULL_REF = re.compile(r"refs/(pull|merge-requests)/([1-9][0-9]{0,9})/head")


def check_pull_ref(ref):
    if not isinstance(ref, str) or not PULL_REF.fullmatch(ref):
        raise ValueError("a pull request's ref must be refs/pull/<number>/head or refs/merge-requests/<number>/head")
    return ref


def pull_number(ref):
    """The pull (merge) request's number a ref is the head of, as text; None for any other ref."""
    match = PULL_REF.fullmatch(ref or "")
    return match[2] if match else None


# The host key types ssh pins (what `ssh-keyscan` and accept-new write).
HOST_KEY_TYPES = {"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                  "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"}


def check_known_hosts(text, url):
    """Refuse (ValueError) known_hosts lines that are not plain host keys of the ssh `url`'s own host:
    no markers (@cert-authority, @revoked), no patterns, no other host."""
    if url.startswith("ssh://"):
        host, port = _ssh_address(url)
    else:
        host, port = url.split("@", 1)[1].split(":", 1)[0], 22
    named = host if port == 22 else f"[{host}]:{port}"
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("no host key")
    for line in lines:
        fields = line.split()
        if len(fields) != 3 or fields[0] != named or fields[1] not in HOST_KEY_TYPES:
            raise ValueError(f"each line must be `{named} <key type> <key>`")
        try:
            base64.b64decode(fields[2], validate=True)
        except ValueError:
            raise ValueError("a key is not base64") from None


def origin_of(url):
    """What a credential is for: the scheme and host (with port) a URL reaches."""
    if SCP_LIKE.fullmatch(url):
        return ("ssh", url.partition("@")[2].partition(":")[0].lower(), 22)
    if "://" not in url:
        return ("file", "", None)
    parts = urlsplit(url)
    scheme = "ssh" if is_ssh(url) else parts.scheme
    return (scheme, (parts.hostname or "").lower(), parts.port or {"https": 443, "ssh": 22}.get(scheme))
