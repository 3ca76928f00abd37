"""Helpers tests share: GitHub deliveries and payloads, and talking to a running server."""
import hashlib
import hmac
import http.client
import json
import queue
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import requests
import socketio

from tests.conftest import IN_CI, WEBHOOK_FIXTURES

ISO_MILLIS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


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


def raw_get(server, path):
    """GET `path` exactly as written, over a plain socket: no client library tidies it first.

    Werkzeug answers a path with doubled slashes by redirecting to the merged path;
    that redirect is followed (it must stay on this server) and its answer returned.
    """
    url = urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        if response.status == 308:
            location = urlsplit(response.getheader("Location"))
            assert location.netloc in ("", url.netloc)
            return raw_get(server, location.path)
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


def api(server, method, path, token=None, **kwargs):
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, server.url + path, headers=headers, timeout=10, **kwargs)


def create_project(server, token, repo, command, name="demo", **fields):
    """Create a project on `repo` through a running server's API; return its answer."""
    return api(server, "POST", "/api/project/projects", token, json={
        "name": name, "repoUrl": repo.url, "buildCommand": command, **fields}).json()


def login(server, username):
    api(server, "POST", "/api/auth/register", json={"username": username, "password": "password123"})
    response = api(server, "POST", "/api/auth/login", json={"username": username, "password": "password123"})
    return response.json()["accessToken"]


class Listener:
    """A real Socket.IO client that collects buildStatusUpdate and buildLog events."""

    def __init__(self, server, token):
        self.events = queue.Queue()
        # Other builds' events that arrived while one build was waited for: theirs to collect later.
        self.set_aside = []
        self.logs = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        self.client.on("buildStatusUpdate", self.events.put)
        self.client.on("buildLog", self.logs.put)
        self.client.connect(server.url, auth={"token": token}, transports=["websocket"], wait_timeout=5)

    def statuses_of(self, build_id, until, timeout=30):
        """Collect the statuses one build goes through, in arrival order, until `until` arrives."""
        seen, deadline = [], time.monotonic() + timeout
        earlier = [event for event in self.set_aside if event["id"] == build_id]
        self.set_aside = [event for event in self.set_aside if event["id"] != build_id]
        while until not in seen:
            event = earlier.pop(0) if earlier else self.events.get(timeout=max(0.1, deadline - time.monotonic()))
            assert set(event) >= {"id", "status", "commitHash", "exitCode"} and "project" not in event
            if event["id"] == build_id:
                seen.append(event["status"])
            else:
                self.set_aside.append(event)
        return seen

    def log_of(self, build_id):
        """The log pieces received so far for one build, as (offset, data) in arrival order."""
        pieces = []
        while not self.logs.empty():
            event = self.logs.get_nowait()
            if event["buildId"] == build_id:
                pieces.append((event["offset"], event["data"]))
        return pieces

    def close(self):
        self.client.disconnect()


class LocalHttp:
    """A real HTTP server on 127.0.0.1, in a thread, answering with `handler` (a
    BaseHTTPRequestHandler class); `close()` when done."""

    def __init__(self, handler):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Site(LocalHttp):
    """A web site on 127.0.0.1 whose every answer a test sets with `page()`; anything else is a 404."""

    def __init__(self):
        routes = self.routes = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                status, headers, body = routes.get(self.path, (404, {}, b"not here"))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(Handler)

    def page(self, path, body, content_type="text/html", status=200, **headers):
        self.routes[path] = (status, {"Content-Type": content_type, **headers}, body)
