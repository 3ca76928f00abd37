"""GitHub's side: signed webhook deliveries, its real payloads and ours (its API on loopback is
forges.py's FakeForge)."""
import copy
import hashlib
import hmac
import json
import uuid

import pytest

from .services import IN_CI, WEBHOOK_FIXTURES


def signature(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery(secret, payload, event="push", delivery_id=None):
    """Return (body bytes, headers) for a webhook delivery signed as GitHub signs it."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Hub-Signature-256": signature(secret, body),
    }
    return body, headers


def github_payload(name):
    """One of GitHub's real payloads from ../shared; CI always has them."""
    path = WEBHOOK_FIXTURES / name
    if not path.exists():
        if IN_CI:
            pytest.fail(f"{path} is missing, and CI always has the shared fixtures")
        pytest.skip(f"shared webhook fixtures not found at {WEBHOOK_FIXTURES}")
    return json.loads(path.read_text())


def send(client, project, payload, event="push"):
    """Deliver `payload` as GitHub would to the project's webhook, through the in-process client."""
    body, headers = delivery(project["webhookSecret"], payload, event)
    return client.post(f"/api/webhooks/github/{project['id']}", data=body, headers=headers)


def pull_request(local_repo, number=2, action="opened", fork=False, base="main"):
    """GitHub's real pull request payload, its head a commit that only refs/pull/<n>/head holds in
    the local repository, as GitHub keeps a fork's commits."""
    back_to = local_repo.repo.active_branch.name
    local_repo.branch(f"pr-{number}")
    sha = local_repo.commit({f"pr{number}.txt": "proposed\n"}, message=f"Propose change {number}")
    local_repo.repo.git.update_ref(f"refs/pull/{number}/head", sha)
    local_repo.repo.git.checkout(back_to)
    local_repo.repo.git.branch("-D", f"pr-{number}")
    payload = copy.deepcopy(github_payload(f"pull_request/{action}.payload.json"))
    pull = payload["pull_request"]
    payload["number"] = pull["number"] = number
    pull["head"]["sha"], pull["base"]["ref"] = sha, base
    if fork:
        pull["head"]["repo"] = {**pull["head"]["repo"], "id": pull["base"]["repo"]["id"] + 1,
                                "full_name": "stranger/Hello-World", "fork": True}
    return payload, sha


def push_payload(commit_hash, branch="main", message="Fix the flux capacitor", author="Grace Hopper"):
    """A push event in GitHub's documented shape, written by us for our own tests."""
    return {
        "ref": f"refs/heads/{branch}",
        "before": "0" * 40,
        "after": commit_hash,
        "created": False,
        "deleted": False,
        "forced": False,
        "repository": {"id": 1, "name": "demo", "full_name": "octo/demo"},
        "head_commit": {
            "id": commit_hash,
            "message": message,
            "author": {"name": author, "email": "grace@example.com", "username": "grace"},
        },
        "commits": [],
    }

