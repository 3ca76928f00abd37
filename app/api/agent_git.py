"""Git for build agents, by way of the server: an agent holds no repository credential.

The server fetches a build's repository into its own mirror with the project's token or deploy key
(as a worker beside it would), and serves that mirror on to the agent holding the build, with git's
own smart HTTP server (`git http-backend`), reads only; and the files the repository keeps in Git LFS
likewise. What opens it is the agent's token with the build's lease: good for that build's
repository, and for the submodules on its host (a worker would fetch those with the project's
credential too), while the build runs, and for nothing else.
"""
import base64
import binascii
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from flask import Blueprint, Response, current_app, g, request, send_file

from pipeline.git import GitError
from pipeline.git.checkout import MAX_SUBMODULE_DEPTH, MAX_SUBMODULES, resolved_url
from pipeline.git.command import credentials, git_env, run_git, split_credentials
from pipeline.git.inputs import COMMIT_HASH, check_repo_url, origin_of, without_credentials
from pipeline.git.lfs import LFS_TYPE, fetch_from, fetched_here, is_oid, lfs_url, stored
from pipeline.git.mirror import GitMirror
from pipeline.git.modules import submodules_at

from .. import runtime
from ..records.models import Status
from ..records.vault import VaultError, access_of
from .errors import ApiError
from .leases import an_agent, held
from .parsing import json_body, request_body

bp = Blueprint("agent_git", __name__, url_prefix="/api/agent/jobs/<lease>/git/<commit>/<remote>")
bp.before_request(an_agent)

# The most objects one batch may ask for (git-lfs asks 100 at a time).
MOST_OBJECTS = 1000
# Each git http-backend packs objects with a CPU and memory of its own: an agent (or whoever holds its
# token) runs at most this many at once in one server process. An agent runs a few builds at a time,
# each fetching its repository and submodules one after another.
BACKENDS_PER_AGENT = 8
BACKEND_WAIT = 30.0
_backends = {}
_backends_lock = threading.Lock()
# What `git http-backend` is told: reads alone, and any commit of the mirror by its hash (it holds
# the one repository, and a build's commit may be on no branch any more).
SERVING = {"http.receivepack": "false", "http.uploadpack": "true", "uploadpack.allowAnySHA1InWant": "true"}


class NotFetched(ApiError):
    """The server could not fetch the remote (502)."""


def _mirror(lease, commit, remote):
    """The server's mirror of `remote` (base64url in the path) holding `commit`, fetched with the
    project's credential: the build's repository, or a submodule on its host that the build's
    commit names (or a submodule of one, as far as the server has them); 404 for any other remote,
    502 when it cannot be fetched."""
    build = held(lease, Status.RUNNING)
    if not COMMIT_HASH.fullmatch(commit):
        raise ApiError(400, "commit must be a commit's full hash")
    try:
        url = base64.urlsafe_b64decode(remote + "=" * (-len(remote) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(400, "remote must be a repository's URL in base64url") from None
    project, config = build.project, current_app.config
    try:
        access = access_of(project, config["SECRET_KEY"])
    except VaultError as exc:
        raise ApiError(409, str(exc)) from None
    # The agent knows the repository's URL without any user information an old project's may hold.
    own = url == split_credentials(project.repo_url)[0]
    remote_url = project.repo_url if own else url
    if not own and not _named_by_the_build(build, url, lambda at: _server_mirror(at, access, config)):
        raise ApiError(404, "No such repository")
    mirror = _server_mirror(remote_url, access, config)
    try:
        # A tag's or a pull request's ref is fetched with the build's own commit.
        if mirror.fetch(commit, build.ref if own and commit == build.commit_hash else None):
            runtime.spawn(mirror.maintain)
    except GitError as exc:
        raise NotFetched(502, f"the server could not fetch {without_credentials(url)}: {exc}") from None
    return mirror


def _server_mirror(url, access, config):
    return GitMirror(Path(config["STOKER_DATA_DIR"]) / "mirrors", url, access=access,
                     allow_local=config["STOKER_ALLOW_LOCAL_REPOS"],
                     allow_private_hosts=config["STOKER_ALLOW_PRIVATE_REPO_HOSTS"], timeout=config["STOKER_GIT_TIMEOUT"],
                     lfs_max_bytes=config["STOKER_LFS_MAX_BYTES"])


def _named_by_the_build(build, url, mirror_of):
    """Whether `url` is a submodule on the project's host that the build's commit names, or that a
    submodule of it names at the commit it is pinned to, as far as the server's mirrors hold them
    (each is fetched when the agent asks for it, parents first). Nothing is fetched to find out: a
    build names the remotes it may have, not an agent. A local path is never served but as the
    project's own repository."""
    project = build.project
    try:
        check_repo_url(url, False, current_app.config["STOKER_ALLOW_PRIVATE_REPO_HOSTS"])
    except ValueError:
        return False
    if origin_of(url) != origin_of(project.repo_url):
        return False
    looking, seen = [(split_credentials(project.repo_url)[0], build.commit_hash, 0)], 0
    while looking and seen < MAX_SUBMODULES:
        parent, commit, depth = looking.pop()
        mirror = mirror_of(project.repo_url if parent == split_credentials(project.repo_url)[0] else parent)
        try:
            if not mirror.has(commit):
                continue
            named = submodules_at(mirror.git, commit, mirror.top_level(commit))
        except GitError:
            continue
        for _, _, written, pinned in named:
            seen += 1
            try:
                child = resolved_url(written, parent)
            except GitError:
                continue
            if child == url:
                return True
            if depth < MAX_SUBMODULE_DEPTH and origin_of(child) == origin_of(project.repo_url):
                looking.append((child, pinned, depth + 1))
    return False


@bp.get("/info/refs")
def refs(lease, commit, remote):
    if request.args.get("service") != "git-upload-pack":
        raise ApiError(403, "Only fetching is served")
    try:
        mirror = _mirror(lease, commit, remote)
    except NotFetched as exc:
        # Said as git's protocol says a remote's error, so the agent's git, and the build's log, show why.
        line = f"ERR {exc.message}\n".encode()
        return Response(b"%04x" % (len(line) + 4) + line, content_type="application/x-git-upload-pack-advertisement")
    return _served(mirror, "info/refs", None)


@bp.post("/git-upload-pack")
def upload_pack(lease, commit, remote):
    mirror = _mirror(lease, commit, remote)
    return _served(mirror, "git-upload-pack", request_body())


def _served(mirror, path, body):
    """`git http-backend`'s answer for `path` of the mirror, streamed as git writes it."""
    protocol = request.headers.get("Git-Protocol", "")
    if len(protocol) > 200 or not protocol.isprintable():
        raise ApiError(400, "Git-Protocol is not one git sends")
    # Nothing of the server's own environment (its secret, its database's address): git needs none of it.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **git_env(False), "GIT_PROJECT_ROOT": str(mirror.path.parent),
           "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": f"/{mirror.path.name}/{path}", "REQUEST_METHOD": request.method,
           "QUERY_STRING": "service=git-upload-pack" if path == "info/refs" else "",
           "CONTENT_TYPE": request.headers.get("Content-Type", ""), "GIT_PROTOCOL": protocol,
           "GIT_CONFIG_COUNT": str(len(SERVING))}
    for index, (key, value) in enumerate(SERVING.items()):
        env[f"GIT_CONFIG_KEY_{index}"], env[f"GIT_CONFIG_VALUE_{index}"] = key, value
    stdin = tempfile.TemporaryFile()
    if body is not None:
        stdin.write(body)
        stdin.seek(0)
        env["CONTENT_LENGTH"] = str(len(body))
        if request.headers.get("Content-Encoding") == "gzip":
            env["HTTP_CONTENT_ENCODING"] = "gzip"
    with stdin:
        backend = _started(g.agent.id, env, stdin)
    status, headers = 200, []
    for line in iter(backend.stdout.readline, b""):
        line = line.rstrip(b"\r\n").decode("latin-1")
        if not line:
            break
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        else:
            headers.append((name, value.strip()))

    answer = Response(iter(lambda: backend.stdout.read(64 * 1024), b""), status=status, headers=headers)
    # Also when the body is never read (a HEAD request, a client gone).
    answer.call_on_close(lambda: _ended(backend))
    return answer


def _started(agent_id, env, stdin):
    """`git http-backend` started for the agent once it has fewer than BACKENDS_PER_AGENT running here
    (a burst of its builds waits its turn); 429 if none of them ends within BACKEND_WAIT seconds."""
    deadline = time.monotonic() + BACKEND_WAIT
    while True:
        started = None
        with _backends_lock:
            running = [backend for backend in _backends.pop(agent_id, ()) if backend.poll() is None]
            try:
                if len(running) < BACKENDS_PER_AGENT:
                    started = subprocess.Popen(["git", "http-backend"], stdin=stdin, stdout=subprocess.PIPE,
                                               stderr=subprocess.DEVNULL, env=env)
                    running.append(started)
            finally:
                if running:
                    _backends[agent_id] = running
        if started is not None:
            return started
        if time.monotonic() >= deadline:
            raise ApiError(429, f"This agent has had {BACKENDS_PER_AGENT} fetches running on the server for "
                                f"{BACKEND_WAIT:g} s; another starts when one ends")
        runtime.sleep(0.1)


def _ended(backend):
    backend.kill()
    backend.wait()
    backend.stdout.close()


@bp.post("/info/lfs/objects/batch")
def lfs_batch(lease, commit, remote):
    """The LFS batch API, for downloads: the server fetches the commit's LFS files into its mirror
    and offers each one asked for that it has."""
    data = json_body()
    objects = data.get("objects")
    if data.get("operation") != "download":
        raise ApiError(403, "Only downloads are served")
    if not isinstance(objects, list) or len(objects) > MOST_OBJECTS or not all(
            isinstance(item, dict) and isinstance(item.get("oid"), str) for item in objects):
        raise ApiError(422, f"objects must be at most {MOST_OBJECTS} objects, each with its oid")
    mirror = _mirror(lease, commit, remote)
    missing = [item for item in objects if _lfs_object(mirror, item["oid"]) is None]
    problem = None
    try:
        if missing and fetched_here(mirror.url):
            _fetch_lfs_ourselves(mirror, missing)
        elif missing:
            _fetch_lfs(mirror, commit)
    except ApiError as exc:
        # Said for each object it left missing, which git-lfs shows, and the build's log with it.
        problem = exc.message
    here = request.base_url.rsplit("/", 1)[0]
    answers = []
    for item in objects:
        oid = item["oid"]
        stored = _lfs_object(mirror, oid)
        if stored is None:
            answers.append({"oid": oid, "size": item.get("size"),
                            "error": {"code": 502 if problem else 404, "message": problem or "Not found"}})
        else:
            # Opened with the agent's token, which git-lfs sends to the server as it sends it to git.
            answers.append({"oid": oid, "size": stored.stat().st_size, "actions": {"download": {"href": f"{here}/{oid}"}}})
    return Response(json.dumps({"transfer": "basic", "objects": answers}), content_type=LFS_TYPE)


@bp.get("/info/lfs/objects/<oid>")
def lfs_object(lease, commit, remote, oid):
    stored = _lfs_object(_mirror(lease, commit, remote), oid)
    if stored is None:
        raise ApiError(404, "No such object")
    return send_file(stored, mimetype="application/octet-stream")


def _lfs_object(mirror, oid):
    if not is_oid(oid):
        return None
    found = stored(mirror.path / "lfs" / "objects", oid)
    return found if found.is_file() and not found.is_symlink() else None


def _fetch_lfs_ourselves(mirror, objects):
    """The objects asked for into the mirror's own store, by this server's own careful client (see
    pipeline/git/lfs.py), from the repository's LFS server."""
    try:
        with credentials(mirror.remote, mirror.access) as env:
            fetch_from(mirror, objects, mirror.path / "lfs" / "objects", env)
    except GitError as exc:
        raise ApiError(502, f"The server could not fetch the repository's LFS files: {exc}") from None


def _fetch_lfs(mirror, commit):
    """The LFS files of `commit` into the mirror's own store, with the project's credential."""
    home = tempfile.mkdtemp(prefix="stoker-lfs-")
    try:
        with mirror.lock, credentials(mirror.remote, mirror.access) as env:
            run_git(["--git-dir", str(mirror.path), "-c", f"lfs.url={lfs_url(mirror.url)}",
                     "-c", f"remote.origin.url={mirror.url}", "lfs", "fetch", "origin", commit],
                    allow_local=mirror.allow_local, timeout=mirror.timeout, env={**env, "HOME": home},
                    secrets=mirror.access.secrets())
    except GitError as exc:
        raise ApiError(502, f"The server could not fetch the repository's LFS files: {exc}") from None
    finally:
        shutil.rmtree(home, ignore_errors=True)
