"""The GitHub webhook: verified pushes to the project's branch build, everything else is ignored."""
import json

import pytest

from app.records.models import Build, Status
from tests.support import create_project, delivery, github_payload, push_payload, signature


@pytest.fixture
def project(client, accounts, local_repo, drain):
    """Alice's project on the local repo, its first build already run and out of the way."""

    def make(branch="main"):
        if branch != "main":
            local_repo.branch(branch)
        created = create_project(client, accounts.token(), local_repo, branch=branch)
        drain()
        return created["project"]

    return make


def send(client, project, payload, event="push", delivery_id=None, secret=None):
    body, headers = delivery(secret or project["webhookSecret"], payload, event, delivery_id)
    return client.post(f"/api/webhooks/github/{project['id']}", data=body, headers=headers)


@pytest.mark.both_databases
def test_a_push_to_the_branch_queues_a_build_of_that_commit_and_runs_it(client, accounts, project,
                                                                        local_repo, drain):
    proj = project()
    sha = local_repo.commit({"feature.txt": "new\n"}, message="Add the feature")
    response = send(client, proj, push_payload(sha, message="Add the feature", author="Grace Hopper"))
    assert response.status_code == 202
    body = response.get_json()
    assert body["message"] == "Build queued"
    build = body["build"]
    assert build["status"] == Status.QUEUED
    assert (build["commitHash"], build["commit"], build["commitAuthor"], build["branch"]) == (
        sha, "Add the feature", "Grace Hopper", "main")

    drain()
    ran = client.get(f"/api/build/{build['id']}", headers=accounts.headers()).get_json()["build"]
    assert ran["status"] == Status.PASSED
    assert ran["commitAuthor"] == "Grace Hopper"  # the webhook's words are kept


def test_githubs_real_new_branch_push_builds_the_connected_branch(client, project, local_repo):
    proj = project(branch="master")
    sha = local_repo.commit({"x.txt": "x\n"}, message="Real payload commit")
    for name in ("push/with-new-branch.payload.json", "push/with-no-username-committer.payload.json"):
        payload = github_payload(name)
        assert payload["ref"] == "refs/heads/master" and payload["head_commit"]
        payload["after"] = payload["head_commit"]["id"] = sha
        response = send(client, proj, payload)
        assert response.status_code == 202, name
        build = response.get_json()["build"]
        assert build["commitHash"] == sha
        assert build["commit"] == payload["head_commit"]["message"]
        assert build["commitAuthor"] == payload["head_commit"]["author"]["name"]


@pytest.mark.both_databases
def test_a_redelivery_builds_nothing_new_and_answers_with_the_first_build(client, project, local_repo):
    proj = project()
    sha = local_repo.commit({"y.txt": "y\n"})
    first = send(client, proj, push_payload(sha), delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958")
    again = send(client, proj, push_payload(sha), delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.get_json()["build"]["id"] == first.get_json()["build"]["id"]
    assert Build.select().where(Build.commit_hash == sha).count() == 1


def test_githubs_real_ping_and_branch_events_create_nothing(client, project):
    proj = project()
    before = Build.select().count()
    cases = [("ping", name) for name in ("ping/payload.json", "ping/with-app_id.payload.json")]
    cases += [("create", "create/payload.json"), ("delete", "delete/payload.json")]
    for event, name in cases:
        response = send(client, proj, github_payload(name), event=event)
        assert response.status_code == 200, name
        assert "message" in response.get_json()
    assert Build.select().count() == before


@pytest.mark.parametrize("name", ["push/payload.json", "push/1.payload.json",
                                  "push/with-installation.payload.json", "push/with-organization.payload.json"])
def test_githubs_real_tag_deletions_are_ignored(client, project, name):
    proj = project()
    before = Build.select().count()
    payload = github_payload(name)
    assert payload["deleted"] is True
    response = send(client, proj, payload)
    assert response.status_code == 200
    assert response.get_json()["message"].startswith("Ignored: ")
    assert Build.select().count() == before


@pytest.mark.parametrize("change", [
    {"ref": "refs/heads/other"},
    {"ref": "refs/tags/v1.0"},
    {"deleted": True},
    {"after": "0" * 40},
    {"head_commit": None},
])
def test_pushes_that_are_not_to_the_branch_are_ignored(client, project, local_repo, change):
    proj = project()
    before = Build.select().count()
    payload = {**push_payload(local_repo.repo.head.commit.hexsha), **change}
    response = send(client, proj, payload)
    assert response.status_code == 200
    assert response.get_json()["message"].startswith("Ignored: ")
    assert Build.select().count() == before


def test_other_events_are_ignored(client, project, local_repo):
    proj = project()
    response = send(client, proj, push_payload(local_repo.repo.head.commit.hexsha), event="issues")
    assert response.status_code == 200
    assert response.get_json() == {"message": "Ignored: issues events are not built"}


def test_bad_or_missing_signatures_are_401_and_write_nothing(client, project, local_repo):
    proj = project()
    before = Build.select().count()
    body = json.dumps(push_payload(local_repo.repo.head.commit.hexsha)).encode()
    good = signature(proj["webhookSecret"], body)
    flipped = good[:-1] + ("0" if good[-1] != "0" else "1")
    attempts = [
        {},
        {"X-Hub-Signature-256": ""},
        {"X-Hub-Signature-256": flipped},
        {"X-Hub-Signature-256": signature("another-secret", body)},
        {"X-Hub-Signature-256": good.replace("sha256=", "sha1=")},
        {"X-Hub-Signature": "sha1=" + "0" * 40},
        {"X-Hub-Signature-256": "sha256=ü"},
    ]
    for extra in attempts:
        headers = {"Content-Type": "application/json", "X-GitHub-Event": "push", **extra}
        response = client.post(f"/api/webhooks/github/{proj['id']}", data=body, headers=headers)
        assert response.status_code == 401, extra
        assert response.get_json() == {"message": "Missing or invalid X-Hub-Signature-256"}
    # Re-serialised JSON is a different body, so the original signature no longer matches.
    reserialised = json.dumps(json.loads(body), indent=2).encode()
    response = client.post(f"/api/webhooks/github/{proj['id']}", data=reserialised,
                           headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": good})
    assert response.status_code == 401
    assert Build.select().count() == before


def test_signed_but_malformed_json_is_400(client, project):
    proj = project()
    for raw in (b"{not json", b"[1,2,3]", b"\xff\xfe"):
        response = send(client, proj, raw)
        assert response.status_code == 400, raw
        assert set(response.get_json()) == {"message"}


def test_a_body_over_25_mb_is_413(client, project):
    proj = project()
    body = b"x" * (25 * 1024 * 1024 + 1)
    response = client.post(f"/api/webhooks/github/{proj['id']}", data=body,
                           headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": signature(proj["webhookSecret"], body)})
    assert response.status_code == 413
    assert set(response.get_json()) == {"message"}


def test_an_unknown_project_is_404_and_a_bad_id_is_400(client, project, local_repo):
    proj = project()
    payload = push_payload(local_repo.repo.head.commit.hexsha)
    assert send(client, {**proj, "id": 424242}, payload).status_code == 404
    assert send(client, {**proj, "id": "abc"}, payload).status_code == 400


def test_form_encoded_deliveries_are_understood(client, project, local_repo):
    from urllib.parse import urlencode

    proj = project()
    sha = local_repo.commit({"z.txt": "z\n"})
    body = urlencode({"payload": json.dumps(push_payload(sha))}).encode()
    response = client.post(f"/api/webhooks/github/{proj['id']}", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": signature(proj["webhookSecret"], body),
    })
    assert response.status_code == 202
    assert response.get_json()["build"]["commitHash"] == sha


def test_the_running_server_reads_chunked_deliveries_and_caps_them_too(live_server, local_repo):
    import requests

    from tests.support import login

    token = login(live_server, "alice")
    created = create_project(live_server, token, local_repo, "true")["project"]
    sha = local_repo.commit({"c.txt": "chunked\n"})
    body, headers = delivery(created["webhookSecret"], push_payload(sha))
    hook_url = f"{live_server.url}/api/webhooks/github/{created['id']}"
    assert created["webhookUrl"] == hook_url  # STOKER_PUBLIC_URL defaults to where it listens
    # A generator body makes requests send it chunked, with no Content-Length.
    response = requests.post(hook_url, data=iter([body[:10], body[10:]]), headers=headers, timeout=10)
    assert response.status_code == 202, response.text
    assert response.json()["build"]["commitHash"] == sha

    big = b"x" * (26 * 1024 * 1024)
    chunks = iter([big[i:i + 2**20] for i in range(0, len(big), 2**20)])
    signed = {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature(created["webhookSecret"], big)}
    response = requests.post(hook_url, data=chunks, headers=signed, timeout=20)
    assert response.status_code == 413


def test_a_rotated_webhook_secret_refuses_deliveries_signed_with_the_old_one(client, accounts, project, local_repo):
    proj = project()
    sha = local_repo.commit({"f.txt": "x\n"}, message="After the rotation")
    rotated = client.post(f"/api/project/projects/{proj['id']}/webhook-secret", headers=accounts.headers())
    assert rotated.status_code == 201
    secret = rotated.get_json()["webhookSecret"]
    assert len(secret) == 64 and secret != proj["webhookSecret"]
    assert send(client, proj, push_payload(sha)).status_code == 401
    assert Build.select().where(Build.commit_hash == sha).count() == 0
    assert send(client, proj, push_payload(sha), secret=secret).status_code == 202
    audit = client.get(f"/api/project/projects/{proj['id']}/audit", headers=accounts.headers()).get_json()
    assert "webhook_secret.rotate" in [entry["action"] for entry in audit["entries"]]
    assert secret not in json.dumps(audit)
