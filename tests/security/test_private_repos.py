"""Private repositories without credentials in URLs: a repoToken for https:// remotes, a deploy key
for ssh ones, each kept sealed and out of every answer, log line and command line."""
import base64
import os
import subprocess
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from app.records.models import Project, Status
from pipeline.backend import Sandbox, named
from pipeline.git.command import Access, credentials
from pipeline.runner import BuildJob, Runner
from tests.support import TEST_IMAGE, LocalRepo
from tests.support.gitservers import HttpsGitServer, SshGitServer, password_is

TOKEN = "glpat-Pr1vateRepoT0ken-4f9a8c71"


@pytest.fixture
def config(config):
    # The servers below are on 127.0.0.1, as a company's own git server is on its network.
    return {**config, "STOKER_ALLOW_PRIVATE_REPO_HOSTS": True, "STOKER_LFS_MAX_BYTES": 2**20}


class CommandLines:
    """Reads every process's command line, again and again, while git runs."""

    def __init__(self):
        self.seen, self.stopping = set(), threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self.stopping.is_set():
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    try:
                        self.seen.add((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
                    except OSError:
                        pass
            time.sleep(0.002)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()


def everything_said(client, headers, project_id, build_id):
    paths = ["/api/project/projects", f"/api/project/projects/{project_id}", f"/api/build/{build_id}",
             f"/api/build/{build_id}/logs", f"/api/project/projects/{project_id}/builds",
             f"/api/project/projects/{project_id}/audit"]
    return "\n".join(client.get(path, headers=headers).get_data(as_text=True) for path in paths)


def test_a_repo_token_reaches_a_private_https_repository_and_nothing_shows_it(
        client, accounts, served, drain, tmp_path, monkeypatch):
    root, head = served
    server = HttpsGitServer(tmp_path, root, TOKEN)
    monkeypatch.setenv("GIT_SSL_CAINFO", server.ca)
    headers = accounts.headers()
    try:
        body = {"name": "private", "repoUrl": server.url("demo.git"), "buildCommand": "sh ci.sh"}
        refused = client.post("/api/project/projects", json=body, headers=headers)
        assert refused.status_code == 422 and "Cannot build" in refused.get_json()["message"]

        with CommandLines() as command_lines:
            made = client.post("/api/project/projects", json={**body, "repoToken": TOKEN}, headers=headers)
            assert made.status_code == 201, made.get_json()
            assert drain() == 1
        project, build = made.get_json()["project"], made.get_json()["build"]
        assert project["hasRepoToken"] is True and build["commitHash"] == head
        assert TOKEN not in made.get_data(as_text=True)
        ran = client.get(f"/api/build/{build['id']}", headers=headers).get_json()["build"]
        assert ran["status"] == Status.PASSED, ran
        said = everything_said(client, headers, project["id"], build["id"])
        assert "private build ran" in said and TOKEN not in said
        assert any("git" in line and "fetch" in line for line in command_lines.seen)
        assert not [line for line in command_lines.seen if TOKEN in line]
        assert any(password_is(header, TOKEN) for header in server.seen)
        assert Project.get_by_id(project["id"]).repo_token_sealed.find(TOKEN) == -1

        # A wrong token is refused with git's reason, and the one that works is kept.
        wrong = client.patch(f"/api/project/projects/{project['id']}", json={"repoToken": "wrong-token-123"},
                             headers=headers)
        assert wrong.status_code == 422 and "wrong-token-123" not in wrong.get_data(as_text=True)
        rerun = client.post(f"/api/project/projects/{project['id']}/builds", json={}, headers=headers)
        assert rerun.status_code == 201
    finally:
        server.close()


def test_a_private_repositorys_lfs_files_come_by_stokers_own_client_which_goes_nowhere_it_may_not(
        client, accounts, served, drain, tmp_path, monkeypatch):
    """git-lfs would follow the LFS server's batch answer anywhere, with any header it names: a
    repository's owner could steer the server at a cloud's metadata address. The worker fetches an
    https repository's LFS files itself, every address checked as the repository's own is."""
    root, _ = served
    server = HttpsGitServer(tmp_path, root, TOKEN)
    monkeypatch.setenv("GIT_SSL_CAINFO", server.ca)
    # Stoker's own client trusts the test's authority as git does.
    monkeypatch.setenv("SSL_CERT_FILE", server.ca)
    subprocess.run(["git", "clone", "-q", str(root / "demo.git"), str(tmp_path / "work")], check=True)
    work = LocalRepo(tmp_path / "work")
    # Committed before *.bin went to LFS: a whole file, not a pointer, which stays as it is.
    work.commit({"plain.bin": b"whole, not a pointer\n"})
    headers = accounts.headers()
    try:
        made = client.post("/api/project/projects", json={
            "name": "lfs", "repoUrl": server.url("demo.git"), "buildCommand": "sh ci.sh", "repoToken": TOKEN},
            headers=headers)
        assert made.status_code == 201, made.get_json()
        assert drain() == 1
        project_id = made.get_json()["project"]["id"]
        for name, content in (("big.bin", os.urandom(5000)), ("other.bin", os.urandom(10))):
            oid = server.push_lfs_file(work, root / "demo.git", name, content)
            if name == "other.bin":
                server.lfs_href = lambda oid: f"http://169.254.169.254/latest/meta-data/{oid}"
            run = client.post(f"/api/project/projects/{project_id}/builds", json={}, headers=headers)
            assert run.status_code == 201 and drain() == 1
            build_id = run.get_json()["build"]["id"]
            ran = client.get(f"/api/build/{build_id}", headers=headers).get_json()["build"]
            log = client.get(f"/api/build/{build_id}/logs", headers=headers).get_data(as_text=True)
            if name == "big.bin":
                assert ran["status"] == Status.PASSED and f"{oid}  big.bin" in log, log
            else:
                assert ran["status"] == Status.FAILED and "link-local" in log, log
        # More than a checkout may bring (STOKER_LFS_MAX_MB) is not asked for.
        server.lfs_href = None
        server.push_lfs_file(work, root / "demo.git", "huge.bin", b"x" * (2**20 + 1))
        run = client.post(f"/api/project/projects/{project_id}/builds", json={}, headers=headers)
        assert run.status_code == 201 and drain() == 1
        log = client.get(f"/api/build/{run.get_json()['build']['id']}/logs", headers=headers).get_data(as_text=True)
        assert "come to more than the 1 MB" in log, log
        # The batch and the object were asked for with the project's token, and nothing showed it.
        assert sum(password_is(header, TOKEN) for header in server.seen) >= 2
        assert TOKEN not in everything_said(client, headers, project_id, build_id)
    finally:
        server.close()


def test_over_ssh_the_lfs_server_git_lfs_authenticate_names_is_held_to_the_same_rules(
        client, accounts, served, drain, tmp_path, monkeypatch):
    """Over ssh, git-lfs asks the ssh server where the LFS files are (git-lfs-authenticate) and then
    goes there with the headers it was given: the worker asks with the deploy key, then fetches as it
    does over https, every address checked."""
    root, _ = served
    lfs_server = HttpsGitServer(tmp_path, root, TOKEN)
    monkeypatch.setenv("SSL_CERT_FILE", lfs_server.ca)
    subprocess.run(["git", "clone", "-q", str(root / "demo.git"), str(tmp_path / "work")], check=True)
    work = LocalRepo(tmp_path / "work")
    oid = lfs_server.push_lfs_file(work, root / "demo.git", "big.bin", os.urandom(3000))
    headers = accounts.headers()
    ssh_server = None
    try:
        made = client.post("/api/project/projects", headers=headers, json={
            "name": "lfs-by-ssh", "repoUrl": "ssh://git@127.0.0.1:1/demo.git", "buildCommand": "sh ci.sh",
            "deployKey": True})
        project = made.get_json()["project"]
        ssh_server = SshGitServer(tmp_path / "sshd", project["deployKey"])
        issued = base64.b64encode(f"x:{TOKEN}".encode()).decode()
        ssh_server.lfs_authenticate(lfs_server.url("demo.git/info/lfs"), {"Authorization": f"Basic {issued}"})
        repo_url = ssh_server.url(str(root / "demo.git"))
        assert client.patch(f"/api/project/projects/{project['id']}", json={"repoUrl": repo_url},
                            headers=headers).status_code == 200
        for where, expected in ((lfs_server.url("demo.git/info/lfs"), Status.PASSED),
                                ("http://169.254.169.254/latest", Status.FAILED)):
            ssh_server.lfs_authenticate(where, {"Authorization": f"Basic {issued}"})
            run = client.post(f"/api/project/projects/{project['id']}/builds", json={}, headers=headers)
            assert run.status_code == 201, run.get_json()
            assert drain() == 1
            build_id = run.get_json()["build"]["id"]
            build = client.get(f"/api/build/{build_id}", headers=headers).get_json()["build"]
            log = client.get(f"/api/build/{build_id}/logs", headers=headers).get_data(as_text=True)
            assert build["status"] == expected, log
            assert (f"{oid}  big.bin" if expected == Status.PASSED else "link-local") in log, log
            assert issued not in log
        assert ssh_server.lfs_asked.read_text().splitlines()[0] == f"git-lfs-authenticate {root}/demo.git download"
        assert any(password_is(header, TOKEN) for header in lfs_server.seen)
    finally:
        if ssh_server is not None:
            ssh_server.stop()
        lfs_server.close()


def test_credentials_put_the_deploy_key_in_a_private_file_only_while_git_runs():
    access = Access(ssh_key="-----BEGIN OPENSSH PRIVATE KEY-----\nnot really\n-----END OPENSSH PRIVATE KEY-----")
    before = set(Path(tempfile.gettempdir()).glob("stoker-ssh-*"))
    with credentials("ssh://git@example.com/o/r.git", access) as env:
        key = Path(env["GIT_SSH_COMMAND"].split(" -i ")[1].split()[0])
        assert key.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
        assert oct(key.stat().st_mode & 0o777) == "0o600" and oct(key.parent.stat().st_mode & 0o777) == "0o700"
        assert key.stat().st_uid == os.getuid()
        assert "not really" not in env["GIT_SSH_COMMAND"]
        assert "StrictHostKeyChecking=accept-new" in env["GIT_SSH_COMMAND"]
    assert not key.parent.exists()
    assert set(Path(tempfile.gettempdir()).glob("stoker-ssh-*")) == before
    # Neither a token nor a key is given to a remote of the other kind.
    with credentials("https://example.com/o/r.git", access) as env:
        assert env == {}
    with credentials("ssh://git@example.com/o/r.git", Access(token=TOKEN)) as env:
        assert env == {}


def test_a_deploy_key_clones_over_ssh_and_the_host_key_is_pinned_on_first_contact(
        client, accounts, served, drain, tmp_path):
    root, head = served
    headers = accounts.headers()
    server = None
    try:
        # The key is made with the project, before the server (GitHub, say) knows it.
        made = client.post("/api/project/projects", headers=headers, json={
            "name": "by-ssh", "repoUrl": "ssh://git@127.0.0.1:1/demo.git", "buildCommand": "sh ci.sh",
            "deployKey": True})
        assert made.status_code == 201, made.get_json()
        project = made.get_json()["project"]
        assert made.get_json()["build"] is None
        public = project["deployKey"]
        assert public.startswith("ssh-ed25519 ") and "PRIVATE" not in made.get_data(as_text=True)

        server = SshGitServer(tmp_path / "sshd", public)
        repo_url = server.url(str(root / "demo.git"))
        assert client.patch(f"/api/project/projects/{project['id']}", json={"repoUrl": repo_url},
                            headers=headers).status_code == 200
        assert Project.get_by_id(project["id"]).ssh_known_hosts  # pinned on first contact
        run = client.post(f"/api/project/projects/{project['id']}/builds", json={}, headers=headers)
        assert run.status_code == 201, run.get_json()
        assert drain() == 1
        build = client.get(f"/api/build/{run.get_json()['build']['id']}", headers=headers).get_json()["build"]
        assert build["status"] == Status.PASSED and build["commitHash"] == head, build
        said = everything_said(client, headers, project["id"], build["id"])
        assert "private build ran" in said and "PRIVATE KEY" not in said
        private = Project.get_by_id(project["id"]).deploy_key_sealed
        assert "PRIVATE KEY" not in private

        # The same address with another host key is refused: the first one is pinned.
        server.restart(new_host_key=True)
        impostor = client.post(f"/api/project/projects/{project['id']}/builds", json={}, headers=headers)
        assert impostor.status_code == 422
        assert "Host key verification failed" in impostor.get_json()["message"]

        # The server's key was changed on purpose: an admin forgets the pinned one, and the next
        # contact pins the new one.
        forgotten = client.delete(f"/api/project/projects/{project['id']}/host-key", headers=headers)
        assert forgotten.status_code == 200 and Project.get_by_id(project["id"]).ssh_known_hosts is None
        again = client.post(f"/api/project/projects/{project['id']}/builds", json={}, headers=headers)
        assert again.status_code == 201, again.get_json()
        assert drain() == 1
        assert Project.get_by_id(project["id"]).ssh_known_hosts
        audit = client.get(f"/api/project/projects/{project['id']}/audit", headers=headers).get_json()["entries"]
        assert "host_key.reset" in [entry["action"] for entry in audit]

        # A new key pair replaces the old one; the server no longer takes the old key's place.
        renewed = client.post(f"/api/project/projects/{project['id']}/deploy-key", headers=headers)
        assert renewed.status_code == 201 and renewed.get_json()["deployKey"]["publicKey"] != public
    finally:
        if server is not None:
            server.stop()


def test_the_workspace_git_holds_no_credential_and_a_submodule_on_the_same_host_gets_the_token(
        served, tmp_path, monkeypatch, docker_client):
    """The build image has no git: the host reads the very workspace the build ran in, kept until
    the `later` the runner was given closes (as the worker keeps it to report first)."""
    root, head = served
    lib = LocalRepo(tmp_path / "lib")
    lib_head = lib.commit({"lib.txt": "private submodule\n"})
    subprocess.run(["git", "clone", "-q", "--bare", str(lib.path), str(root / "lib.git")], check=True)
    subprocess.run(["git", "clone", "-q", str(root / "demo.git"), str(tmp_path / "work")], check=True)
    work = LocalRepo(tmp_path / "work")
    head = work.link_submodule("vendor/lib", "../lib.git", lib_head)
    subprocess.run(["git", "-C", str(work.path), "push", "-q", str(root / "demo.git"), "main"], check=True)
    server = HttpsGitServer(tmp_path, root, TOKEN)
    monkeypatch.setenv("GIT_SSL_CAINFO", server.ca)
    runner = Runner(tmp_path / "data", backend=named("docker"), sandbox=Sandbox(), allow_local_repos=False,
                    allow_private_hosts=True, git_timeout=30)
    job = BuildJob(build_id=77, repo_url=server.url("demo.git"), commit_hash=head, branch="main", image=TEST_IMAGE,
                   command="test -f vendor/lib/lib.txt && test -f .git/config", access=Access(token=TOKEN))
    basic = base64.b64encode(f"x-access-token:{TOKEN}".encode())
    try:
        with ExitStack() as later:
            outcome = runner.run(job, later=later)
            assert (outcome.exit_code, outcome.error) == (0, None)
            ws = next((tmp_path / "data" / "workspaces").glob("build-77-*"))
            files = [path for path in (ws / ".git").rglob("*") if path.is_file()]
            files += [path for path in (ws / "vendor/lib/.git").rglob("*") if path.is_file()]
            assert len(files) > 10
            for path in files:
                content = path.read_bytes()
                assert TOKEN.encode() not in content and basic not in content and b"extraheader" not in content.lower()
            config = (ws / ".git" / "config").read_text()
            assert f"url = {server.url('demo.git')}\n" in config and "helper" not in config
        # Both repositories were fetched with the token, from their one host.
        assert sum(password_is(header, TOKEN) for header in server.seen) >= 2
    finally:
        server.close()
