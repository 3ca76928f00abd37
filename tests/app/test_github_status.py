"""Commit statuses reported to GitHub, here a local server that records every call."""
from datetime import timedelta

import pytest

from app import create_app
from app.background.statuses import MAX_ATTEMPTS, deliver_due
from app.forges.github import repo_from_url
from app.records.models import Build, GithubStatus, Status, utcnow
from tests.support import Accounts, create_project, free_port, login, start_server, stop_server, wait_until

pytestmark = pytest.mark.both_databases


def reporting_app(config, api_url):
    app = create_app({**config, "STOKER_GITHUB_API_URL": api_url})
    client = app.test_client()
    return app, client, Accounts(client).headers()


def create(client, headers, local_repo, **fields):
    body = {"name": "gh", "repoUrl": local_repo.url, "buildCommand": "sh ci.sh", "githubRepo": "octo/demo",
            "githubToken": "ghp_test", **fields}
    response = client.post("/api/project/projects", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def make_retries_due():
    GithubStatus.update(next_try_at=utcnow() - timedelta(days=1)).execute()


def deliver(app):
    with app.app_context():
        return deliver_due(app)


def test_each_status_reaches_github_as_it_happens(config, github, local_repo, drain):
    fake = github()
    app, client, headers = reporting_app(config, fake.url)
    created = create(client, headers, local_repo)
    assert created["project"]["reportsToGithub"] is True and "githubToken" not in created["project"]
    build_id, sha = created["build"]["id"], created["build"]["commitHash"]
    assert deliver(app) == 1

    from app.worker import Worker
    Worker(app, "test-worker").run_once()
    assert deliver(app) == 1  # 'running' was overtaken by 'passed' before delivery: only the newest goes

    assert [(c["state"], c["description"]) for c in fake.calls] == [("pending", "Queued"), ("success", "Passed")]
    call = fake.calls[-1]
    assert call["path"] == f"/repos/octo/demo/statuses/{sha}"
    assert call["auth"] == "Bearer ghp_test"
    assert call["context"] == "stoker"
    assert call["target_url"] == f"http://stoker.test/builds/{build_id}"


def test_a_failed_build_reports_failure_with_why(config, github, local_repo, docker_client):
    fake = github()
    app, client, headers = reporting_app(config, fake.url)
    create(client, headers, local_repo, buildCommand="exit 3")
    from app.worker import Worker
    Worker(app, "test-worker").run_once()
    deliver(app)
    assert (fake.calls[-1]["state"], fake.calls[-1]["description"]) == ("failure", "Failed with exit code 3")


def test_refused_reports_are_retried_and_never_touch_the_build(config, github, local_repo, docker_client):
    fake = github(failures=2)
    app, client, headers = reporting_app(config, fake.url)
    build_id = create(client, headers, local_repo)["build"]["id"]
    from app.worker import Worker
    Worker(app, "test-worker").run_once()
    for _ in range(3):
        deliver(app)
        make_retries_due()
    assert [c["state"] for c in fake.calls] == ["success", "success", "success"]
    assert GithubStatus.select().where(GithubStatus.done == False).count() == 0  # noqa: E712
    assert Build.get_by_id(build_id).status == Status.PASSED


def test_an_unreachable_github_is_given_up_after_the_last_attempt(config, local_repo, docker_client):
    app, client, headers = reporting_app(config, f"http://127.0.0.1:{free_port()}")
    build_id = create(client, headers, local_repo)["build"]["id"]
    for _ in range(MAX_ATTEMPTS):
        deliver(app)
        make_retries_due()
    row = GithubStatus.get(GithubStatus.build == build_id)
    assert (row.done, row.attempts) == (True, MAX_ATTEMPTS)


def test_projects_without_a_token_owe_github_nothing(client, accounts, local_repo, drain):
    create_project(client, accounts.token(), local_repo, None, name="x")
    drain()
    assert GithubStatus.select().count() == 0


@pytest.mark.parametrize("url, repo", [
    ("https://github.com/octo/demo.git", "octo/demo"),
    ("https://github.com/octo/demo", "octo/demo"),
    ("git@github.com:octo/demo.git", "octo/demo"),
    ("https://gitlab.com/octo/demo.git", None),
])
def test_the_github_repo_is_read_from_the_repo_url(url, repo):
    assert repo_from_url(url) == repo


@pytest.mark.parametrize("fields, words", [
    ({"githubRepo": "not a repo"}, "githubRepo"),
    ({"githubToken": ""}, "githubToken"),
    ({"githubToken": "x", "githubRepo": None}, "githubRepo"),
])
def test_bad_github_settings_are_400(client, accounts, local_repo, fields, words):
    body = {"name": "x", "repoUrl": local_repo.url, "githubRepo": "octo/demo", "githubToken": "t", **fields}
    if fields.get("githubRepo", "") is None:
        del body["githubRepo"]
    response = client.post("/api/project/projects", json=body, headers=accounts.headers())
    assert response.status_code == 400
    assert words in response.get_json()["message"]


def test_a_running_server_delivers_statuses_by_itself(database_url, tmp_path, github, local_repo, docker_client):
    fake = github()
    server = start_server("serve", {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "live"),
                                    "STOKER_GITHUB_API_URL": fake.url}, tmp_path)
    try:
        token = login(server, "alice")
        create_project(server, token, local_repo, name="gh", githubRepo="octo/demo", githubToken="ghp_live")
        wait_until(lambda: fake.calls and fake.calls[-1]["state"] == "success", timeout=20,
                   what=lambda: (fake.calls, server.log()[-3000:]))
    finally:
        stop_server(server)
    assert fake.calls[-1]["auth"] == "Bearer ghp_live"
