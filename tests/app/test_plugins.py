"""Any image and plugins, end to end on the engine: commands run whatever the image's ENTRYPOINT, a step
without commands runs the image's own, a plugin hears its settings as PLUGIN_* and its secret masked,
and every container is told the build as CI_* variables, none of them a credential."""
import subprocess

import pytest

from app.records.models import Status
from tests.support import create_project, image_with_entrypoint, log_of, pull_request, push_payload, send
from tests.support.gitservers import HttpsGitServer

PLUGIN_IMAGE = "stoker-test-plugin:latest"
TOKEN = "d3pl0y-T0ken-8c1f2e7a"
REPO_TOKEN = "glpat-Pr1vateRepoT0ken-4f9a8c71"
# A plugin as Woodpecker's are: a program that reads its settings from PLUGIN_* variables.
PLUGIN = """#!/bin/sh
env | grep '^PLUGIN_' | sort
echo "plain secret: ${DEPLOY_TOKEN:-none}"
"""


@pytest.fixture(scope="module")
def plugin_image(docker_client, tmp_path_factory):
    return image_with_entrypoint(docker_client, tmp_path_factory.mktemp("images") / "plugin", PLUGIN_IMAGE, PLUGIN)


def test_commands_run_in_a_shell_whatever_the_images_entrypoint_and_without_them_the_images_own(
        build_with, entrypoint_image):
    build, log = build_with(f"""\
image: {entrypoint_image}
steps:
  - name: script
    commands: echo "ran in a shell"
  - name: own
    image: {entrypoint_image}
  - name: overridden
    entrypoint: [/bin/echo, told what to run]
  - name: other shell
    entrypoint: "/bin/sh -ec"
    commands: ['echo "in sh -e: $0"']
""")
    assert build["status"] == Status.PASSED, (build, log)
    assert [(step["name"], step["status"]) for step in build["steps"]] == [
        ("script", Status.PASSED), ("own", Status.PASSED), ("overridden", Status.PASSED),
        ("other shell", Status.PASSED)]
    assert "==> Step 1/4: script\n$ echo \"ran in a shell\"\nran in a shell\n" in log
    assert "==> Step 2/4: own\nown entrypoint given: from-cmd\n" in log
    # An entrypoint of the step's own replaces the image's command with the image's entrypoint.
    assert "==> Step 3/4: overridden\ntold what to run\n==> Step overridden passed" in log
    assert "in sh -e: /bin/sh\n" in log
    assert log.count("own entrypoint given") == 1


def test_services_run_their_commands_in_a_shell_whatever_the_images_entrypoint(build_with, entrypoint_image):
    build, log = build_with(f"""\
services:
  - name: web
    image: {entrypoint_image}
    commands: ["echo served > /tmp/index.html", "httpd -f -p 8080 -h /tmp"]
steps:
  - name: ask
    commands:
      - for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://web:8080/ && break; sleep 0.3; done
""")
    assert build["status"] == Status.PASSED, (build, log)
    assert "\nserved\n" in log and "own entrypoint given" not in log


PLUGIN_PLAN = f"""\
steps:
  - name: publish
    image: {PLUGIN_IMAGE}
    settings:
      repo: team/app
      tags: [latest, "1.2"]
      dry-run: true
      retries: 3
      labels: {{team: ci, tier: 2}}
      token:
        from_secret: DEPLOY_TOKEN
"""


def put_secret(client, headers, project_id, name, value, events):
    response = client.put(f"/api/project/projects/{project_id}/secrets/{name}",
                          json={"value": value, "events": events}, headers=headers)
    assert response.status_code == 201, response.get_json()


def test_a_plugin_hears_its_settings_and_its_secret_masked_and_a_fork_hears_no_secret(
        client, accounts, local_repo, drain, plugin_image):
    headers = accounts.headers()
    local_repo.commit({".stoker.yml": PLUGIN_PLAN}, message="Publish with a plugin")
    made = create_project(client, accounts.token(), local_repo, name="plugged", forkPullRequests="build")
    project, first = made["project"], made["build"]["id"]
    drain()

    # 1. No secret by that name yet: the step fails, saying which setting wants which secret.
    failed = client.get(f"/api/build/{first}", headers=headers).get_json()["build"]
    assert failed["status"] == Status.FAILED
    assert failed["error"].startswith("setting 'token' (line 10) takes its value from the secret 'DEPLOY_TOKEN', "
                                      "which this build is not given"), failed["error"]
    assert [(step["name"], step["status"]) for step in failed["steps"]] == [("publish", Status.FAILED)]

    # 2. With the secret, the plugin hears every setting as the convention says, the secret masked.
    put_secret(client, headers, project["id"], "DEPLOY_TOKEN", TOKEN, events=["push", "pull_request"])
    rebuilt = client.post(f"/api/build/rebuild/{first}", headers=headers).get_json()["build"]["id"]
    drain()
    assert client.get(f"/api/build/{rebuilt}", headers=headers).get_json()["build"]["status"] == Status.PASSED
    log = log_of(client, headers, rebuilt)
    assert ("PLUGIN_DRY_RUN=true\nPLUGIN_LABELS={\"team\":\"ci\",\"tier\":2}\nPLUGIN_REPO=team/app\n"
            "PLUGIN_RETRIES=3\nPLUGIN_TAGS=latest,1.2\nPLUGIN_TOKEN=***\n") in log, log
    # Its image, someone else's code, gets the secret its setting names, and not as a plain variable.
    assert "plain secret: none\n" in log and TOKEN not in log

    # 3. A pull request from the repository itself is given the secret, which is for its event; a fork's
    # is given none: the setting cannot have it.
    for number, fork in ((7, False), (8, True)):
        payload, _ = pull_request(local_repo, number=number, fork=fork)
        proposed = send(client, project, payload, event="pull_request").get_json()["build"]["id"]
        drain()
        built = client.get(f"/api/build/{proposed}", headers=headers).get_json()["build"]
        if fork:
            assert built["status"] == Status.FAILED and "the secret 'DEPLOY_TOKEN'" in built["error"], built
        else:
            assert built["status"] == Status.PASSED, built
        assert TOKEN not in log_of(client, headers, proposed)


CI_PLAN = """\
services:
  - name: web
    commands: ['echo "service: $CI_REPO $CI_COMMIT_SHA" > /tmp/index.html', "httpd -f -p 8080 -h /tmp"]
steps:
  - name: told
    commands:
      - env | grep '^CI' | sort
      - for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://web:8080/ && break; sleep 0.3; done
"""


def test_every_container_is_told_the_build_as_woodpeckers_plugins_read_it(app, client, accounts, local_repo, drain):
    headers = accounts.headers()
    local_repo.commit({".stoker.yml": CI_PLAN}, message="Tell")
    project = create_project(client, accounts.token(), local_repo, name="told")["project"]
    drain()
    sha = local_repo.commit({"change.txt": "changed\n"}, message="Fix the flux capacitor")
    built = send(client, project, push_payload(sha, message="Fix the flux capacitor", author="Grace Hopper"))
    build_id = built.get_json()["build"]["id"]
    drain()
    build = client.get(f"/api/build/{build_id}", headers=headers).get_json()["build"]
    log = log_of(client, headers, build_id)
    assert build["status"] == Status.PASSED, (build, log)
    path = local_repo.url.strip("/")
    owner, _, name = path.rpartition("/")
    told = {
        "CI": "true",
        "CI_REPO": path,
        "CI_REPO_OWNER": owner,
        "CI_REPO_NAME": name,
        "CI_REPO_URL": local_repo.url,
        "CI_COMMIT_SHA": sha,
        "CI_COMMIT_REF": "refs/heads/main",
        "CI_COMMIT_BRANCH": "main",
        "CI_COMMIT_MESSAGE": "Fix the flux capacitor",
        "CI_COMMIT_AUTHOR": "Grace Hopper",
        "CI_PIPELINE_NUMBER": str(build_id),
        "CI_PIPELINE_EVENT": "push",
        "CI_PIPELINE_URL": f"{app.config['STOKER_PUBLIC_URL']}/builds/{build_id}",
        "CI_WORKSPACE": "/workspace",
    }
    lines = log.splitlines()
    for variable, value in told.items():
        assert f"{variable}={value}" in lines, (variable, log)
    # What a push has not: a tag, a pull request, its target.
    for absent in ("CI_COMMIT_TAG", "CI_COMMIT_PULL_REQUEST", "CI_COMMIT_TARGET_BRANCH"):
        assert not [line for line in lines if line.startswith(absent + "=")], (absent, log)
    assert f"service: {path} {sha}" in lines


@pytest.fixture
def config(config):
    # The private git server below is on 127.0.0.1, as a company's own is on its network.
    return {**config, "STOKER_ALLOW_PRIVATE_REPO_HOSTS": True}


def test_the_build_command_of_a_private_repository_is_told_its_url_without_the_token(
        client, accounts, local_repo, drain, tmp_path, monkeypatch):
    # No .stoker.yml: the project's own command, in the container made while git fetches.
    said = 'echo "url: $CI_REPO_URL repo: $CI_REPO"\nif env | grep -q Pr1vateRepoT0ken; then echo LEAKED; exit 1; fi\n'
    local_repo.commit({"ci.sh": said}, message="Say the URL")
    root = tmp_path / "served"
    subprocess.run(["git", "clone", "-q", "--bare", str(local_repo.path), str(root / "team" / "app.git")], check=True)
    server = HttpsGitServer(tmp_path, root, REPO_TOKEN)
    monkeypatch.setenv("GIT_SSL_CAINFO", server.ca)
    try:
        url = server.url("team/app.git")
        made = create_project(client, accounts.token(), local_repo, name="private", repoUrl=url,
                              repoToken=REPO_TOKEN)
        drain()
        headers = accounts.headers()
        build = client.get(f"/api/build/{made['build']['id']}", headers=headers).get_json()["build"]
        log = log_of(client, headers, build["id"])
        assert build["status"] == Status.PASSED, (build, log)
        assert f"\nurl: {url} repo: team/app\n" in log and "LEAKED" not in log
        assert "@" not in url and REPO_TOKEN not in url
    finally:
        server.close()
