"""Running git: every process with the project's own credentials and nothing of this host's user.

Every git process runs with GIT_ALLOW_PROTOCOL, so that git itself refuses
transports we never meant to allow (ext::, file:// when local repos are off),
and no credential is ever on a command line.
"""
import base64
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit, urlunsplit

from . import GitError
from .inputs import is_ssh, network_pins, without_credentials


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
    return run_as_git(["git", *args], allow_local=allow_local, timeout=timeout, env=env, secrets=secrets)


def run_as_git(argv, *, allow_local, timeout, env=None, secrets=(), name="git"):
    """Run `argv` (git, or the ssh git would run, `name`d so in errors) in git's environment, as
    run_git does."""
    # A session of its own, so that a git that runs long is killed with what it started (git-lfs,
    # ssh, pack-objects), not leaving them to write on without it.
    with subprocess.Popen(argv, env={**os.environ, **git_env(allow_local), **(env or {})},
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          start_new_session=True) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except Exception as exc:
            # Under eventlet the green module raises the standard library's TimeoutExpired, another
            # class than its own.
            if type(exc).__name__ != "TimeoutExpired":
                raise
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.communicate()
            raise GitError(f"{name} took longer than {timeout:g} s") from None
    if process.returncode != 0:
        said = err.decode("utf-8", "replace")
        lines = [line.strip() for line in said.splitlines() if line.strip()]
        reason = without_credentials(_reason(lines) if lines else f"{name} exited with {process.returncode}")
        for secret in secrets:
            reason = reason.replace(secret, "***")
        raise GitError(reason.strip("' "))
    out = out.decode("utf-8", "replace")
    return out[:-1] if out.endswith("\n") else out


@dataclass(frozen=True)
class Relay:
    """Git by way of the server that gave the build, as a build agent fetches: the server fetches
    each remote with the project's credential and serves it on (app/api/agent_git.py). The agent
    holds its own token and the build's lease in `base`, good for that build's repository (and its
    host's submodules) while the build runs, and never the project's token or deploy key."""

    # {server}/api/agent/jobs/{lease}/git
    base: str
    token: str = field(repr=False)
    # The project's credential's fingerprint, named by the server: mirrors here are keyed as a worker's.
    fingerprint: str = ""

    def url(self, remote, commit):
        """Where the server serves `remote`, fetched as far as `commit`."""
        name = base64.urlsafe_b64encode(remote.encode()).decode().rstrip("=")
        return f"{self.base}/{commit}/{name}"

    def env(self):
        """Git environment that speaks to the server with the agent's token: over http too, the
        server's own address being the admin's choice, not a project's."""
        parts = urlsplit(self.base)
        return {"GIT_ALLOW_PROTOCOL": parts.scheme, "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": f"http.{parts.scheme}://{parts.netloc}/.extraHeader",
                "GIT_CONFIG_VALUE_0": f"Authorization: Bearer {self.token}"}


@dataclass(frozen=True)
class Access:
    """How git proves itself to a private repository: a token for https:// remotes, a deploy key
    (an OpenSSH private key) for ssh ones, with the server's host key once pinned; or, on a build
    agent, a relay through the server that holds them."""

    token: str | None = None
    ssh_key: str | None = None
    known_hosts: str | None = None
    # Given the host key ssh accepted on first contact, to pin it for every later one.
    pin: Callable[[str], None] | None = None
    relay: Relay | None = None

    def secrets(self):
        return [value for value in (self.token, self.ssh_key, self.relay and self.relay.token) if value]

    def fingerprint(self):
        """Names the credential (never shows it): a mirror fetched with one is used with it alone."""
        if self.relay is not None:
            return self.relay.fingerprint
        digest = hashlib.sha256()
        for value in (self.token, self.ssh_key):
            digest.update((value or "").encode() + b"\0")
        return digest.hexdigest()[:16]


NO_ACCESS = Access()


def token_authorization(token):
    """The Authorization a repository token goes in, as GitHub, Gitea and GitLab take it over https."""
    return "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()


@contextmanager
def credentials(url, access):
    """Git environment carrying `access` for `url`, so that no credential is ever in a command
    line: a token as an HTTP header in git's environment, a deploy key in a file of a folder only
    this user can read, removed when git is done."""
    if access.relay is not None:
        yield access.relay.env()
        return
    url, env = split_credentials(url)
    env = dict(env or {})
    if access.token and url.startswith("https://") and not env:
        # For the remote's own host alone: not for the hosts an LFS server sends downloads to.
        env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0=f"http.https://{urlsplit(url).netloc}/.extraHeader",
                   GIT_CONFIG_VALUE_0=f"Authorization: {token_authorization(access.token)}")
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
    # git-lfs says why each object failed ("[oid] message") before its summary.
    objects = [line for line in lines if line.startswith("[") and "] " in line]
    if objects and lines[-1].startswith("error: failed to fetch some objects"):
        said = objects[0].split("] ", 1)[1].split(": [", 1)[0]
        return f"{said} ({lines[-1].removeprefix('error: ')})"
    return lines[-1]


def ls_remote_branch(url, branch, *, allow_local, timeout, allow_private_hosts=False, access=NO_ACCESS):
    """Return the commit hash at the tip of `branch` in the remote repository."""
    pins = network_pins(url, allow_private_hosts)
    with credentials(url, access) as env:
        out = run_git([*pins, "ls-remote", "--heads", "--", split_credentials(url)[0], f"refs/heads/{branch}"],
                      allow_local=allow_local, timeout=timeout, env=env, secrets=access.secrets())
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref == f"refs/heads/{branch}":
            return sha
    raise GitError(f"branch {branch!r} does not exist in the repository")


def split_credentials(url):
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
