"""Reading and re-queuing builds, and how a build's end is recorded."""
import pytest

from app.records.models import Build, Status
from tests.support import ISO_MILLIS_Z, create_project

# The seed's fields, and what the events issue added to them.
BUILD_KEYS = {"id", "status", "commit", "branch", "commitAuthor", "commitHash", "exitCode",
              "error", "projectId", "startedAt", "runStartedAt", "finishedAt",
              "event", "ref", "pullRequest", "parentId", "triggeredBy", "schedule", "testReport"}


@pytest.fixture
def project(client, accounts, local_repo):
    """Alice's project on the local repo, and its first build, not yet run."""

    def make(build_command="sh ci.sh", **fields):
        return create_project(client, accounts.token("alice"), local_repo, build_command, **fields)

    return make


def fetch(client, accounts, build_id, user="alice"):
    return client.get(f"/api/build/{build_id}", headers=accounts.headers(user))


def test_a_build_reads_back_in_the_documented_shape(client, accounts, project, drain):
    created = project()
    assert fetch(client, accounts, created["build"]["id"]).get_json()["build"]["runStartedAt"] is None
    drain()
    response = fetch(client, accounts, created["build"]["id"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["message"] == "Build fetched"
    build = body["build"]
    assert set(build) == BUILD_KEYS | {"project", "steps", "queueReason", "artifacts"} and build["queueReason"] is None
    assert build["steps"] == []  # no .stoker.yml: the build command is no step
    assert build["project"] == {key: created["project"][key] for key in ("id", "name", "repoUrl", "branch", "role")}
    assert build["status"] == Status.PASSED
    assert ISO_MILLIS_Z.fullmatch(build["startedAt"]) and ISO_MILLIS_Z.fullmatch(build["finishedAt"])
    assert build["startedAt"] <= build["runStartedAt"] <= build["finishedAt"]


def test_the_exit_code_decides_passed_or_failed(client, accounts, project, drain):
    created = project(build_command="echo about to fail; exit 3")
    drain()
    build = fetch(client, accounts, created["build"]["id"]).get_json()["build"]
    assert build["status"] == Status.FAILED
    assert build["exitCode"] == 3
    assert build["error"] is None
    assert build["finishedAt"] is not None


def test_the_build_runs_the_exact_commit_in_its_own_checkout(client, accounts, project, drain, local_repo):
    created = project(build_command='test "$(cat ci.sh)" = "$(printf "echo building\\ntest -f ci.sh")"')
    local_repo.commit({"ci.sh": "exit 1\n"}, message="Break the build on main")
    drain()
    # The first build ran the commit it was queued for, not the newer tip of main.
    assert fetch(client, accounts, created["build"]["id"]).get_json()["build"]["status"] == Status.PASSED


def test_a_missing_image_fails_with_an_error_and_no_exit_code(client, accounts, project, drain):
    created = project(image="stoker-no-such-image:never")
    drain()
    build = fetch(client, accounts, created["build"]["id"]).get_json()["build"]
    assert build["status"] == Status.FAILED
    assert build["exitCode"] is None
    assert "stoker-no-such-image:never" in build["error"]


def test_a_commit_that_cannot_be_checked_out_fails_with_an_error(client, accounts, project, drain):
    created = project()
    Build.update(commit_hash="1" * 40).where(Build.id == created["build"]["id"]).execute()
    drain()
    build = fetch(client, accounts, created["build"]["id"]).get_json()["build"]
    assert build["status"] == Status.FAILED
    assert build["exitCode"] is None
    assert build["error"].startswith("checkout failed")


def test_rebuild_queues_a_copy_and_leaves_the_original_alone(client, accounts, project, drain):
    created = project()
    drain()
    original = fetch(client, accounts, created["build"]["id"]).get_json()["build"]

    response = client.post(f"/api/build/rebuild/{original['id']}", headers=accounts.headers())
    assert response.status_code == 201
    body = response.get_json()
    assert body["message"] == "Build re-queued"
    copy = body["build"]
    assert set(copy) == BUILD_KEYS
    assert copy["id"] != original["id"]
    assert copy["status"] == Status.QUEUED
    assert copy["exitCode"] is None and copy["finishedAt"] is None
    for key in ("commit", "branch", "commitAuthor", "commitHash", "projectId", "event", "ref", "pullRequest"):
        assert copy[key] == original[key], key
    assert (copy["parentId"], copy["triggeredBy"]) == (original["id"], "alice")
    assert fetch(client, accounts, original["id"]).get_json()["build"] == original

    assert drain() == 1
    assert fetch(client, accounts, copy["id"]).get_json()["build"]["status"] == Status.PASSED


@pytest.mark.parametrize("build_id", ["abc", "0", "-1", "1.5", "0x10", "%20", "１", "00"])
def test_a_build_id_that_is_not_a_positive_integer_is_400(client, accounts, build_id):
    headers = accounts.headers()
    for response in (client.get(f"/api/build/{build_id}", headers=headers),
                     client.post(f"/api/build/rebuild/{build_id}", headers=headers)):
        assert response.status_code == 400, build_id
        assert response.get_json() == {"message": "buildId must be a positive integer"}


@pytest.mark.parametrize("build_id", ["999999", "9223372036854775808", "1" * 400])
def test_a_build_that_does_not_exist_is_404(client, accounts, build_id):
    headers = accounts.headers()
    for response in (client.get(f"/api/build/{build_id}", headers=headers),
                     client.post(f"/api/build/rebuild/{build_id}", headers=headers)):
        assert response.status_code == 404
        assert response.get_json() == {"message": "Build not found"}


def test_another_users_build_is_403_and_is_not_requeued(client, accounts, project):
    created = project()
    build_id = created["build"]["id"]
    assert fetch(client, accounts, build_id, user="mallory").status_code == 403
    response = client.post(f"/api/build/rebuild/{build_id}", headers=accounts.headers("mallory"))
    assert response.status_code == 403
    assert set(response.get_json()) == {"message"}
    assert Build.select().count() == 1


def test_a_missing_token_is_401_even_for_a_bad_id(client):
    for response in (client.get("/api/build/abc"), client.post("/api/build/rebuild/1")):
        assert response.status_code == 401
