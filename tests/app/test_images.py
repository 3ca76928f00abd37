"""Images a step names are pulled (from a real registry on loopback, with the project's
credentials for it), with progress in the log and the password nowhere."""
import pytest

from app.records.models import Status
from tests.support import LocalRepo, create_project, pull_request, run_now, send
from tests.support.gitservers import LocalRegistry

PASSWORD = "r3gistry-Passw0rd-91"


@pytest.fixture
def registry(tmp_path, docker_client):
    """A private registry holding tools/busybox:1 (a copy of the test image), which the engine no
    longer has by that name."""
    server = LocalRegistry(tmp_path / "registry", "ci", PASSWORD)
    image = f"{server.host}/tools/busybox:1"
    docker_client.images.get("stoker-busybox:latest").tag(image)
    try:
        for event in docker_client.api.push(f"{server.host}/tools/busybox", tag="1", stream=True, decode=True,
                                            auth_config={"username": "ci", "password": PASSWORD}):
            assert "error" not in event, event
        docker_client.images.remove(image)
        yield server, image
    finally:
        for name in (image,):
            try:
                docker_client.images.remove(name, force=True)
            except Exception:
                pass
        server.stop()


PLAN = """\
steps:
  - name: tools
    image: {image}
    commands: ["echo pulled and ran", "cat /etc/os-release 2>/dev/null | head -1 || true"]
"""


def put_registry(client, headers, host, username, password, project_id=1):
    return client.put(f"/api/project/projects/{project_id}/registries/{host}",
                      json={"username": username, "password": password}, headers=headers)


def test_a_step_pulls_its_image_from_a_private_registry_with_the_projects_credentials(
        client, accounts, local_repo, drain, registry, docker_client):
    server, image = registry
    headers = accounts.headers()
    local_repo.commit({".stoker.yml": PLAN.format(image=image)}, message="Use a private image")

    # Without credentials the registry refuses, and the build says so.
    created = client.post("/api/project/projects", headers=headers, json={
        "name": "private-image", "repoUrl": local_repo.url})
    assert created.status_code == 201
    drain()
    first = client.get(f"/api/build/{created.get_json()['build']['id']}", headers=headers).get_json()["build"]
    assert (first["status"], first["exitCode"]) == (Status.FAILED, None)
    assert first["error"].startswith(f"pulling {image} from {server.host} failed: ")
    assert "no basic auth credentials" in first["error"], first["error"]

    # Wrong credentials: refused again, and the wrong password is nowhere.
    assert put_registry(client, headers, server.host, "ci", "not-the-password").status_code == 201
    rebuilt = client.post(f"/api/build/rebuild/{first['id']}", headers=headers).get_json()["build"]["id"]
    drain()
    wrong = client.get(f"/api/build/{rebuilt}", headers=headers).get_json()["build"]
    log = client.get(f"/api/build/{rebuilt}/logs", headers=headers).get_data(as_text=True)
    assert wrong["status"] == Status.FAILED and wrong["error"].startswith(f"pulling {image}")
    assert "not-the-password" not in log + wrong["error"]
    assert "unauthorized" in wrong["error"], wrong["error"]

    # The right ones: pulled, with its progress in the log, and run.
    assert put_registry(client, headers, server.host, "ci", PASSWORD).status_code == 200
    listed = client.get("/api/project/projects/1/registries", headers=headers).get_json()["registries"]
    assert [(r["host"], r["username"]) for r in listed] == [(server.host, "ci")] and PASSWORD not in str(listed)
    rebuilt = client.post(f"/api/build/rebuild/{first['id']}", headers=headers).get_json()["build"]["id"]
    drain()
    build = client.get(f"/api/build/{rebuilt}", headers=headers).get_json()["build"]
    log = client.get(f"/api/build/{rebuilt}/logs", headers=headers).get_data(as_text=True)
    assert build["status"] == Status.PASSED, (build, log)
    assert f"==> Pulling {image} from {server.host} as ci" in log
    assert "Pull complete" in log or "Downloaded newer image" in log or "Digest:" in log, log
    assert "pulled and ran" in log and PASSWORD not in log
    assert docker_client.images.get(image)


@pytest.mark.parametrize("host, status", [("registry.example.com:5000", 201), ("bad host", 400),
                                          ("a/b", 404), ("-x.example.com", 400)])
def test_registry_hosts_are_checked(client, accounts, local_repo, host, status):
    from tests.support import create_project

    create_project(client, accounts.token(), local_repo)
    answer = put_registry(client, accounts.headers(), host, "u", "p")
    assert answer.status_code == status
    assert client.put("/api/project/projects/1/registries/example.com", json={"username": "u"},
                      headers=accounts.headers()).status_code == 400


def test_an_image_from_a_registry_the_server_does_not_pull_from_is_never_fetched(build_with):
    build, log = build_with("steps:\n  - {name: a, image: 'registry.example.com/tools/x:1', commands: 'true'}\n")
    assert build["status"] == Status.FAILED and build["exitCode"] is None
    assert build["error"] == ("image 'registry.example.com/tools/x:1' is not on the Docker engine, and this "
                              "server pulls only from 127.0.0.1")
    assert "Pulling" not in log


def test_pull_always_pulls_again_and_never_never_does(client, accounts, local_repo, drain, registry,
                                                      docker_client):
    server, image = registry
    headers = accounts.headers()
    local_repo.commit({".stoker.yml": f"steps:\n  - {{name: offline, image: '{image}', pull: never, "
                                      f"commands: 'true'}}\n"}, message="Never pull")
    made = client.post("/api/project/projects", headers=headers, json={"name": "p", "repoUrl": local_repo.url})
    drain()
    never = client.get(f"/api/build/{made.get_json()['build']['id']}", headers=headers).get_json()["build"]
    assert never["status"] == Status.FAILED and "is not on the Docker engine" in never["error"]
    assert put_registry(client, headers, server.host, "ci", PASSWORD).status_code == 201

    local_repo.commit({".stoker.yml": f"steps:\n  - {{name: fresh, image: '{image}', pull: always, "
                                      f"commands: 'true'}}\n"}, message="Always pull")
    for _ in range(2):  # the second time the engine has it, and it is pulled all the same
        run = client.post("/api/project/projects/1/builds", json={}, headers=headers).get_json()["build"]["id"]
        drain()
        log = client.get(f"/api/build/{run}/logs", headers=headers).get_data(as_text=True)
        assert f"==> Pulling {image} from {server.host} as ci" in log
        assert client.get(f"/api/build/{run}", headers=headers).get_json()["build"]["status"] == Status.PASSED


def test_an_image_pulled_with_one_projects_credentials_runs_in_no_build_without_them(
        client, accounts, local_repo, drain, registry, tmp_path):
    server, image = registry
    alice, bob = accounts.headers("alice"), accounts.headers("bob")
    local_repo.commit({".stoker.yml": PLAN.format(image=image)}, message="Use a private image")
    mine = create_project(client, accounts.token("alice"), local_repo, name="with-credentials",
                          forkPullRequests="build")["project"]
    drain()  # its first build, before it had credentials, failed
    assert put_registry(client, alice, server.host, "ci", PASSWORD, mine["id"]).status_code == 201
    assert run_now(client, alice, mine["id"], drain)["status"] == Status.PASSED  # now on the engine

    def refused(headers, build_id):
        build = client.get(f"/api/build/{build_id}", headers=headers).get_json()["build"]
        log = client.get(f"/api/build/{build_id}/logs", headers=headers).get_data(as_text=True)
        assert build["status"] == Status.FAILED and "pulled and ran" not in log and "building" not in log, (build, log)
        assert build["error"].startswith(f"pulling {image} from {server.host} failed: "), build["error"]

    # Another user's project names it, as a step's image, with pull: never, and as its own image.
    theirs = create_project(client, accounts.token("bob"), local_repo, name="without")["project"]
    drain()
    refused(bob, client.get(f"/api/project/projects/{theirs['id']}/builds", headers=bob).get_json()["builds"][0]["id"])
    local_repo.commit({".stoker.yml": PLAN.format(image=image).replace("    image:", "    pull: never\n    image:")},
                      message="Never pull it")
    refused(bob, run_now(client, bob, theirs["id"], drain)["id"])
    plain = LocalRepo(tmp_path / "plain")
    plain.commit({"ci.sh": "echo building\n"}, message="No pipeline file")
    own_image = create_project(client, accounts.token("bob"), plain, name="as-image", image=image)["build"]["id"]
    drain()
    refused(bob, own_image)

    # A fork's pull request to the project that has the credentials gets none of them.
    payload, _ = pull_request(local_repo, number=7, fork=True)
    fork = send(client, mine, payload, event="pull_request").get_json()["build"]["id"]
    drain()
    refused(alice, fork)

    # The project with credentials still runs it: the registry checked them again.
    again = run_now(client, alice, mine["id"], drain)
    assert again["status"] == Status.PASSED, again
