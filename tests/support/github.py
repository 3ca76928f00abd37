"""GitHub's side: signed webhook deliveries, its real payloads and ours."""
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
