"""One tenant cannot reach another's code, images or output with what it can learn: a repository's
URL, a commit hash, an image's name, a build id."""
import subprocess

import pytest

from app.records.models import Status
from tests.support import api, create_project, delivery, login, push_payload, wait_until
from tests.support.gitservers import SshGitServer

PROJECTS = "/api/project/projects"


@pytest.fixture
def config(config):
    # The git server below is on 127.0.0.1, as a company's own git server is on its network.
    return {**config, "STOKER_ALLOW_PRIVATE_REPO_HOSTS": True}


def build_of(client, headers, build_id):
    return client.get(f"/api/build/{build_id}", headers=headers).get_json()["build"]


def test_a_private_commit_in_the_mirror_is_not_read_by_another_project_with_its_url_and_hash(
        client, accounts, served, drain, tmp_path):
    root, head = served
    alice, bob = accounts.headers("alice"), accounts.headers("bob")
    made = client.post(PROJECTS, headers=alice, json={
        "name": "private", "repoUrl": "ssh://git@127.0.0.1:1/demo.git", "buildCommand": "sh ci.sh",
        "deployKey": True}).get_json()["project"]
    server = SshGitServer(tmp_path / "sshd", made["deployKey"])
    try:
        url = server.url(str(root / "demo.git"))
        assert client.patch(f"{PROJECTS}/{made['id']}", json={"repoUrl": url}, headers=alice).status_code == 200
        run = client.post(f"{PROJECTS}/{made['id']}/builds", json={}, headers=alice).get_json()["build"]
        drain()
        assert build_of(client, alice, run["id"])["status"] == Status.PASSED
        assert "private build ran" in client.get(f"/api/build/{run['id']}/logs", headers=alice).get_data(as_text=True)

        # Bob knows the URL and the hash, makes a project with a key of its own that the server never
        # took, and signs a push of that commit to his own webhook.
        theirs = client.post(PROJECTS, headers=bob, json={
            "name": "copy", "repoUrl": url, "buildCommand": "sh ci.sh", "deployKey": True}).get_json()["project"]
        assert client.post(f"{PROJECTS}/{theirs['id']}/builds", json={}, headers=bob).status_code == 422
        body, headers = delivery(theirs["webhookSecret"], push_payload(head))
        pushed = client.post(f"/api/webhooks/github/{theirs['id']}", data=body, headers=headers)
        assert pushed.status_code == 202, pushed.get_json()
        assert drain() == 1
        build = build_of(client, bob, pushed.get_json()["build"]["id"])
        assert build["status"] == Status.FAILED and build["error"].startswith("checkout failed"), build
        log = client.get(f"/api/build/{build['id']}/logs", headers=bob).get_data(as_text=True)
        assert "private build ran" not in log and "Checked out" not in log, log
    finally:
        server.stop()


def test_a_deleted_projects_running_build_writes_nothing_into_the_next_users_build(live_server, local_repo):
    alice, bob = login(live_server, "alice"), login(live_server, "bob")
    theirs = create_project(live_server, alice, local_repo, "while true; do echo alice-secret-line; sleep 0.02; done",
                            name="alices")
    first = theirs["build"]["id"]
    wait_until(lambda: "alice-secret-line" in api(live_server, "GET", f"/api/build/{first}/logs", alice).text)
    assert api(live_server, "DELETE", f"/api/project/projects/{theirs['project']['id']}", alice).status_code == 200

    mine = create_project(live_server, bob, local_repo, "sh ci.sh; sleep 1", name="bobs")["build"]["id"]
    assert mine != first
    wait_until(lambda: api(live_server, "GET", f"/api/build/{mine}", bob).json()["build"]["status"]
               in Status.FINISHED, timeout=30)
    log = api(live_server, "GET", f"/api/build/{mine}/logs", bob).text
    assert "building" in log and "alice-secret-line" not in log, log


def test_git_reaches_a_remote_with_the_projects_credentials_alone_never_the_hosts(
        client, accounts, served, tmp_path, monkeypatch):
    root, _ = served
    key = tmp_path / "hosts-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    server = SshGitServer(tmp_path / "sshd", key.with_suffix(".pub").read_text().strip())
    # This host's user has an ssh agent holding a key the git server takes.
    agent = tmp_path / "agent.sock"
    started = subprocess.run(["ssh-agent", "-a", str(agent)], capture_output=True, text=True, check=True)
    agent_pid = started.stdout.split("SSH_AGENT_PID=")[1].split(";")[0]
    monkeypatch.setenv("SSH_AUTH_SOCK", str(agent))
    try:
        subprocess.run(["ssh-add", "-q", str(key)], check=True, capture_output=True)
        made = client.post(PROJECTS, headers=accounts.headers(), json={
            "name": "borrowed", "repoUrl": server.url(str(root / "demo.git")), "buildCommand": "sh ci.sh"})
        assert made.status_code == 422, made.get_json()
        assert "Permission denied" in made.get_json()["message"]
    finally:
        subprocess.run(["kill", agent_pid])
        server.stop()
