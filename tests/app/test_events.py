"""Every event a project builds on: branches its patterns take in, tags, pull requests (a fork's
waits for approval and never meets a secret), closing, and manual runs with variables."""
import copy
import json

import pytest

from app.forges import github
from app.records.models import Build, GithubStatus, Project, Status
from tests.support import api, create_project, delivery, log_of, login, pull_request, push_payload, send, settings

# Prints what a build was told, and every secret-looking variable it can see.
SHOW_ENV = "env | grep -E '^(STOKER_|CI_|DEPLOY_KEY|PR_TOKEN|NIGHTLY)' | sort"


@pytest.fixture
def alice(client, accounts, local_repo, drain):
    """Alice's project on the local repo, building SHOW_ENV, with two secrets; its first build run."""
    created = create_project(client, accounts.token(), local_repo, SHOW_ENV)
    project = created["project"]
    headers = accounts.headers()
    for name, body in (("DEPLOY_KEY", {"value": "deploy-secret-value"}),
                       ("PR_TOKEN", {"value": "pr-secret-value", "events": ["pull_request", "push"]})):
        assert client.put(f"/api/project/projects/{project['id']}/secrets/{name}", json=body,
                          headers=headers).status_code == 201
    drain()
    return project, headers


def build_of(client, headers, build_id):
    return client.get(f"/api/build/{build_id}", headers=headers).get_json()["build"]


@pytest.mark.both_databases
def test_pushes_build_the_branches_the_patterns_take_in_and_tags_when_asked(client, alice, local_repo, drain):
    project, headers = alice
    settings(client, project, headers, branches=["**", "!wip/**"])
    local_repo.branch("feature/login")
    feature = local_repo.commit({"login.txt": "x\n"}, message="Log in")
    response = send(client, project, push_payload(feature, branch="feature/login"))
    assert response.status_code == 202, response.get_json()
    build = response.get_json()["build"]
    assert (build["event"], build["ref"], build["branch"], build["commitHash"]) == (
        "push", "refs/heads/feature/login", "feature/login", feature)
    assert send(client, project, push_payload(feature, branch="wip/try")).get_json()["message"].startswith("Ignored")

    tag = {**push_payload(feature), "ref": "refs/tags/v1.2.0"}
    assert send(client, project, tag).get_json() == {"message": "Ignored: tag pushes are not built"}
    settings(client, project, headers, tags=True)
    tagged = send(client, project, tag).get_json()["build"]
    assert (tagged["event"], tagged["ref"], tagged["branch"]) == ("tag", "refs/tags/v1.2.0", "v1.2.0")
    assert drain() == 2
    log = log_of(client, headers, tagged["id"])
    assert "STOKER_EVENT=tag" in log and "STOKER_TAG=v1.2.0" in log and "STOKER_REF=refs/tags/v1.2.0" in log
    assert "\nCI_COMMIT_TAG=v1.2.0\n" in log and "\nCI_PIPELINE_EVENT=tag\n" in log and "CI_COMMIT_BRANCH=" not in log
    assert build_of(client, headers, build["id"])["status"] == Status.PASSED


@pytest.mark.both_databases
def test_a_same_repository_pull_request_builds_its_head_with_the_secrets_meant_for_it(client, alice, local_repo,
                                                                                       drain):
    project, headers = alice
    payload, sha = pull_request(local_repo, number=7)
    response = send(client, project, payload, event="pull_request")
    assert response.status_code == 202, response.get_json()
    build = response.get_json()["build"]
    assert (build["status"], build["event"], build["ref"], build["commitHash"]) == (
        "queued", "pull_request", "refs/pull/7/head", sha)
    assert build["pullRequest"] == {"number": 7, "title": payload["pull_request"]["title"],
                                    "url": payload["pull_request"]["html_url"], "baseBranch": "main",
                                    "headRepo": "Codertocat/Hello-World", "fork": False}
    assert drain() == 1
    assert build_of(client, headers, build["id"])["status"] == Status.PASSED
    log = log_of(client, headers, build["id"])
    assert "STOKER_EVENT=pull_request" in log and "STOKER_PULL_REQUEST=7" in log
    for told in ("CI_COMMIT_PULL_REQUEST=7", "CI_COMMIT_TARGET_BRANCH=main", "CI_COMMIT_BRANCH=main",
                 f"CI_COMMIT_SHA={sha}", "CI_COMMIT_REF=refs/pull/7/head", "CI_PIPELINE_EVENT=pull_request"):
        assert f"\n{told}\n" in log, (told, log)
    # PR_TOKEN's events include pull_request; DEPLOY_KEY keeps the default ones, which do not.
    assert "PR_TOKEN=***" in log and "DEPLOY_KEY=" not in log


@pytest.mark.both_databases
def test_a_forks_pull_request_waits_for_approval_then_runs_without_a_single_secret(client, alice, local_repo,
                                                                                   drain):
    project, headers = alice
    payload, sha = pull_request(local_repo, number=9, fork=True)
    build = send(client, project, payload, event="pull_request").get_json()["build"]
    assert (build["status"], build["pullRequest"]["fork"], build["pullRequest"]["headRepo"]) == (
        "blocked", True, "stranger/Hello-World")
    assert drain() == 0
    approved = client.post(f"/api/build/{build['id']}/approve", headers=headers)
    assert approved.status_code == 200 and approved.get_json()["build"]["status"] == "queued"
    assert approved.get_json()["build"]["triggeredBy"] == "alice"
    assert client.post(f"/api/build/{build['id']}/approve", headers=headers).status_code == 409
    assert drain() == 1
    assert build_of(client, headers, build["id"])["status"] == Status.PASSED
    log = log_of(client, headers, build["id"])
    assert "STOKER_PULL_REQUEST=9" in log
    assert "PR_TOKEN=" not in log and "DEPLOY_KEY=" not in log and "secret-value" not in log

    # Rebuilt, it is still a fork's build: still no secret.
    rebuilt = client.post(f"/api/build/rebuild/{build['id']}", headers=headers).get_json()["build"]
    assert rebuilt["pullRequest"]["fork"] is True and rebuilt["parentId"] == build["id"]
    assert drain() == 1
    assert "PR_TOKEN=" not in log_of(client, headers, rebuilt["id"])


def test_a_declined_build_never_starts_and_closing_cancels_what_has_not_finished(client, alice, local_repo, drain):
    project, headers = alice
    payload, _ = pull_request(local_repo, number=3, fork=True)
    declined = send(client, project, payload, event="pull_request").get_json()["build"]
    answer = client.post(f"/api/build/{declined['id']}/decline", headers=headers)
    assert answer.status_code == 200 and answer.get_json()["build"]["status"] == "declined"
    assert client.post(f"/api/build/{declined['id']}/approve", headers=headers).status_code == 409
    waiting = send(client, project, payload, event="pull_request").get_json()["build"]
    assert waiting["status"] == "blocked"

    closed = copy.deepcopy(payload)
    closed["action"] = "closed"
    answer = send(client, project, closed, event="pull_request")
    assert answer.get_json() == {"message": "Pull request closed: 1 build(s) canceled"}
    assert Build.get_by_id(waiting["id"]).status == Status.CANCELED
    assert Build.get_by_id(declined["id"]).status == Status.DECLINED
    assert drain() == 0
    labeled = {**payload, "action": "labeled"}
    assert send(client, project, labeled, event="pull_request").get_json()["message"].startswith("Ignored")


def test_fork_pull_requests_can_be_ignored_or_built_and_pull_requests_switched_off(client, alice, local_repo):
    project, headers = alice
    payload, _ = pull_request(local_repo, number=4, fork=True)
    settings(client, project, headers, forkPullRequests="ignore")
    assert send(client, project, payload, event="pull_request").get_json() == {
        "message": "Ignored: pull requests from forks are not built"}
    settings(client, project, headers, forkPullRequests="build")
    assert send(client, project, payload, event="pull_request").get_json()["build"]["status"] == "queued"
    settings(client, project, headers, pullRequests=False)
    assert send(client, project, payload, event="pull_request").get_json() == {
        "message": "Ignored: pull requests are not built"}
    into_other = pull_request(local_repo, number=5, base="release")[0]
    settings(client, project, headers, pullRequests=True)
    assert send(client, project, into_other, event="pull_request").get_json()["message"].startswith(
        "Ignored: pull request into release")


def test_a_blocked_build_reports_waiting_for_approval_to_github(app, client, accounts, local_repo):
    created = create_project(client, accounts.token(), local_repo, githubRepo="octo/demo", githubToken="ghp_x")
    payload, sha = pull_request(local_repo, number=11, fork=True)
    build = send(client, created["project"], payload, event="pull_request").get_json()["build"]
    owed = GithubStatus.select().where(GithubStatus.build == build["id"]).get()
    # Owed in Stoker's words, sent in GitHub's.
    assert (owed.state, owed.description, github.STATES[owed.state]) == ("blocked", "Waiting for approval", "pending")
    assert Build.get_by_id(build["id"]).commit_hash == sha


@pytest.mark.both_databases
def test_a_manual_run_builds_a_branch_head_with_its_variables(client, alice, local_repo, drain):
    project, headers = alice
    local_repo.branch("release")
    head = local_repo.commit({"r.txt": "r\n"}, message="Release")
    url = f"/api/project/projects/{project['id']}/builds"
    answer = client.post(url, json={"branch": "release", "variables": {"NIGHTLY": "yes please"}}, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    build = answer.get_json()["build"]
    assert (build["event"], build["branch"], build["commitHash"], build["triggeredBy"]) == (
        "manual", "release", head, "alice")
    assert drain() == 1
    log = log_of(client, headers, build["id"])
    assert "NIGHTLY=yes please" in log and "STOKER_EVENT=manual" in log and "DEPLOY_KEY=***" in log

    for body, status, words in [({"branch": "no-such-branch"}, 422, "no-such-branch"),
                                ({"variables": {"1BAD": "x"}}, 400, "variables"),
                                ({"variables": {"OK": 5}}, 400, "variables"),
                                ({"variables": {"OK": "x" * 5000}}, 400, "variables"),
                                ({"variables": {"STOKER_EVENT": "push"}}, 400, "variables"),
                                ({"variables": {"DEPLOY_KEY": "mine"}}, 400, "DEPLOY_KEY: it is one of the project's secrets"),
                                ({"variables": {"PATH": "/tmp/x"}}, 400, "may not set PATH"),
                                ({"variables": {"LD_PRELOAD": "/tmp/x.so"}}, 400, "may not set LD_PRELOAD"),
                                ({"variables": {"NODE_OPTIONS": "--require /tmp/x"}}, 400, "may not set NODE_OPTIONS"),
                                ({"variables": {"https_proxy": "http://x"}}, 400, "may not set https_proxy"),
                                ({"variables": {"PYTHONSTARTUP": "/tmp/x"}}, 400, "may not set PYTHONSTARTUP"),
                                ({"branch": "--upload-pack=x"}, 400, "branch")]:
        answer = client.post(url, json=body, headers=headers)
        assert answer.status_code == status and words in answer.get_json()["message"], (body, answer.get_json())
    assert Build.select().where(Build.project == project["id"]).count() == 2
    audit = client.get(f"/api/project/projects/{project['id']}/audit", headers=headers).get_json()
    assert any(e["action"] == "build.run" and e["target"] == f"{build['id']} with variables NIGHTLY"
               for e in audit["entries"]), audit

    # A run's variables stored before a secret of the same name was made: the secret wins, and what
    # decides which programs run is never set.
    later = client.post(url, json={}, headers=headers).get_json()["build"]["id"]
    Build.update(variables=json.dumps({"DEPLOY_KEY": "forged", "PATH": "/nowhere", "LD_PRELOAD": "/x.so",
                                       "NIGHTLY": "kept"})).where(Build.id == later).execute()
    drain()
    log = log_of(client, headers, later)
    assert "DEPLOY_KEY=***" in log and "NIGHTLY=kept" in log and "forged" not in log, log
    assert "/nowhere" not in log and "LD_PRELOAD" not in log, log


def test_every_setting_is_changed_by_patch_and_a_bad_one_changes_nothing(client, alice, local_repo):
    project, headers = alice
    changed = settings(client, project, headers, name="renamed", branches=["main", "release/*"], tags=True,
                       pullRequests=False, forkPullRequests="build", buildCommand="make test", image="alpine:3.20",
                       timeoutSeconds=60, autoCancel=True, concurrency=2, keepBuilds=50, public=True)
    assert {key: changed[key] for key in ("name", "branches", "tags", "pullRequests", "forkPullRequests",
                                          "buildCommand", "image", "timeoutSeconds", "autoCancel", "concurrency",
                                          "keepBuilds", "public")} == {
        "name": "renamed", "branches": ["main", "release/*"], "tags": True, "pullRequests": False,
        "forkPullRequests": "build", "buildCommand": "make test", "image": "alpine:3.20", "timeoutSeconds": 60,
        "autoCancel": True, "concurrency": 2, "keepBuilds": 50, "public": True}
    before = Project.get_by_id(project["id"]).__data__
    url = f"/api/project/projects/{project['id']}"
    for body, field in [({"name": "x", "branches": []}, "branches"), ({"branches": ["a b"]}, "branches"),
                        ({"branches": "main"}, "branches"), ({"forkPullRequests": "yes"}, "forkPullRequests"),
                        ({"tags": "true"}, "tags"), ({"timeoutSeconds": 0}, "timeoutSeconds"),
                        ({"branch": "a..b"}, "branch"), ({"concurrency": 0}, "concurrency"),
                        ({"keepBuilds": 0}, "keepBuilds"), ({"keepBuilds": "5"}, "keepBuilds")]:
        answer = client.patch(url, json=body, headers=headers)
        assert answer.status_code == 400 and field in answer.get_json()["message"], (body, answer.get_json())
    for body, field in [({"githubToken": "t0ken"}, "githubRepo"), ({"githubRepo": "not a repo"}, "githubRepo"),
                        ({"repoUrl": "http://example.com/r"}, "repoUrl"), ({"repoToken": ""}, "repoToken")]:
        answer = client.patch(url, json=body, headers=headers)
        assert answer.status_code == 400 and field in answer.get_json()["message"], (body, answer.get_json())
    assert client.patch(url, json={"branch": "no-such"}, headers=headers).status_code == 422
    assert client.patch(url, json={"repoUrl": "/no/such/repo"}, headers=headers).status_code == 422
    assert Project.get_by_id(project["id"]).__data__ == before

    reporting = settings(client, project, headers, githubRepo="octo/demo", githubToken="ghp_t0ken")
    assert (reporting["githubRepo"], reporting["reportsToGithub"]) == ("octo/demo", True)
    assert "ghp_t0ken" not in str(reporting)
    assert settings(client, project, headers, githubToken=None)["reportsToGithub"] is False


def test_secrets_say_which_events_they_reach_and_refuse_unknown_ones(client, alice):
    project, headers = alice
    listed = client.get(f"/api/project/projects/{project['id']}/secrets", headers=headers).get_json()["secrets"]
    assert {s["name"]: s["events"] for s in listed} == {"DEPLOY_KEY": ["push", "tag", "manual", "cron"],
                                                         "PR_TOKEN": ["push", "pull_request"]}
    for events in (["fork"], [], "push", [1]):
        answer = client.put(f"/api/project/projects/{project['id']}/secrets/X", json={"value": "long enough", "events": events},
                            headers=headers)
        assert answer.status_code == 400 and "events" in answer.get_json()["message"]


def test_with_auto_cancel_a_new_commit_on_a_pull_request_cancels_only_that_pull_requests_older_builds(
        client, alice, local_repo):
    project, headers = alice
    settings(client, project, headers, autoCancel=True)
    first = send(client, project, pull_request(local_repo, number=31)[0], event="pull_request").get_json()["build"]
    other = send(client, project, pull_request(local_repo, number=32)[0], event="pull_request").get_json()["build"]
    pushed = send(client, project, push_payload(local_repo.repo.head.commit.hexsha)).get_json()["build"]
    synchronized = pull_request(local_repo, number=31, action="synchronize")[0]
    newer = send(client, project, synchronized, event="pull_request").get_json()["build"]
    assert Build.get_by_id(first["id"]).status == Status.CANCELED
    assert Build.get_by_id(first["id"]).error == f"superseded by build {newer['id']}"
    assert [Build.get_by_id(b["id"]).status for b in (other, pushed, newer)] == [Status.QUEUED] * 3


def test_without_auto_cancel_a_pull_requests_new_commit_still_supersedes_its_builds_not_yet_started(
        client, alice, local_repo):
    project, headers = alice
    first = send(client, project, pull_request(local_repo, number=33)[0], event="pull_request").get_json()["build"]
    running = send(client, project, pull_request(local_repo, number=33, action="synchronize")[0],
                   event="pull_request").get_json()["build"]
    Build.update(status=Status.RUNNING).where(Build.id == running["id"]).execute()
    pushed = send(client, project, push_payload(local_repo.repo.head.commit.hexsha)).get_json()["build"]
    again = send(client, project, push_payload(local_repo.repo.head.commit.hexsha)).get_json()["build"]
    newest = send(client, project, pull_request(local_repo, number=33, action="synchronize")[0],
                  event="pull_request").get_json()["build"]
    assert (Build.get_by_id(first["id"]).status, Build.get_by_id(first["id"]).error) == (
        Status.CANCELED, f"superseded by build {running['id']}")
    # One already running goes on; a branch's pushes are left alone without autoCancel.
    assert [Build.get_by_id(b["id"]).status for b in (running, pushed, again, newest)] == [
        Status.RUNNING, Status.QUEUED, Status.QUEUED, Status.QUEUED]


@pytest.mark.parametrize("where, value", [("head", "--upload-pack=x"), ("base", "a..b"), ("head", 7),
                                          ("base", "x" * 300)])
def test_a_pull_request_naming_a_branch_git_would_refuse_is_a_400_and_builds_nothing(client, alice, local_repo,
                                                                                      where, value):
    project, _ = alice
    payload, _ = pull_request(local_repo, number=41)
    payload["pull_request"][where]["ref"] = value
    answer = send(client, project, payload, event="pull_request")
    assert answer.status_code == 400 and f"{where}.ref" in answer.get_json()["message"]
    assert Build.select().count() == 1


def test_a_push_to_a_ref_git_would_refuse_is_a_400(client, alice, local_repo):
    project, headers = alice
    settings(client, project, headers, branches=["**"])
    payload = {**push_payload(local_repo.repo.head.commit.hexsha), "ref": "refs/heads/a..b"}
    answer = send(client, project, payload)
    assert answer.status_code == 400 and "'ref'" in answer.get_json()["message"]


@pytest.mark.both_databases
def test_every_event_end_to_end_on_a_running_server(live_server, listeners, local_repo, live_database):
    """Against `stoker serve` and its workers: a feature branch, a tag, a same-repository pull request,
    a fork's (blocked, approved, run without a secret), a `when: path` skip, and a manual run."""
    token = login(live_server, "alice")
    events = listeners(live_server, token)
    local_repo.commit({".stoker.yml": "when: {path: ['src/**', 'pr*.txt']}\n"
                                      "steps: [{name: show, commands: \"" + SHOW_ENV + "\"}]\n"},
                      message="Show the environment")
    made = create_project(live_server, token, local_repo, branches=["main", "feature/*"], tags=True)
    project, first = made["project"], made["build"]["id"]
    assert events.statuses_of(first, until=Status.PASSED)[-1] == Status.PASSED
    for name, body in (("DEPLOY_KEY", {"value": "deploy-secret-value"}),
                       ("PR_TOKEN", {"value": "pr-secret-value", "events": ["pull_request"]})):
        assert api(live_server, "PUT", f"/api/project/projects/{project['id']}/secrets/{name}", token,
                   json=body).status_code == 201

    def deliver(payload, event="push"):
        body, headers = delivery(project["webhookSecret"], payload, event)
        answer = api(live_server, "POST", f"/api/webhooks/github/{project['id']}", data=body, headers=headers)
        assert answer.status_code == 202, answer.text
        return answer.json()["build"]

    def finished(build):
        return events.statuses_of(build["id"], until=Status.PASSED)[-1]

    def log(build):
        return api(live_server, "GET", f"/api/build/{build['id']}/logs", token).text

    local_repo.branch("feature/x")
    code = local_repo.commit({"src/a.py": "1\n"}, message="Code")
    feature = deliver(push_payload(code, branch="feature/x") | {"before": local_repo.repo.commit("main").hexsha})
    assert finished(feature) == Status.PASSED and "DEPLOY_KEY=***" in log(feature)
    docs = local_repo.commit({"docs/a.md": "words\n"}, message="Docs")
    skipped = deliver(push_payload(docs, branch="feature/x") | {"before": feature["commitHash"]})
    assert events.statuses_of(skipped["id"], until=Status.SKIPPED)[-1] == Status.SKIPPED
    assert log(skipped).strip().splitlines()[-1].startswith("==> Skipped: when on line 1")

    tag = deliver({**push_payload(feature["commitHash"]), "ref": "refs/tags/v2.0.0"})
    assert (tag["event"], finished(tag)) == ("tag", Status.PASSED) and "STOKER_TAG=v2.0.0" in log(tag)

    local_repo.repo.git.checkout("main")
    same, _ = pull_request(local_repo, number=51)
    ours = deliver(same, "pull_request")
    assert finished(ours) == Status.PASSED
    assert "PR_TOKEN=***" in log(ours) and "DEPLOY_KEY=" not in log(ours)

    forked, _ = pull_request(local_repo, number=52, fork=True)
    theirs = deliver(forked, "pull_request")
    assert theirs["status"] == Status.BLOCKED
    assert api(live_server, "POST", f"/api/build/{theirs['id']}/approve", token).status_code == 200
    assert finished(theirs) == Status.PASSED
    assert "STOKER_PULL_REQUEST=52" in log(theirs)
    assert "PR_TOKEN=" not in log(theirs) and "DEPLOY_KEY=" not in log(theirs)

    manual = api(live_server, "POST", f"/api/project/projects/{project['id']}/builds", token,
                 json={"variables": {"NIGHTLY": "by hand"}}).json()["build"]
    assert finished(manual) == Status.PASSED and "NIGHTLY=by hand" in log(manual)
    with live_database():
        assert Build.select().where(Build.project == project["id"]).count() == 7
