"""Every route but the public ones answers 401 without a token, and no spelling of a path
reaches a protected view without one."""
import re

import pytest

from app.api.openapi import spec
from tests.support import api, concrete, create_project, login, raw_get, routes

# The routes anyone may call: the account doors (a provider's sign-in among them), the forges'
# webhooks (signed instead), the OpenAPI document, health, and the dashboard's pages, files and public badges.
PUBLIC = {"auth.register", "auth.login", "signin.list_providers", "signin.start_sign_in", "signin.callback", "signin.exchange",
          "webhooks.deliver", "openapi.openapi_json", "downloads.download", "artifacts.download", "health.alive", "health.ready",
          "dashboard.page", "dashboard.vendor", "dashboard.badge", "static"}


@pytest.fixture
def alices_things(client, accounts, local_repo):
    """Alice's project 1, its build 1 and secret API_KEY, so a missing guard would show them."""
    headers = accounts.headers("alice")
    made = create_project(client, accounts.token(), local_repo)
    assert made["project"]["id"] == 1 and made["build"]["id"] == 1
    client.put("/api/project/projects/1/secrets/API_KEY", json={"value": "hunter2"}, headers=headers)
    return made


def test_every_route_but_the_public_ones_needs_a_token(app, client, alices_things):
    checked = 0
    for rule, method in routes(app):
        if rule.endpoint in PUBLIC:
            continue
        response = client.open(concrete(rule), method=method, json={})
        assert response.status_code == 401, f"{method} {rule.rule} answered {response.status_code}"
        assert set(response.get_json()) == {"message"}
        checked += 1
    documented = sum(op.get("security") != [] for item in spec()["paths"].values() for op in item.values()
                     if isinstance(op, dict))
    assert checked == documented


def test_the_public_routes_are_the_ones_documented_as_public(app):
    public_paths = {path for path, item in spec()["paths"].items()
                    if any(op.get("security") == [] for op in item.values() if isinstance(op, dict))}
    public_rules = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
                    for rule, _ in routes(app) if rule.endpoint in PUBLIC}
    assert public_rules == public_paths


TRICKS = [
    "/api/build/1;.jsp", "/api/build/1;x=y", "/api/build/1/..;/1", "/api/build/1/RPC2", "/api/build/1/",
    "//api/build/1", "/./api/build/1", "/API/build/1", "/api/BUILD/1", "/api/build/1%00",
    "/api/build/%31", "/api/build/1%2f", "/api/build/1%3b.jsp", "/api/build/01",
    "/static/../api/build/1", "/static/%2e%2e/api/build/1", "/static/..%2fapi/build/1",
    "/vendor/..%2f..%2fapi%2fbuild%2f1", "/badge/../api/build/1", "/badge/..%2fapi%2fbuild%2f1.svg",
    "/api/auth/login/../../build/1", "/api/auth/register/..;/../build/1",
    "/api/webhooks/github/1/../../../build/1", "/api/webhooks/github/%2e%2e/%2e%2e/build/1",
    "/api/project/projects/1/secrets/..%2f..%2f1", "/api/project/projects/%2e%2e/projects/1/secrets",
    "/api/project/projects/1/secrets/API_KEY/..;/", "/api/openapi.json/../build/1",
    "/projects/1/../../api/build/1/logs", "/builds/1%2f..%2f..%2fapi%2fbuild%2f1",
]


def test_no_spelling_of_a_path_reaches_a_protected_view_without_a_token(live_server, local_repo):
    token = login(live_server, "alice")
    made = create_project(live_server, token, local_repo, "sh ci.sh")
    assert made["build"]["id"] == 1
    api(live_server, "PUT", "/api/project/projects/1/secrets/API_KEY", token, json={"value": "hunter2"})
    commit = made["build"]["commitHash"]
    assert commit in api(live_server, "GET", "/api/build/1", token).text  # what a breach would show

    for path in TRICKS:
        status, body = raw_get(live_server, path)
        assert status in (400, 401, 404, 405), f"{path} answered {status}"
        for leak in (commit, "hunter2", "API_KEY", "webhookSecret", "==> "):
            assert leak not in body, f"{path} showed {leak}"


def test_options_on_every_route_answers_without_a_token_and_serves_nothing(app, client):
    for rule, _ in routes(app):
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            response = client.options(concrete(rule), headers=headers)
            assert response.status_code == 200, f"OPTIONS {rule.rule} answered {response.status_code}"
            assert response.get_data() == b""
