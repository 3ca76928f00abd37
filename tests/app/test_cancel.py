"""Canceling builds, timeouts, and superseded builds canceled by a newer push."""
import time

import pytest

from app.records.models import Build, Status
from pipeline.workspaces import BUILDS
from tests.support import api, create_project, delivery, labelled, push_payload, wait_until

# Claims, leases and the queue: each database's own locking is under test.
pytestmark = pytest.mark.both_databases


def test_a_canceled_queued_build_never_starts(client, accounts, local_repo, drain):
    headers = accounts.headers()
    build_id = create_project(client, accounts.token(), local_repo)["build"]["id"]
    response = client.post(f"/api/build/{build_id}/cancel", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["message"] == "Build canceled"
    assert body["build"]["status"] == Status.CANCELED
    assert body["build"]["finishedAt"] is not None
    assert drain() == 0
    assert Build.get_by_id(build_id).status == Status.CANCELED


def test_a_finished_build_cannot_be_canceled(client, accounts, local_repo, drain):
    headers = accounts.headers()
    build_id = create_project(client, accounts.token(), local_repo)["build"]["id"]
    drain()
    response = client.post(f"/api/build/{build_id}/cancel", headers=headers)
    assert response.status_code == 409
    assert response.get_json() == {"message": "Build has already finished"}
    assert Build.get_by_id(build_id).status == Status.PASSED


def test_cancel_follows_the_builds_rules(client, accounts, local_repo):
    build_id = create_project(client, accounts.token(), local_repo)["build"]["id"]
    assert client.post(f"/api/build/{build_id}/cancel", headers=accounts.headers("mallory")).status_code == 403
    assert client.post(f"/api/build/{build_id}/cancel").status_code == 401
    assert client.post("/api/build/abc/cancel", headers=accounts.headers()).status_code == 400
    assert client.post("/api/build/999999/cancel", headers=accounts.headers()).status_code == 404
    assert Build.get_by_id(build_id).status == Status.QUEUED


def test_a_build_past_its_timeout_is_killed_and_fails_saying_so(client, accounts, local_repo, drain):
    headers = accounts.headers()
    build_id = create_project(client, accounts.token(), local_repo, "sleep 60", timeoutSeconds=2)["build"]["id"]
    started = time.monotonic()
    drain()
    took = time.monotonic() - started
    build = client.get(f"/api/build/{build_id}", headers=headers).get_json()["build"]
    assert (build["status"], build["error"]) == (Status.FAILED, "Timed out after 2 s")
    assert took < 10
    log = client.get(f"/api/build/{build_id}/logs", headers=headers).get_data(as_text=True)
    assert "==> Timed out after 2 s; stopping the build" in log


@pytest.mark.parametrize("fields, named", [
    ({"timeoutSeconds": 0}, "timeoutSeconds"),
    ({"timeoutSeconds": "60"}, "timeoutSeconds"),
    ({"timeoutSeconds": True}, "timeoutSeconds"),
    ({"timeoutSeconds": 10**9}, "timeoutSeconds"),
    ({"autoCancel": "yes"}, "autoCancel"),
    ({"concurrency": 0}, "concurrency"),
    ({"concurrency": "2"}, "concurrency"),
    ({"concurrency": False}, "concurrency"),
])
def test_invalid_timeouts_auto_cancel_and_concurrency_are_400(client, accounts, local_repo, fields, named):
    body = {"name": "demo", "repoUrl": local_repo.url, **fields}
    response = client.post("/api/project/projects", json=body, headers=accounts.headers())
    assert response.status_code == 400
    assert named in response.get_json()["message"]


def test_with_auto_cancel_a_push_cancels_the_branchs_older_builds(client, accounts, local_repo):
    created = create_project(client, accounts.token(), local_repo, autoCancel=True)
    project, first = created["project"], created["build"]["id"]
    assert project["autoCancel"] is True

    def push(sha, branch="main"):
        body, hook_headers = delivery(project["webhookSecret"], push_payload(sha, branch=branch))
        return client.post(f"/api/webhooks/github/{project['id']}", data=body, headers=hook_headers)

    newer = push(local_repo.commit({"n.txt": "n\n"})).get_json()["build"]["id"]
    assert Build.get_by_id(first).status == Status.CANCELED
    assert Build.get_by_id(first).error == f"superseded by build {newer}"
    assert Build.get_by_id(newer).status == Status.QUEUED


def test_without_auto_cancel_every_push_builds(client, accounts, local_repo):
    created = create_project(client, accounts.token(), local_repo)
    body, hook_headers = delivery(created["project"]["webhookSecret"], push_payload(local_repo.commit({"m": "m"})))
    client.post(f"/api/webhooks/github/{created['project']['id']}", data=body, headers=hook_headers)
    assert Build.select().where(Build.status == Status.QUEUED).count() == 2


def test_a_running_build_is_killed_within_2_s_of_its_cancel(live_server, watched_build, docker_client, tmp_path):
    token, events, build_id = watched_build("echo started; sleep 120", name="long")
    pid = f":{live_server.process.pid}:"
    workspace = tmp_path / "live-data" / BUILDS  # the live_server fixture's data dir

    def containers():
        return [c for c in labelled(docker_client, f"stoker.build={build_id}")
                if pid in c["Labels"].get("stoker.worker", "")]

    wait_until(containers, timeout=10, interval=0.05)
    assert list(workspace.glob(f"build-{build_id}-*"))

    canceled_at = time.monotonic()
    response = api(live_server, "POST", f"/api/build/{build_id}/cancel", token)
    assert response.status_code == 200
    while containers():
        assert time.monotonic() - canceled_at < 2.0, "the container outlived its cancel by 2 s"
        time.sleep(0.05)

    assert events.statuses_of(build_id, until=Status.CANCELED)[-1] == Status.CANCELED
    # The worker is done with the build once its workspace is gone, having recorded the build's end
    # before: a canceled build must stay canceled.
    wait_until(lambda: not list(workspace.glob(f"build-{build_id}-*")), timeout=10)
    build = api(live_server, "GET", f"/api/build/{build_id}", token).json()["build"]
    assert build["status"] == Status.CANCELED
    log = api(live_server, "GET", f"/api/build/{build_id}/logs", token).text
    assert "started\n" in log and "==> Canceled" in log
