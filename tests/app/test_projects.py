"""Creating and listing projects: the branch head is resolved and a first build is queued."""
import pytest

from app.models import Build, Project, Status
from tests.helpers import ISO_MILLIS_Z


def create(client, headers, **fields):
    return client.post("/api/project/projects", json=fields, headers=headers)


def test_creating_a_project_queues_a_first_build_of_the_branch_head(client, accounts, local_repo, drain):
    headers = accounts.headers()
    head = local_repo.repo.head.commit.hexsha
    response = create(client, headers, name="demo", repoUrl=local_repo.url, buildCommand="sh ci.sh")
    assert response.status_code == 201
    body = response.get_json()
    assert body["message"] == "Project created"
    project = body["project"]
    assert project["name"] == "demo"
    assert project["repoUrl"] == local_repo.url
    assert project["branch"] == "main"
    assert project["webhookUrl"] == f"http://stoker.test/api/webhooks/github/{project['id']}"
    assert len(project["webhookSecret"]) >= 32
    build = body["build"]
    assert build["status"] == Status.QUEUED
    assert build["commitHash"] == head
    assert build["projectId"] == project["id"]
    assert build["exitCode"] is None and build["finishedAt"] is None
    assert ISO_MILLIS_Z.fullmatch(build["startedAt"])

    assert drain() == 1
    finished = client.get(f"/api/build/{build['id']}", headers=headers).get_json()["build"]
    assert finished["status"] == Status.PASSED
    assert finished["exitCode"] == 0
    # The head's message and author come from the checkout, since ls-remote knows only the hash.
    assert finished["commit"] == "Initial commit"
    assert finished["commitAuthor"] == "Ada Lovelace"


def test_listing_shows_only_my_projects_with_builds_newest_first(client, accounts, local_repo):
    alice, bob = accounts.headers("alice"), accounts.headers("bob")
    mine = create(client, alice, name="mine", repoUrl=local_repo.url).get_json()
    create(client, bob, name="theirs", repoUrl=local_repo.url)
    first = mine["build"]["id"]
    again = client.post(f"/api/build/rebuild/{first}", headers=alice).get_json()["build"]["id"]

    response = client.get("/api/project/projects", headers=alice)
    assert response.status_code == 200
    body = response.get_json()
    assert body["message"] == "Projects fetched"
    assert [p["name"] for p in body["projects"]] == ["mine"]
    assert [b["id"] for b in body["projects"][0]["builds"]] == [again, first]
    assert "webhookSecret" not in body["projects"][0]


def test_branch_defaults_to_main_and_other_branches_can_be_chosen(client, accounts, local_repo):
    headers = accounts.headers()
    local_repo.branch("release/1.x")
    tip = local_repo.commit({"VERSION": "1.1\n"}, message="Release 1.1")
    response = create(client, headers, name="rel", repoUrl=local_repo.url, branch="release/1.x")
    assert response.status_code == 201
    assert response.get_json()["build"]["commitHash"] == tip
    assert response.get_json()["build"]["branch"] == "release/1.x"


def test_a_missing_branch_is_422_and_nothing_is_created(client, accounts, local_repo):
    response = create(client, accounts.headers(), name="demo", repoUrl=local_repo.url, branch="nope")
    assert response.status_code == 422
    assert "nope" in response.get_json()["message"]
    assert Project.select().count() == 0 and Build.select().count() == 0


def test_an_unreachable_repository_is_422_and_nothing_is_created(client, accounts, tmp_path):
    response = create(client, accounts.headers(), name="demo", repoUrl=str(tmp_path / "no-such-repo"))
    assert response.status_code == 422
    assert "message" in response.get_json()
    assert Project.select().count() == 0 and Build.select().count() == 0


@pytest.mark.parametrize("repo_url", [
    "ext::sh -c touch% {marker}",
    "-u{marker}",
    "--upload-pack=touch {marker}",
    "ftp://example.com/repo.git",
    "http://example.com/repo.git",
    "https://169.254.169.254/latest/meta-data",
    "https://127.0.0.1/repo.git",
    "https://10.1.2.3/repo.git",
    "https://localhost/repo.git",
    "relative/path",
    "",
    None,
    ["https://github.com/octo/demo"],
])
def test_hostile_repo_urls_are_400_before_git_runs(client, accounts, tmp_path, repo_url):
    marker = tmp_path / "git-ran"
    if isinstance(repo_url, str):
        repo_url = repo_url.format(marker=marker)
    response = create(client, accounts.headers(), name="x", repoUrl=repo_url)
    assert response.status_code == 400
    assert "repoUrl" in response.get_json()["message"]
    assert not marker.exists()
    assert Project.select().count() == 0


def test_local_repositories_are_refused_unless_allowed(config, local_repo):
    from app import create_app
    from tests.conftest import Accounts

    app = create_app({**config, "STOKER_ALLOW_LOCAL_REPOS": False})
    client = app.test_client()
    headers = Accounts(client).headers()
    for url in (local_repo.url, f"file://{local_repo.url}"):
        response = create(client, headers, name="x", repoUrl=url)
        assert response.status_code == 400, url
        assert "https://" in response.get_json()["message"]


@pytest.mark.parametrize("branch", ["--foo", "a..b", "has space", "ends.lock", "@", "x:y", ".hidden", ""])
def test_invalid_branch_names_are_400(client, accounts, local_repo, branch):
    response = create(client, accounts.headers(), name="x", repoUrl=local_repo.url, branch=branch)
    assert response.status_code == 400
    assert "branch" in response.get_json()["message"]


@pytest.mark.parametrize("fields, named", [
    ({"name": ""}, "name"),
    ({"name": 7}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"buildCommand": ""}, "buildCommand"),
    ({"buildCommand": "echo \x00"}, "buildCommand"),
    ({"image": "-rm /"}, "image"),
    ({"image": "x" * 300}, "image"),
])
def test_invalid_fields_are_400_naming_the_field(client, accounts, local_repo, fields, named):
    body = {"name": "demo", "repoUrl": local_repo.url, **fields}
    response = client.post("/api/project/projects", json=body, headers=accounts.headers())
    assert response.status_code == 400
    assert named in response.get_json()["message"]
    assert Project.select().count() == 0
