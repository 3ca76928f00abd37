"""Forges other than GitHub: their real payloads, the headers each sends a delivery with, and any
forge's commit status API (GitHub's too) on loopback."""
import base64
import hashlib
import hmac
import json
from http.server import BaseHTTPRequestHandler

from .http import LocalHttp, reply_json
from .services import FORGE_FIXTURES, unavailable


def forge_body(forge, name):
    """The bytes of one of a forge's real payloads from ../shared, `name` in its folder; CI always has them."""
    path = FORGE_FIXTURES / forge / name
    if not path.exists():
        unavailable(f"the shared forge webhook fixtures are not at {FORGE_FIXTURES}")
    return path.read_bytes()


def forge_fixtures(forge):
    """The names of all of a forge's real payloads."""
    folder = FORGE_FIXTURES / forge
    if not folder.is_dir():
        unavailable(f"the shared forge webhook fixtures are not at {FORGE_FIXTURES}")
    return sorted(path.name for path in folder.glob("*.json"))


def hex_signature(secret, body):
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def forge_headers(forge, secret, body, event, delivery_id):
    """The headers `forge` ("gitea", "forgejo" or "gitlab") sends a delivery of `body` with, proven
    with `secret` as that forge proves one. (Gitea sends Gogs' and GitHub's names of them too; Stoker
    reads its own.)"""
    if forge == "gitlab":
        return {"Content-Type": "application/json", "X-Gitlab-Event": event, "X-Gitlab-Event-UUID": delivery_id,
                "X-Gitlab-Token": secret}
    gitea = {"X-Gitea-Event": event, "X-Gitea-Delivery": delivery_id, "X-Gitea-Signature": hex_signature(secret, body)}
    forgejo = {name.replace("X-Gitea-", "X-Forgejo-"): value for name, value in gitea.items()}
    return {"Content-Type": "application/json", **gitea, **(forgejo if forge == "forgejo" else {})}


def signed_headers(key, body, delivery_id, timestamp):
    """webhook-id, webhook-timestamp and webhook-signature for `body`, signed with `key` (bytes) as
    newer GitLab signs (the Standard Webhooks scheme)."""
    digest = hmac.new(key, f"{delivery_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": delivery_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": "v1," + base64.b64encode(digest).decode()}


class FakeForge:
    """A forge's commit status API on 127.0.0.1, its `url` given as STOKER_GITHUB_API_URL or as a
    project's forge_url: answers each POST with the next of `answers` ((status, JSON body) pairs),
    then with 201, and keeps every call's path, Authorization and PRIVATE-TOKEN headers and JSON
    body in `calls`."""

    def __init__(self, answers=()):
        self.calls, self.answers = [], list(answers)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.calls.append({"path": self.path, "auth": self.headers["Authorization"],
                                   "private_token": self.headers["PRIVATE-TOKEN"], **body})
                reply_json(self, *(fake.answers.pop(0) if fake.answers else (201, {})))

            def log_message(self, *args):
                pass

        self.http = LocalHttp(Handler)
        self.url = self.http.url

    def close(self):
        self.http.close()
