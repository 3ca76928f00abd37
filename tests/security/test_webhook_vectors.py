"""The webhook's signature check, from GitHub's published test vector to forgeries: only
the exact bytes signed with the project's secret get in, and a refused delivery writes nothing."""
import hashlib
import hmac
import json

import pytest

from app.forges import github
from app.records.models import Build, Project
from tests.support import create_project, push_payload, signature

# From GitHub's "Validating webhook deliveries" documentation.
VECTOR_SECRET = "It's a Secret to Everybody"
VECTOR_BODY = b"Hello, World!"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_githubs_published_test_vector_verifies():
    assert github.verify(VECTOR_SECRET, {"X-Hub-Signature-256": VECTOR_SIGNATURE}, VECTOR_BODY)
    assert signature(VECTOR_SECRET, VECTOR_BODY) == VECTOR_SIGNATURE


@pytest.fixture
def project(client, accounts, local_repo):
    """Alice's project, its webhook secret set to the vector's, its first build made."""
    made = create_project(client, accounts.token("alice"), local_repo)
    Project.update(webhook_secret=VECTOR_SECRET).where(Project.id == made["project"]["id"]).execute()
    return made["project"]["id"]


def deliver(client, project_id, body, headers, event="push"):
    return client.post(f"/api/webhooks/github/{project_id}", data=body,
                       headers={"Content-Type": "application/json", "X-GitHub-Event": event, **headers})


def test_the_vector_is_let_in_through_the_route(client, project):
    response = deliver(client, project, VECTOR_BODY, {"X-Hub-Signature-256": VECTOR_SIGNATURE}, event="ping")
    assert (response.status_code, response.get_json()) == (200, {"message": "Pong"})


def flipped(body, at):
    return body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1:]


def forgeries(commit):
    payload = push_payload(commit)
    body = json.dumps(payload, separators=(",", ":")).encode()
    good = signature(VECTOR_SECRET, body)
    sha1 = "sha1=" + hmac.new(VECTOR_SECRET.encode(), body, hashlib.sha1).hexdigest()
    return {
        "a flipped byte in the body": (flipped(body, len(body) // 2), {"X-Hub-Signature-256": good}),
        "a flipped byte in the signature": (body, {"X-Hub-Signature-256": good[:-1] + ("0" if good[-1] != "0" else "1")}),
        "the body re-serialised": (json.dumps(payload, indent=2).encode(), {"X-Hub-Signature-256": good}),
        "only the sha1 header": (body, {"X-Hub-Signature": sha1}),
        "sha1 in the sha256 header": (body, {"X-Hub-Signature-256": sha1}),
        "signed with an empty secret": (body, {"X-Hub-Signature-256": signature("", body)}),
        "signed with another secret": (body, {"X-Hub-Signature-256": signature("It's a Secret to Nobody", body)}),
        "the signature in upper case": (body, {"X-Hub-Signature-256": "sha256=" + good[7:].upper()}),
        "no signature": (body, {}),
        "an empty signature": (body, {"X-Hub-Signature-256": ""}),
        "the bare hex digest": (body, {"X-Hub-Signature-256": good[7:]}),
    }


@pytest.mark.parametrize("forgery", forgeries("0" * 40))
def test_a_forged_delivery_is_refused_and_writes_nothing(client, project, local_repo, forgery):
    commit = local_repo.commit({"NOTE": "pushed\n"}, message="Pushed")
    body, headers = forgeries(commit)[forgery]
    builds = Build.select().count()
    response = deliver(client, project, body, headers)
    assert response.status_code == 401
    assert response.get_json() == {"message": "Missing or invalid X-Hub-Signature-256"}
    assert Build.select().count() == builds


def test_the_genuine_delivery_of_the_same_push_builds(client, project, local_repo):
    commit = local_repo.commit({"NOTE": "pushed\n"}, message="Pushed")
    body = json.dumps(push_payload(commit), separators=(",", ":")).encode()
    response = deliver(client, project, body, {"X-Hub-Signature-256": signature(VECTOR_SECRET, body)})
    assert response.status_code == 202 and response.get_json()["build"]["commitHash"] == commit


def test_a_26_mb_body_is_refused_and_writes_nothing(client, project):
    body = b'{"ref": "refs/heads/main", "pad": "' + b"x" * (26 * 1024 * 1024) + b'"}'
    builds = Build.select().count()
    response = deliver(client, project, body, {"X-Hub-Signature-256": signature(VECTOR_SECRET, body)})
    assert response.status_code == 413
    assert set(response.get_json()) == {"message"}
    assert Build.select().count() == builds
