"""Build agents: hosts that run builds with no key but a token of their own, over the agent API.

The agent API is driven here as an agent drives it; a real `stoker agent` process runs builds
against a running server in the tests at the end."""
import base64
import hashlib
import os
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.api import agent_git
from app.api.agent_git import BACKENDS_PER_AGENT
from app.records.lifecycle import recover_lost
from app.records.logs import read_log
from app.records.models import Build, Status, utcnow
from pipeline.git.command import Access
from tests.support import LocalRepo, api, create_project, login, start_agent, start_server, stop_agent, stop_server
from tests.support.gitservers import HttpsGitServer, password_is
from tests.support.waiting import wait_until

REPO_TOKEN = "glpat-Ag3ntNeverSeesThis-77d1c0e2"


@pytest.fixture
def agent_token(client, accounts):
    made = client.post("/api/admin/agents", json={"name": "arm-1", "labels": ["arch=arm64"]},
                       headers=accounts.headers())
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["agent"]["labels"] == ["arch=arm64"]
    return made.get_json()["token"]


def as_agent(token):
    return {"Authorization": f"Bearer {token}"}


def offer(client, token, wait=0):
    answer = client.post("/api/agent/jobs/next", json={"wait": wait, "version": "test", "concurrency": 2},
                         headers=as_agent(token))
    assert answer.status_code in (200, 204), answer.get_json()
    return answer.get_json() if answer.status_code == 200 else None


def claim(client, token, wait=0):
    """A build offered and taken up: its lease and what it needs."""
    offered = offer(client, token, wait)
    if offered is None:
        return None
    started = client.post(f"/api/agent/jobs/{offered['lease']}/start", json={}, headers=as_agent(token))
    assert started.status_code == 200, started.get_json()
    return {**started.get_json(), "lease": offered["lease"]}


def test_an_agent_is_given_what_its_build_needs_and_writes_only_under_its_lease(
        app, client, accounts, agent_token, local_repo):
    token = accounts.token()
    headers = accounts.headers()
    made = create_project(client, token, local_repo, "sh ci.sh")
    client.put(f"/api/project/projects/{made['project']['id']}/secrets/API_KEY", json={"value": "hunter2"},
               headers=headers)

    given = claim(client, agent_token)
    lease, job = given["lease"], given["job"]
    assert job["build_id"] == made["build"]["id"] and job["commit_hash"] == made["build"]["commitHash"]
    assert job["secrets"] == {"API_KEY": "hunter2"} and given["logEnds"] == {"": 0}
    assert Build.get().status == Status.RUNNING

    # A piece of log at its offset, sent twice (its answer lost), is kept once; a piece goes at the
    # end of what is kept, never past it, never over it, never past the cap.
    for _ in range(2):
        kept = client.post(f"/api/agent/jobs/{lease}/log", json={"offset": 0, "data": "hello\n"},
                           headers=as_agent(agent_token))
        assert kept.status_code == 200 and kept.get_json()["next"] == 6
    for offset, data, status in ((0, "other!!\n", 409), (3, "lo\n", 409), (60, "gap\n", 409),
                                 (6, "x" * (30 * 2**20), 400)):
        refused = client.post(f"/api/agent/jobs/{lease}/log", json={"offset": offset, "data": data},
                              headers=as_agent(agent_token))
        assert refused.status_code in (status, 413), (offset, refused.get_json())
    assert read_log(job["build_id"], 0) == b"hello\n"
    # Steps are what a pipeline's steps could be: a matrix is a small JSON object.
    for matrix, status in (('{"GO": "1.22"}', 201), ("x" * 5000, 400), ("[1]", 400)):
        step = client.post(f"/api/agent/jobs/{lease}/steps", headers=as_agent(agent_token),
                           json={"position": 0, "name": "test", "status": "passed", "matrix": matrix})
        assert step.status_code == status
    # No credential of the repository comes with the job: its git goes through the server.
    assert set(job["access"]) == {"fingerprint"} and len(job["access"]["fingerprint"]) == 16
    assert job["access"]["fingerprint"] != Access().fingerprint()
    assert_relayed_to_its_lease_alone(client, agent_token, lease, job, local_repo)
    # Its lease lapses (the agent was cut off): the build is queued again, its one retry spent.
    Build.update(lease_expires_at=utcnow() - timedelta(seconds=1)).execute()
    with app.app_context():
        recover_lost()
    assert (Build.get().status, Build.get().attempts) == (Status.QUEUED, 1)
    # An offer never taken up (the agent gone while its request was held) showed nothing of the
    # build, and spends nothing when it lapses.
    offered = offer(client, agent_token)
    assert set(offered) == {"message", "lease", "buildId", "leaseSeconds"}
    Build.update(lease_expires_at=utcnow() - timedelta(seconds=1)).execute()
    with app.app_context():
        recover_lost()
    assert (Build.get().status, Build.get().attempts) == (Status.QUEUED, 1)
    assert b"never took it up" in read_log(job["build_id"], 0)
    again = claim(client, agent_token)
    assert again["lease"] != lease and again["logEnds"][""] > 6
    # The cut-off agent's late writes are refused; the new run's go on after what is kept.
    for path, body in (("log", {"offset": 6, "data": "late\n"}), ("renew", {}),
                       ("steps", {"position": 0, "name": "test", "status": "passed"}),
                       ("finish", {"exitCode": 0})):
        late = client.post(f"/api/agent/jobs/{lease}/{path}", json=body, headers=as_agent(agent_token))
        assert late.status_code == 409, (path, late.get_json())
    end = again["logEnds"][""]
    assert client.post(f"/api/agent/jobs/{again['lease']}/log", json={"offset": end, "data": "run two\n"},
                       headers=as_agent(agent_token)).status_code == 200
    finished = client.post(f"/api/agent/jobs/{again['lease']}/finish", json={"exitCode": 0},
                           headers=as_agent(agent_token))
    assert finished.get_json()["status"] == Status.PASSED
    log = read_log(job["build_id"], 0)
    assert log.startswith(b"hello\n") and log.endswith(b"run two\n") and b"late" not in log


def test_an_agent_rides_out_the_server_going_away_mid_build_and_goes_on_where_its_log_ends(
        tmp_path, local_repo):
    """The server restarts while an agent's build writes its log: the agent tries again with
    backoff, and the build ends once, its every line kept once and in order."""
    settings = {"DATABASE_URL": f"sqlite:///{tmp_path / 'stoker.db'}", "STOKER_DATA_DIR": str(tmp_path / "server-data"),
                "STOKER_WORKER_CONCURRENCY": "0", "STOKER_LEASE_SECONDS": "30"}
    server = start_server("serve", settings, tmp_path)
    agent = None
    try:
        token = login(server, "alice")
        made = api(server, "POST", "/api/admin/agents", token, json={"name": "builder"}).json()
        agent = start_agent(server, made["token"], tmp_path, STOKER_LEASE_SECONDS="30")
        local_repo.commit({"ci.sh": "for i in $(seq 1 12); do echo line-$i; sleep 0.5; done\n"})
        build_id = create_project(server, token, local_repo, "sh ci.sh")["build"]["id"]
        wait_until(lambda: "line-2" in api(server, "GET", f"/api/build/{build_id}/logs", token).text,
                   timeout=60, what="the build's first lines")

        stop_server(server)
        time.sleep(2)
        server = start_server("serve", {**settings, "PORT": server.url.rsplit(":", 1)[1]}, tmp_path)
        token = login(server, "alice")
        wait_until(lambda: api(server, "GET", f"/api/build/{build_id}", token).json()["build"]["status"]
                   not in (Status.QUEUED, Status.RUNNING), timeout=60, what="the build's end")
        build = api(server, "GET", f"/api/build/{build_id}", token).json()["build"]
        assert build["status"] == Status.PASSED, build
        lines = [line for line in api(server, "GET", f"/api/build/{build_id}/logs", token).text.splitlines()
                 if line.startswith("line-")]
        assert lines == [f"line-{i}" for i in range(1, 13)]
        assert "trying again" in agent.log()
    finally:
        if agent is not None:
            stop_agent(agent)
        stop_server(server)


def relayed(lease, commit, remote, path=""):
    name = base64.urlsafe_b64encode(remote.encode()).decode().rstrip("=")
    return f"/api/agent/jobs/{lease}/git/{commit}/{name}{path}"


def assert_relayed_to_its_lease_alone(client, agent_token, lease, job, local_repo):
    """The server serves its build's repository to the lease's agent for fetching, and nothing more."""
    refs = relayed(lease, job["commit_hash"], job["repo_url"], "/info/refs?service=git-upload-pack")
    served = client.get(refs, headers=as_agent(agent_token))
    assert served.status_code == 200 and b"# service=git-upload-pack" in served.data
    assert job["commit_hash"].encode() in served.data
    assert client.get(refs).status_code == 401
    assert client.get(refs.replace("upload", "receive"), headers=as_agent(agent_token)).status_code == 403
    assert client.post(relayed(lease, job["commit_hash"], job["repo_url"], "/git-receive-pack"),
                       headers=as_agent(agent_token)).status_code == 404
    # Another repository (a local one, or one on another host) is not the build's to fetch.
    for remote in (str(local_repo.path.parent), "https://elsewhere.example/o/r.git"):
        assert client.get(relayed(lease, job["commit_hash"], remote, "/info/refs?service=git-upload-pack"),
                          headers=as_agent(agent_token)).status_code == 404
    assert client.get(relayed(lease + "0", job["commit_hash"], job["repo_url"], "/info/refs?service=git-upload-pack"),
                      headers=as_agent(agent_token)).status_code == 409


def test_an_agent_runs_no_more_than_a_few_fetches_on_the_server_at_once(client, accounts, agent_token, local_repo,
                                                                        monkeypatch):
    """Each fetch by way of the server is a git process packing objects there: an agent's token
    holding many open at once, never reading them, would take the server's CPU and memory. One more
    waits for one to end (BACKEND_WAIT, shortened here), then is refused."""
    monkeypatch.setattr(agent_git, "BACKEND_WAIT", 0.5)
    local_repo.commit({"big.bin": os.urandom(2**20)})  # a pack larger than a pipe holds: git waits on it
    create_project(client, accounts.token(), local_repo, "true")
    given = claim(client, agent_token)
    commit = given["job"]["commit_hash"]
    upload = relayed(given["lease"], commit, given["job"]["repo_url"], "/git-upload-pack")
    want = f"want {commit}\n"
    body = f"{len(want) + 4:04x}{want}00000009done\n".encode()
    headers = {**as_agent(agent_token), "Content-Type": "application/x-git-upload-pack-request"}
    held = []
    for _ in range(BACKENDS_PER_AGENT):
        held.append(client.post(upload, data=body, headers=headers, buffered=False))
        assert held[-1].status_code == 200
    waited = time.monotonic()
    refused = client.post(upload, data=body, headers=headers)
    assert refused.status_code == 429 and "fetches running on the server" in refused.get_json()["message"]
    assert time.monotonic() - waited >= 0.5
    # One ended (read to its end, or its agent gone), the next one starts.
    held.pop().close()
    again = client.post(upload, data=body, headers=headers)
    assert again.status_code == 200 and b"PACK" in again.data
    for answer in held:
        answer.close()


def test_an_agent_token_opens_the_agent_api_alone_and_a_revoked_one_nothing(client, accounts, agent_token):
    (listed,) = client.get("/api/admin/agents", headers=accounts.headers()).get_json()["agents"]
    assert client.get("/api/auth/me", headers=as_agent(agent_token)).status_code == 401
    assert client.get("/api/project/projects", headers=as_agent(agent_token)).status_code == 401
    assert client.post("/api/agent/jobs/next", json={"wait": 0}, headers=accounts.headers()).status_code == 401
    # Another agent's lease is no lease of this one's.
    other = client.post("/api/admin/agents", json={"name": "other"}, headers=accounts.headers()).get_json()
    assert client.post(f"/api/agent/jobs/agent:{other['agent']['id']}:abc/renew", json={},
                       headers=as_agent(agent_token)).status_code == 404

    assert client.post("/api/agent/jobs/next", json={"wait": 0}, headers=as_agent(agent_token)).status_code == 204
    (seen,) = [a for a in client.get("/api/admin/agents", headers=accounts.headers()).get_json()["agents"]
               if a["name"] == "arm-1"]
    assert listed["lastSeenAt"] is None and seen["lastSeenAt"] is not None
    assert client.delete(f"/api/admin/agents/{listed['id']}", headers=accounts.headers()).status_code == 200
    assert client.post("/api/agent/jobs/next", json={"wait": 0}, headers=as_agent(agent_token)).status_code == 401
    # Agents are the admins' business.
    bob = accounts.headers("bob")
    assert client.get("/api/admin/agents", headers=bob).status_code == 403


def test_a_paused_agent_takes_nothing_new(client, accounts, agent_token, local_repo):
    agent_id = client.get("/api/admin/agents", headers=accounts.headers()).get_json()["agents"][0]["id"]
    paused = client.patch(f"/api/admin/agents/{agent_id}", json={"paused": True}, headers=accounts.headers())
    assert paused.get_json()["agent"]["paused"] is True
    create_project(client, accounts.token(), local_repo)
    assert offer(client, agent_token) is None and Build.get().status == Status.QUEUED
    client.patch(f"/api/admin/agents/{agent_id}", json={"paused": False}, headers=accounts.headers())
    assert claim(client, agent_token)["job"]["build_id"] == Build.get().id


# --- a real agent process ---------------------------------------------------------------------

def files_under(root):
    """{path: bytes} of the files under `root`; one removed while they are read (a build's workspace
    going) is left out."""
    found = {}
    for path in root.rglob("*"):
        try:
            if path.is_file():
                found[path] = path.read_bytes()
        except FileNotFoundError:
            pass
    return found


def test_an_agent_process_runs_builds_live_holding_no_key_and_stops_when_revoked(
        tmp_path, local_repo, listeners, docker_client):
    server = start_server("serve", {"DATABASE_URL": f"sqlite:///{tmp_path / 'stoker.db'}",
                                    "STOKER_DATA_DIR": str(tmp_path / "server-data"),
                                    "STOKER_WORKER_CONCURRENCY": "0", "STOKER_LEASE_SECONDS": "6"}, tmp_path)
    agent = None
    try:
        token = login(server, "alice")
        made = api(server, "POST", "/api/admin/agents", token, json={"name": "builder"}).json()
        agent = start_agent(server, made["token"], tmp_path, STOKER_LEASE_SECONDS="6")
        listener = listeners(server, token)
        content = os.urandom(3000)
        local_repo.commit_lfs({"big.bin": content})
        local_repo.commit({"ci.sh": "echo building on an agent; echo \"key=$API_KEY\"; sha256sum big.bin\n"},
                          message="Build")
        project = create_project(server, token, local_repo, "sh ci.sh")
        api(server, "PUT", f"/api/project/projects/{project['project']['id']}/secrets/API_KEY", token,
            json={"value": "hunter2-of-the-project"})
        listener.statuses_of(project["build"]["id"], Status.PASSED, timeout=60)
        run = api(server, "POST", f"/api/project/projects/{project['project']['id']}/builds", token, json={})
        build_id = run.json()["build"]["id"]
        assert listener.statuses_of(build_id, Status.PASSED, timeout=60)[-1] == Status.PASSED
        log = api(server, "GET", f"/api/build/{build_id}/logs", token).text
        assert "building on an agent" in log
        assert "building on an agent" in "".join(data for _, data in listener.log_of(build_id))
        # Its repository and LFS files came by way of the server (which reaches a local path; the agent is not let).
        assert "by way of the server" in log and hashlib.sha256(content).hexdigest() in log

        # Nothing on the agent's environment, command line or disk holds the server's keys.
        proc = Path(f"/proc/{agent.pid}")
        seen = proc.joinpath("environ").read_bytes() + proc.joinpath("cmdline").read_bytes()
        for secret in (b"DATABASE_URL", b"SECRET_KEY", b"stoker.db"):
            assert secret not in seen
        on_disk = files_under(tmp_path / "agent-data")
        assert "secret_key" not in {path.name for path in on_disk} and not any(p.suffix == ".db" for p in on_disk)
        assert not [path for path, data in on_disk.items() if b"hunter2-of-the-project" in data]
        assert "key=***" in log and "hunter2" not in log

        # Revoked mid-build: the agent stops at once and the build is queued again.
        local_repo.commit({"ci.sh": "echo long; sleep 60\n"}, message="Long")
        run = api(server, "POST", f"/api/project/projects/{project['project']['id']}/builds", token, json={})
        long_id = run.json()["build"]["id"]
        listener.statuses_of(long_id, Status.RUNNING, timeout=60)
        agents = api(server, "GET", "/api/admin/agents", token).json()["agents"]
        assert agents[0]["runningBuilds"] == [long_id]
        api(server, "DELETE", f"/api/admin/agents/{agents[0]['id']}", token)
        assert listener.statuses_of(long_id, Status.QUEUED)[-1] == Status.QUEUED
        assert agent.wait(timeout=30) != 0, agent.log()
        assert "token refused" in agent.log()
        # Killed on the way out; the engine may take a moment to see the last of them end.
        wait_until(lambda: not docker_client.containers.list(filters={"label": f"stoker.build={long_id}"}),
                   timeout=15, what="the revoked agent's build container still runs")
    finally:
        if agent is not None:
            stop_agent(agent)
        stop_server(server)


def test_labels_route_builds_and_a_queued_build_says_why_it_waits(client, accounts, agent_token, local_repo):
    headers = accounts.headers()
    made = create_project(client, accounts.token(), local_repo, agentLabels=["gpu", "arch=arm64"])
    project, build_id = made["project"], made["build"]["id"]
    assert project["agentLabels"] == ["arch=arm64", "gpu"]

    def reason():
        return client.get(f"/api/build/{build_id}", headers=headers).get_json()["build"]["queueReason"]

    # The agent carries arch=arm64 alone: it takes nothing, and no live agent carries both.
    assert offer(client, agent_token) is None and Build.get_by_id(build_id).status == Status.QUEUED
    assert reason() == "No live agent carries its labels (arch=arm64, gpu)"
    agent_id = client.get("/api/admin/agents", headers=headers).get_json()["agents"][0]["id"]
    client.patch(f"/api/admin/agents/{agent_id}", json={"labels": ["arch=arm64", "gpu", "big"]}, headers=headers)
    assert reason().startswith("Waiting for a free worker or agent")
    assert claim(client, agent_token)["job"]["build_id"] == build_id and reason() is None

    # Behind the project's concurrency, it says which builds it waits for.
    client.patch(f"/api/project/projects/{project['id']}", json={"concurrency": 1, "agentLabels": []}, headers=headers)
    second = client.post(f"/api/project/projects/{project['id']}/builds", json={}, headers=headers).get_json()
    queued = client.get(f"/api/build/{second['build']['id']}", headers=headers).get_json()["build"]
    assert queued["queueReason"] == f"Waiting behind the project's concurrency of 1: #{build_id} running"
    bad = client.patch(f"/api/project/projects/{project['id']}", json={"agentLabels": ["a,b"]}, headers=headers)
    assert bad.status_code == 400 and "agentLabels" in bad.get_json()["message"]


def test_a_worker_takes_only_builds_its_labels_cover(app, client, accounts, local_repo, drain):
    build_id = create_project(client, accounts.token(), local_repo, "true", agentLabels=["gpu"])["build"]["id"]
    drain()
    assert Build.get_by_id(build_id).status == Status.QUEUED
    app.config["STOKER_WORKER_LABELS"] = ("gpu", "linux")
    drain()
    assert Build.get_by_id(build_id).status == Status.PASSED


@pytest.mark.both_databases
def test_builds_no_one_here_can_take_hold_back_no_one_elses(client, accounts, agent_token, local_repo):
    """However many builds wait for labels nobody carries, the others are still taken."""
    headers = accounts.headers()
    nowhere = create_project(client, accounts.token("bob"), local_repo, agentLabels=["nowhere"])["project"]
    for _ in range(70):
        client.post(f"/api/project/projects/{nowhere['id']}/builds", json={}, headers=accounts.headers("bob"))
    wanted = create_project(client, accounts.token(), local_repo, name="wanted")["build"]["id"]
    assert claim(client, agent_token)["job"]["build_id"] == wanted
    assert client.get(f"/api/build/{wanted}", headers=headers).get_json()["build"]["status"] == Status.RUNNING


def test_a_pipeline_file_asking_for_labels_sends_its_build_to_a_holder_that_carries_them(
        app, client, accounts, agent_token, local_repo, drain):
    local_repo.commit({".stoker.yml": "labels: {arch: arm64}\nsteps:\n  - {name: test, commands: 'true'}\n"},
                      message="Ask for arm64")
    headers = accounts.headers()
    build_id = create_project(client, accounts.token(), local_repo, "true")["build"]["id"]
    # A worker carrying nothing reads the file, and hands the build back with its labels.
    drain()
    build = client.get(f"/api/build/{build_id}", headers=headers).get_json()["build"]
    assert (build["status"], build["queueReason"]) == (Status.QUEUED, "No live agent carries its labels (arch=arm64)")
    assert b"asks for labels (arch=arm64)" in read_log(build_id, 0)
    drain()  # it takes it no more
    assert Build.get_by_id(build_id).status == Status.QUEUED and Build.get_by_id(build_id).attempts == 0
    # The agent (arch=arm64) is given it, and its labels with it.
    assert claim(client, agent_token)["labels"] == ["arch=arm64"]

    # An agent that hands a build back names labels it lacks.
    other = client.post("/api/admin/agents", json={"name": "plain"}, headers=headers).get_json()["token"]
    second = client.post("/api/project/projects/1/builds", json={}, headers=headers).get_json()["build"]["id"]
    Build.update(labels=None).where(Build.id == second).execute()
    given = claim(client, other)
    assert given["job"]["build_id"] == second
    refused = client.post(f"/api/agent/jobs/{given['lease']}/finish", json={"labelsNeeded": ["arch=arm64"]},
                          headers=as_agent(other))
    assert refused.get_json()["status"] == Status.QUEUED and offer(client, other) is None


def test_an_agent_builds_a_private_repository_and_its_submodule_by_way_of_the_server_never_holding_the_token(
        tmp_path, served, listeners):
    """The agent cannot even reach the git server (it does not trust its certificate): the server
    fetches with the project's token, and serves the agent under the build's lease."""
    root, _ = served
    lib = LocalRepo(tmp_path / "lib")
    lib_head = lib.commit({"lib.txt": "from a private submodule\n"})
    subprocess.run(["git", "clone", "-q", "--bare", str(lib.path), str(root / "lib.git")], check=True)
    subprocess.run(["git", "clone", "-q", str(root / "demo.git"), str(tmp_path / "work")], check=True)
    work = LocalRepo(tmp_path / "work")
    work.commit({"ci.sh": "cat vendor/lib/lib.txt\n"})
    work.link_submodule("vendor/lib", "../lib.git", lib_head)
    subprocess.run(["git", "-C", str(work.path), "push", "-q", str(root / "demo.git"), "main"], check=True)
    git_server = HttpsGitServer(tmp_path, root, REPO_TOKEN)
    server = start_server("serve", {"DATABASE_URL": f"sqlite:///{tmp_path / 'stoker.db'}",
                                    "STOKER_DATA_DIR": str(tmp_path / "server-data"), "STOKER_WORKER_CONCURRENCY": "0",
                                    "STOKER_ALLOW_PRIVATE_REPO_HOSTS": "1", "GIT_SSL_CAINFO": git_server.ca,
                                    # The server's own client (LFS) trusts the test's authority too.
                                    "SSL_CERT_FILE": git_server.ca}, tmp_path)
    agent = None
    try:
        token = login(server, "alice")
        made = api(server, "POST", "/api/admin/agents", token, json={"name": "builder"}).json()
        agent = start_agent(server, made["token"], tmp_path)
        listener = listeners(server, token)
        project = create_project(server, token, SimpleNamespace(url=git_server.url("demo.git")), "sh ci.sh",
                                 repoToken=REPO_TOKEN)
        build_id = project["build"]["id"]
        assert listener.statuses_of(build_id, Status.PASSED, timeout=60)[-1] == Status.PASSED
        log = api(server, "GET", f"/api/build/{build_id}/logs", token).text
        assert "from a private submodule" in log and "by way of the server" in log
        assert any(password_is(header, REPO_TOKEN) for header in git_server.seen)

        proc = Path(f"/proc/{agent.pid}")
        assert REPO_TOKEN.encode() not in proc.joinpath("environ").read_bytes() + proc.joinpath("cmdline").read_bytes()
        assert not [path for path, data in files_under(tmp_path / "agent-data").items() if REPO_TOKEN.encode() in data]
        assert REPO_TOKEN not in agent.log()

        # Git LFS files come by way of the server too, from the LFS server's object store; an LFS
        # server that sends a download anywhere it may not go (a cloud's metadata address) is refused.
        for name, content in (("big.bin", os.urandom(5000)), ("other.bin", os.urandom(10))):
            oid = git_server.push_lfs_file(work, root / "demo.git", name, content)
            if name == "other.bin":
                git_server.lfs_href = lambda oid: f"http://169.254.169.254/latest/meta-data/{oid}"
            run = api(server, "POST", f"/api/project/projects/{project['project']['id']}/builds", token, json={})
            expected = Status.PASSED if name == "big.bin" else Status.FAILED
            assert listener.statuses_of(run.json()["build"]["id"], expected, timeout=60)[-1] == expected
            log = api(server, "GET", f"/api/build/{run.json()['build']['id']}/logs", token).text
            assert (f"{oid}  big.bin" if name == "big.bin" else "link-local") in log, log
        git_server.lfs_href = None

        # What the server could not fetch, the build's log says, in git's words.
        work.git("update-index", "--cacheinfo", f"160000,{'1' * 40},vendor/lib")
        work.git("commit", "-q", "-m", "A submodule commit that is nowhere")
        subprocess.run(["git", "-C", str(work.path), "push", "-q", str(root / "demo.git"), "main"], check=True)
        run = api(server, "POST", f"/api/project/projects/{project['project']['id']}/builds", token, json={})
        assert listener.statuses_of(run.json()["build"]["id"], Status.FAILED, timeout=60)[-1] == Status.FAILED
        log = api(server, "GET", f"/api/build/{run.json()['build']['id']}/logs", token).text
        assert "remote error: the server could not fetch" in log and f"commit {'1' * 40} is not in" in log
    finally:
        if agent is not None:
            stop_agent(agent)
        stop_server(server)
        git_server.close()


def test_the_relay_serves_a_build_the_submodules_its_commit_names_and_no_other_repository_of_the_host(
        app, client, accounts, agent_token, served, tmp_path, monkeypatch):
    root, _ = served
    for name in ("lib", "other"):
        made = LocalRepo(tmp_path / name)
        made.commit({f"{name}.txt": f"{name}\n"})
        subprocess.run(["git", "clone", "-q", "--bare", str(made.path), str(root / f"{name}.git")], check=True)
    lib_head = subprocess.run(["git", "-C", str(root / "lib.git"), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    subprocess.run(["git", "clone", "-q", str(root / "demo.git"), str(tmp_path / "work")], check=True)
    work = LocalRepo(tmp_path / "work")
    work.link_submodule("vendor/lib", "../lib.git", lib_head)
    subprocess.run(["git", "-C", str(work.path), "push", "-q", str(root / "demo.git"), "main"], check=True)
    git_server = HttpsGitServer(tmp_path, root, REPO_TOKEN)
    monkeypatch.setenv("GIT_SSL_CAINFO", git_server.ca)
    app.config["STOKER_ALLOW_PRIVATE_REPO_HOSTS"] = True
    try:
        create_project(client, accounts.token(), SimpleNamespace(url=git_server.url("demo.git")), "true",
                       repoToken=REPO_TOKEN)
        given = claim(client, agent_token)
        lease, job = given["lease"], given["job"]
        assert REPO_TOKEN not in str(given)

        def asked(remote, commit):
            return client.get(relayed(lease, commit, remote, "/info/refs?service=git-upload-pack"),
                              headers=as_agent(agent_token)).status_code

        assert asked(job["repo_url"], job["commit_hash"]) == 200
        # What the commit's .gitmodules names, as the agent resolves it, once the server has the commit.
        assert asked(git_server.url("lib.git"), lib_head) == 200
        # Another repository the project's token reaches is not the build's, spelled any way.
        for other in ("other.git", "other", "lib.git/", "LIB.git"):
            assert asked(git_server.url(other), lib_head) == 404, other
    finally:
        git_server.close()
