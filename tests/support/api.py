"""Talking to Stoker's API as a client would: accounts, tokens (logged in once each), projects."""
import re

import requests
from flask.testing import FlaskClient

ISO_MILLIS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
PASSWORD = "password123"


class Accounts:
    """Registers and logs in users through the in-process API; each user logs in once."""

    def __init__(self, client):
        self.client = client
        self.tokens = {}

    def register(self, username, password=PASSWORD):
        response = self.client.post("/api/auth/register", json={"username": username, "password": password})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["user"]

    def token(self, username="alice", password=PASSWORD, fresh=False):
        """The user's token, registering them first if need be; `fresh` logs in again for a new one."""
        if fresh or username not in self.tokens:
            response = self.client.post("/api/auth/login", json={"username": username, "password": password})
            if response.status_code == 401:
                self.register(username, password)
                response = self.client.post("/api/auth/login", json={"username": username, "password": password})
            self.tokens[username] = response.get_json()["accessToken"]
        return self.tokens[username]

    def headers(self, username="alice", fresh=False):
        return {"Authorization": f"Bearer {self.token(username, fresh=fresh)}"}


def api(server, method, path, token=None, **kwargs):
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, server.url + path, headers=headers, timeout=10, **kwargs)


def login(server, username, fresh=False):
    """A running server's token for `username`, registering them first if need be; `fresh` logs in
    again for a new one."""
    if fresh or username not in server.tokens:
        api(server, "POST", "/api/auth/register", json={"username": username, "password": PASSWORD})
        response = api(server, "POST", "/api/auth/login", json={"username": username, "password": PASSWORD})
        server.tokens[username] = response.json()["accessToken"]
    return server.tokens[username]


def create_project(where, token, repo, command="sh ci.sh", name="demo", **fields):
    """Create a project on `repo` as the holder of `token`, through the in-process client or a
    running server; return the answer (project and first build), having checked it is a 201.
    With `command` None the server's default build command is used."""
    body = {"name": name, "repoUrl": repo.url, **fields}
    if command is not None:
        body["buildCommand"] = command
    path = "/api/project/projects"
    if isinstance(where, FlaskClient):
        response = where.post(path, headers={"Authorization": f"Bearer {token}"}, json=body)
        status, answer = response.status_code, response.get_json()
    else:
        response = api(where, "POST", path, token, json=body)
        status, answer = response.status_code, response.json()
    assert status == 201, answer
    return answer


def run_now(client, headers, project_id, drain, **body):
    """Start a manual run of the project (`body`: its branch, variables), run every queued build
    in this process, and return the run as the API then shows it."""
    made = client.post(f"/api/project/projects/{project_id}/builds", json=body, headers=headers)
    assert made.status_code == 201, made.get_json()
    drain()
    return client.get(f"/api/build/{made.get_json()['build']['id']}", headers=headers).get_json()["build"]


def settings(client, project, headers, **fields):
    """Change the project's settings through the in-process client; return it as changed."""
    response = client.patch(f"/api/project/projects/{project['id']}", json=fields, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["project"]


def log_of(client, headers, build_id):
    """A build's whole log, as the in-process client reads it."""
    return client.get(f"/api/build/{build_id}/logs", headers=headers).get_data(as_text=True)
