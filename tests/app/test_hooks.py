"""Outgoing webhooks: a project's build outcomes posted, signed, to targets of its admins' choosing,
through an outbox that retries, against a real HTTP server on loopback."""
import hashlib
import hmac
import json
import socket
import threading
import time

import pytest

from app.background.hooks import deliver_due
from app.forges import hosting
from app.records.models import Build, HookDelivery, utcnow
from tests.support import api, create_project, login, start_agent, start_server, stop_agent, stop_server
from tests.support.http import Receiver
from tests.support.waiting import wait_until


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def config(config):
    # The receiver is on loopback, as a team's chat bridge may be on its own network.
    return {**config, "STOKER_ALLOW_PRIVATE_HOOK_HOSTS": True}


def signed_by(secret, headers, body):
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-Stoker-Signature-256"], expected)


def test_a_failure_and_its_fix_are_posted_signed_and_a_passing_build_only_where_asked(
        app, client, accounts, local_repo, drain, receiver):
    headers = accounts.headers()
    local_repo.commit({"ci.sh": "exit 1\n"})
    project = create_project(client, accounts.token(), local_repo, "sh ci.sh")["project"]
    drain()
    hooks = f"/api/project/projects/{project['id']}/hooks"
    made = client.post(hooks, json={"url": receiver.url}, headers=headers)
    assert made.status_code == 201, made.get_json()
    hook, secret = made.get_json()["hook"], made.get_json()["secret"]
    assert hook["outcomes"] == ["failed", "fixed"] and hook["branches"] == [] and len(secret) == 64
    everything = client.post(hooks, json={"url": receiver.url + "/all", "outcomes": ["passed", "canceled"],
                                          "branches": ["release/*"]}, headers=headers).get_json()["hook"]

    def run(script):
        local_repo.commit({"ci.sh": script})
        made = client.post(f"/api/project/projects/{project['id']}/builds", json={}, headers=headers)
        drain()
        with app.app_context():
            deliver_due(app)
        return made.get_json()["build"]["id"]

    failed = run("exit 3\n")
    fixed = run("true\n")
    passed = run("echo again\n")
    assert [(body["outcome"], body["build"]["id"]) for body in receiver.bodies()] == [("failed", failed),
                                                                                       ("fixed", fixed)]
    for sent, body in receiver.seen:
        assert signed_by(secret, sent, body) and sent["X-Stoker-Event"] == "build"
        assert sent["Content-Type"] == "application/json" and len(sent["X-Stoker-Delivery"]) == 36
    said = receiver.bodies()[0]
    assert said["build"]["status"] == "failed" and said["build"]["exitCode"] == 3
    assert said["project"] == {"id": project["id"], "name": "demo", "repoUrl": local_repo.url, "branch": "main"}
    assert said["url"].endswith(f"/builds/{failed}")
    assert passed not in [body["build"]["id"] for body in receiver.bodies()]
    # The other target wants passes of release branches alone: main's were none of its.
    assert receiver.paths == ["/stoker", "/stoker"]
    listed = client.get(hooks, headers=headers).get_json()["hooks"]
    assert [item["id"] for item in listed] == [hook["id"], everything["id"]]
    assert listed[0]["lastDelivery"]["delivered"] is True and listed[0]["lastDelivery"]["answered"] == 200
    assert listed[1]["lastDelivery"] is None and "secret" not in json.dumps(listed).lower()


def test_a_target_that_fails_is_tried_again_with_the_same_body_and_given_up_in_the_end(
        app, client, accounts, local_repo, drain):
    receiver = Receiver(answers=[500, 503])
    try:
        headers = accounts.headers()
        local_repo.commit({"ci.sh": "exit 1\n"})
        project = create_project(client, accounts.token(), local_repo, "sh ci.sh")["project"]
        hook = client.post(f"/api/project/projects/{project['id']}/hooks", json={"url": receiver.url},
                           headers=headers).get_json()["hook"]
        drain()
        with app.app_context():
            for _ in range(3):
                deliver_due(app)
                # Its backoff has passed.
                HookDelivery.update(next_try_at=utcnow()).where(HookDelivery.done == False).execute()  # noqa: E712
        assert len(receiver.seen) == 3
        assert len({body for _, body in receiver.seen}) == 1
        assert len({sent["X-Stoker-Delivery"] for sent, _ in receiver.seen}) == 1
        shown = client.get(f"/api/project/projects/{project['id']}/hooks/{hook['id']}/deliveries",
                           headers=headers).get_json()["deliveries"]
        assert shown[0]["attempts"] == 3 and shown[0]["delivered"] and shown[0]["answered"] == 200

        # A target that never takes one is given up after its tries; the build was never held up.
        receiver.answers[:] = [500] * 20
        client.post(f"/api/project/projects/{project['id']}/builds", json={}, headers=headers)
        drain()
        with app.app_context():
            for _ in range(10):
                deliver_due(app)
                HookDelivery.update(next_try_at=utcnow()).where(HookDelivery.done == False).execute()  # noqa: E712
        last = client.get(f"/api/project/projects/{project['id']}/hooks/{hook['id']}/deliveries",
                          headers=headers).get_json()["deliveries"][0]
        assert (last["attempts"], last["delivered"], last["pending"], last["answered"]) == (8, False, False, 500)
        assert Build.select().where(Build.status == "failed").count() == 2
    finally:
        receiver.close()


def test_a_test_is_sent_on_request_and_targets_are_checked_and_kept_to_admins(
        app, client, accounts, local_repo, drain, receiver):
    headers = accounts.headers()
    project = create_project(client, accounts.token(), local_repo, "true")["project"]
    drain()
    hooks = f"/api/project/projects/{project['id']}/hooks"
    made = client.post(hooks, json={"url": receiver.url, "outcomes": ["passed"]}, headers=headers).get_json()
    tested = client.post(f"{hooks}/{made['hook']['id']}/test", headers=headers)
    assert tested.status_code == 200 and tested.get_json()["delivery"]["delivered"] is True
    sent, body = receiver.seen[-1]
    assert sent["X-Stoker-Event"] == "ping" and signed_by(made["secret"], sent, body)
    assert json.loads(body)["outcome"] == "test"

    # A new secret signs from then on; the old one no longer does.
    renewed = client.patch(f"{hooks}/{made['hook']['id']}", json={"newSecret": True, "branches": ["main"]},
                           headers=headers).get_json()
    client.post(f"{hooks}/{made['hook']['id']}/test", headers=headers)
    sent, body = receiver.seen[-1]
    assert signed_by(renewed["secret"], sent, body) and not signed_by(made["secret"], sent, body)
    assert renewed["hook"]["branches"] == ["main"]

    for bad, field in (({"url": "ftp://example.com/x"}, "url"), ({"url": "https://user:pw@example.com/"}, "url"),
                       ({"url": "https://example.com/", "outcomes": ["exploded"]}, "outcomes"),
                       ({"url": "https://example.com/", "branches": "main"}, "branches"),
                       ({"url": "http://169.254.169.254/latest"}, "url")):
        refused = client.post(hooks, json=bad, headers=headers)
        assert refused.status_code == 400 and field in refused.get_json()["message"], bad
    assert client.get(hooks, headers=accounts.headers("mallory")).status_code == 403
    assert client.post(f"{hooks}/{made['hook']['id']}/test", headers=accounts.headers("mallory")).status_code == 403
    assert client.delete(f"{hooks}/{made['hook']['id']}", headers=headers).status_code == 200
    assert client.get(hooks, headers=headers).get_json()["hooks"] == []


def test_loopback_targets_are_refused_unless_the_admin_allows_them(client, accounts, local_repo, app):
    app.config["STOKER_ALLOW_PRIVATE_HOOK_HOSTS"] = False
    project = create_project(client, accounts.token(), local_repo, "true")["project"]
    refused = client.post(f"/api/project/projects/{project['id']}/hooks", json={"url": "http://127.0.0.1:9/x"},
                          headers=accounts.headers())
    assert refused.status_code == 400 and "private or loopback" in refused.get_json()["message"]


def test_a_server_whose_builds_run_elsewhere_still_posts_them(tmp_path, local_repo, receiver):
    """The outbox is delivered by any process: here a server with no workers of its own, whose
    build an agent runs."""
    server = start_server("serve", {"DATABASE_URL": f"sqlite:///{tmp_path / 'stoker.db'}",
                                    "STOKER_DATA_DIR": str(tmp_path / "data"), "STOKER_WORKER_CONCURRENCY": "0",
                                    "STOKER_ALLOW_PRIVATE_HOOK_HOSTS": "1"}, tmp_path)
    agent = None
    try:
        token = login(server, "alice")
        made = api(server, "POST", "/api/admin/agents", token, json={"name": "builder"}).json()
        agent = start_agent(server, made["token"], tmp_path)
        local_repo.commit({"ci.sh": "exit 1\n"})
        project = create_project(server, token, local_repo, "sh ci.sh")
        api(server, "POST", f"/api/project/projects/{project['project']['id']}/hooks", token,
            json={"url": receiver.url})
        run = api(server, "POST", f"/api/project/projects/{project['project']['id']}/builds", token, json={})
        wait_until(lambda: run.json()["build"]["id"] in [body["build"]["id"] for body in receiver.bodies()],
                   timeout=60, what="the failure posted")
    finally:
        if agent is not None:
            stop_agent(agent)
        stop_server(server)


def test_a_target_that_answers_a_byte_at_a_time_is_held_to_the_deadline(
        app, client, accounts, local_repo, drain, monkeypatch):
    """A target may not hold the outbox up by answering slowly: each try ends at the deadline."""
    monkeypatch.setattr(hosting, "DEADLINE", 2)
    listener = socket.create_server(("127.0.0.1", 0))
    stopping = threading.Event()

    def drip():
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        while not stopping.wait(0.3):
            try:
                connection.sendall(b"x")
            except OSError:
                return

    threading.Thread(target=drip, daemon=True).start()
    try:
        headers = accounts.headers()
        local_repo.commit({"ci.sh": "exit 1\n"})
        project = create_project(client, accounts.token(), local_repo, "sh ci.sh")["project"]
        client.post(f"/api/project/projects/{project['id']}/hooks",
                    json={"url": f"http://127.0.0.1:{listener.getsockname()[1]}/slow"}, headers=headers)
        drain()
        started = time.monotonic()
        with app.app_context():
            deliver_due(app)
        assert time.monotonic() - started < 10
        row = HookDelivery.get()
        assert row.attempts == 1 and not row.delivered_at and "too slowly" in row.problem
    finally:
        stopping.set()
        listener.close()
