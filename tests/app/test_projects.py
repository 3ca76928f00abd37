"""Creating and listing projects: the branch head is resolved and a first build is queued."""
import pytest

from app.api.projects import SETTINGS
from app.records.models import Build, Project, Status
from tests.support import ISO_MILLIS_Z


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


@pytest.mark.both_databases
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
    from tests.support import Accounts

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


def test_a_project_needs_its_repo_url_even_with_a_token(client, accounts):
    response = client.post("/api/project/projects", json={"name": "demo", "repoToken": "a-token"},
                           headers=accounts.headers())
    assert response.status_code == 400 and "repoUrl" in response.get_json()["message"]


@pytest.mark.both_databases
def test_listing_names_each_projects_latest_build(client, accounts, local_repo):
    headers = accounts.headers()
    first = create(client, headers, name="demo", repoUrl=local_repo.url).get_json()
    again = client.post(f"/api/build/rebuild/{first['build']['id']}", headers=headers).get_json()["build"]
    create(client, headers, name="other", repoUrl=local_repo.url)

    projects = client.get("/api/project/projects", headers=headers).get_json()["projects"]
    assert projects[0]["latestBuild"]["id"] == again["id"]
    assert projects[0]["latestBuild"] == projects[0]["builds"][0]
    assert projects[1]["latestBuild"]["id"] != again["id"]


def test_one_project_is_read_by_its_owner_only(client, accounts, local_repo):
    alice, bob = accounts.headers("alice"), accounts.headers("bob")
    made = create(client, alice, name="demo", repoUrl=local_repo.url).get_json()["project"]

    read = client.get(f"/api/project/projects/{made['id']}", headers=alice)
    assert read.status_code == 200
    project = read.get_json()["project"]
    assert project["name"] == "demo" and project["public"] is False
    assert project["badgeUrl"] == f"http://stoker.test/badge/{made['id']}.svg"
    assert "webhookSecret" not in project
    assert client.get(f"/api/project/projects/{made['id']}", headers=bob).status_code == 403
    assert client.get("/api/project/projects/999", headers=alice).status_code == 404
    assert client.get("/api/project/projects/x1", headers=alice).status_code == 400
    assert client.get(f"/api/project/projects/{made['id']}").status_code == 401


@pytest.mark.both_databases
def test_a_projects_builds_come_a_page_at_a_time_newest_first(client, accounts, local_repo):
    headers = accounts.headers()
    made = create(client, headers, name="demo", repoUrl=local_repo.url).get_json()
    ids = [made["build"]["id"]]
    for _ in range(4):
        ids.append(client.post(f"/api/build/rebuild/{ids[0]}", headers=headers).get_json()["build"]["id"])
    url = f"/api/project/projects/{made['project']['id']}/builds"

    page = client.get(url, headers=headers).get_json()
    assert [b["id"] for b in page["builds"]] == ids[::-1]
    assert (page["total"], page["limit"], page["offset"]) == (5, 20, 0)
    page = client.get(url + "?limit=2&offset=1", headers=headers).get_json()
    assert [b["id"] for b in page["builds"]] == [ids[3], ids[2]]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert client.get(url + "?offset=5", headers=headers).get_json()["builds"] == []


@pytest.mark.parametrize("query, field", [
    ("limit=101", "limit"), ("limit=-1", "limit"), ("limit=abc", "limit"), ("limit=", "limit"),
    ("offset=-3", "offset"), ("offset=1.5", "offset"), ("offset=99999999999999999999", "offset"),
])
def test_bad_page_arguments_are_refused_by_name(client, accounts, local_repo, query, field):
    headers = accounts.headers()
    project = create(client, headers, name="demo", repoUrl=local_repo.url).get_json()["project"]
    response = client.get(f"/api/project/projects/{project['id']}/builds?{query}", headers=headers)
    assert response.status_code == 400
    assert response.get_json()["message"].startswith(f"{field} must be a whole number")


def test_only_the_owner_lists_a_projects_builds(client, accounts, local_repo):
    alice, bob = accounts.headers("alice"), accounts.headers("bob")
    project = create(client, alice, name="demo", repoUrl=local_repo.url).get_json()["project"]
    assert client.get(f"/api/project/projects/{project['id']}/builds", headers=bob).status_code == 403


def test_a_project_is_made_public_and_private_again_by_its_owner(client, accounts, local_repo):
    alice, bob = accounts.headers("alice"), accounts.headers("bob")
    project = create(client, alice, name="demo", repoUrl=local_repo.url, public=True).get_json()["project"]
    assert project["public"] is True
    url = f"/api/project/projects/{project['id']}"

    response = client.patch(url, json={"public": False}, headers=alice)
    assert response.status_code == 200 and response.get_json()["project"]["public"] is False
    assert Project.get_by_id(project["id"]).public is False
    assert client.patch(url, json={"public": True}, headers=bob).status_code == 403
    assert Project.get_by_id(project["id"]).public is False

    for body, message in [({"public": "yes"}, "public must be true or false"),
                          ({"name": "renamed", "public": "yes"}, "public must be true or false"),
                          ({"webhookSecret": "x"}, f"webhookSecret cannot be changed; the settings are {', '.join(SETTINGS)}"),
                          ([True], "Request body must be a JSON object")]:
        response = client.patch(url, json=body, headers=alice)
        assert (response.status_code, response.get_json()["message"]) == (400, message)
    assert Project.get_by_id(project["id"]).name == "demo"
    assert create(client, alice, name="x", repoUrl=local_repo.url, public=1).status_code == 400
