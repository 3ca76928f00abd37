"""Schemathesis against a running server, from the OpenAPI document: whatever a client sends,
no 500, and every answer keeps to the document (status, content type, body, headers)."""
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.api.openapi import spec
from tests.support import LocalRepo, create_project, login, start_server, stop_server

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]

schema = schemathesis.openapi.from_dict(spec())


@schemathesis.serializer("application/x-git-upload-pack-request")
def git_request(ctx, value):
    """What git sends an agent's relay is bytes, sent as they are (the fuzzer makes them)."""
    return value if isinstance(value, bytes) else str(value).encode()


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    """A server with a user, her project and secret and a queued build (no workers: what is
    fuzzed is the API, not the builds), and her token."""
    tmp = tmp_path_factory.mktemp("fuzzed")
    repo = LocalRepo(tmp / "repo")
    repo.commit({"ci.sh": "true\n"}, message="Initial commit")
    server = start_server("serve", {
        "DATABASE_URL": f"sqlite:///{tmp / 'stoker.db'}",
        "STOKER_DATA_DIR": str(tmp / "data"),
        "STOKER_WORKER_CONCURRENCY": "0",
        "STOKER_ALLOW_PRIVATE_HOOK_HOSTS": "1",
        # A sign-in provider, so that its routes answer as they do when one is set up; starting a
        # sign-in at a forge asks it nothing, and nothing listens at its address.
        "STOKER_OAUTH_GITEA_KIND": "gitea", "STOKER_OAUTH_GITEA_URL": "http://127.0.0.1:9",
        "STOKER_OAUTH_GITEA_CLIENT_ID": "stoker", "STOKER_OAUTH_GITEA_CLIENT_SECRET": "secret",
    }, tmp)
    token = login(server, "alice")
    # The agent API's bodies are read once an agent's token is shown.
    server.agent_token = requests.post(f"{server.url}/api/admin/agents", json={"name": "fuzzed"}, timeout=10,
                                       headers={"Authorization": f"Bearer {token}"}).json()["token"]
    create_project(server, token, repo, "sh ci.sh")
    requests.put(f"{server.url}/api/project/projects/1/secrets/API_KEY", json={"value": "hunter2"},
                 headers={"Authorization": f"Bearer {token}"}, timeout=10)
    # A webhook whose target nothing listens at: its routes answer as they do for a real one.
    requests.post(f"{server.url}/api/project/projects/1/hooks", json={"url": "http://127.0.0.1:9/hook"},
                  headers={"Authorization": f"Bearer {token}"}, timeout=10)
    yield server, token
    stop_server(server)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_to_the_document(fuzzed, case):
    server, token = fuzzed
    if case.path == "/api/auth/logout":
        token = login(server, "alice", fresh=True)  # a token of its own, since this call revokes it
    if case.method == "DELETE" and case.path in ("/api/project/projects/{project_id}", "/api/admin/agents/{agent_id}",
                                                 "/api/project/projects/{project_id}/hooks/{hook_id}"):
        token = login(server, "mallory")  # a 403: the project, agent and webhook the tests below use stay
    case.call_and_validate(base_url=server.url, headers={"Authorization": f"Bearer {token}"},
                           checks=CHECKS, timeout=10)


# Shapes the fuzzer does not make, each of which once gave a 500 (or a cut body a 400).
DEEP = b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
SURROGATES = [b'{"username": "\\ud800", "password": "password123", "name": "x", "value": "\\udfff"}',
              b'{"\\ud800": 1}']
JSON_OPERATIONS = [(method, path) for path, item in spec()["paths"].items() for method, operation in item.items()
                   if isinstance(operation, dict) and "application/json" in operation.get("requestBody", {}).get(
                       "content", {}) and "webhooks" not in path]


def concrete(path):
    return path.format(project_id=1, build_id=1, user_id=1, name="API_KEY", token_id=1, username="bob",
                       host="registry.example.com", forge="github", agent_id=1, lease="agent:1:0", hook_id=1,
                       bundle_id="com.example.demo")


@pytest.mark.parametrize("method, path", JSON_OPERATIONS)
def test_deep_json_and_lone_surrogates_are_400s_that_say_so(fuzzed, method, path):
    server, token = fuzzed
    token = server.agent_token if path.startswith("/api/agent/") else token
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    response = requests.request(method, server.url + concrete(path), data=DEEP, headers=headers, timeout=10)
    assert (response.status_code, response.json()) == (400, {"message": "Request body is nested deeper than 32 levels"})
    for body in SURROGATES:
        response = requests.request(method, server.url + concrete(path), data=body, headers=headers, timeout=10)
        assert response.status_code == 400, response.text
        assert "not valid Unicode text" in response.json()["message"]


@pytest.mark.parametrize("method, path", [("post", "/api/auth/login"), ("post", "/api/project/projects"),
                                          ("put", "/api/project/projects/{project_id}/secrets/{name}")])
def test_a_chunked_body_over_the_cap_is_413_not_cut(fuzzed, method, path):
    server, token = fuzzed
    piece = b" " * 2**20
    chunks = iter([b'{"value": "x"'] + [piece] * 26 + [b"}"])
    response = requests.request(method, server.url + concrete(path), data=chunks, timeout=30, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert response.status_code == 413 and "larger than 25 MB" in response.json()["message"]
