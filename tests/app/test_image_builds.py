"""A step builds a container image from the repository's Dockerfile with Stoker's image builder
(buildah, rootless, no engine socket, no privilege), pushes it to a registry out there with the
project's registry credentials, and a later build runs it; no other step gets what it gets, and a
fork's pull request builds nothing."""
from pathlib import Path

import pytest

from app.records.models import Status
from pipeline.backend.docker import DockerBackend, firewall
from pipeline.imagebuilder import auth_token
from tests.support import create_project, log_of, run_now, send
from tests.support.github import pull_request
from tests.support.gitservers import LocalRegistry
from tests.support.remote_host import REMOTE_ADDRESS, remote_host

SUBNETS = ("198.18.0.0/15",)
PASSWORD = "pushing-Passw0rd-77"
REPO = f"{REMOTE_ADDRESS}:{LocalRegistry.PORT}/team/app"

# Made from nothing but the repository's files: RUN runs in the image being built.
DOCKERFILE = """\
FROM scratch
COPY --chmod=755 busybox /bin/busybox
ARG GREETING
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && echo \\"built by RUN, $GREETING\\" > /greeting"]
CMD ["cat", "/greeting"]
"""

BUILD = f"""\
steps:
  - name: image
    image: stoker-image-builder
    settings:
      repo: {REPO}
      tags: [latest, "1.0"]
      build_args: GREETING=hello
      insecure: true
"""

# A build of the image that keeps it nowhere: no registry, no way out needed.
DRY_RUN = f"""\
  - name: image
    image: stoker-image-builder
    settings:
      repo: {REPO}
      dry_run: true
"""

RUN = f"""\
steps:
  - name: use
    image: {REPO}:1.0
    commands: [cat /greeting]
"""


def repository_files(plan):
    return {"Dockerfile": DOCKERFILE, "busybox": Path("/bin/busybox").read_bytes(), ".stoker.yml": plan}


@pytest.fixture
def config(config):
    # The registry out there is one this server pulls from, as the tests' own on loopback is.
    return {**config, "STOKER_BUILD_EGRESS": True, "STOKER_SERVICE_SUBNETS": SUBNETS,
            "STOKER_PULL_REGISTRIES": (*config["STOKER_PULL_REGISTRIES"], REMOTE_ADDRESS)}


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    with remote_host(tmp_path_factory.mktemp("remote")) as host:
        yield host


@pytest.fixture
def registry(remote, tmp_path, docker_client):
    """A registry out there (at the remote host), over HTTPS, wanting a password for every push and pull."""
    server = LocalRegistry(tmp_path / "registry", "ci", PASSWORD, address=REMOTE_ADDRESS, netns=remote.name)
    DockerBackend(service_subnets=SUBNETS).guard([])
    try:
        yield server
    finally:
        firewall.remove()
        server.stop()
        for image in docker_client.images.list(name=REPO):
            docker_client.images.remove(image.id, force=True)


@pytest.fixture
def project(client, accounts, local_repo, drain):
    """A project whose first build is behind it, with credentials for the registry out there."""
    made = create_project(client, accounts.token(), local_repo, "true", name="images",
                          forkPullRequests="build")["project"]
    drain()
    answer = client.put(f"/api/project/projects/{made['id']}/registries/{REMOTE_ADDRESS}:{LocalRegistry.PORT}",
                        json={"username": "ci", "password": PASSWORD, "imageBuilds": True}, headers=accounts.headers())
    assert answer.status_code == 201 and answer.get_json()["registry"]["imageBuilds"] is True, answer.get_json()
    return made


def test_an_image_is_built_pushed_with_the_projects_credentials_and_run_by_a_later_build(
        client, accounts, local_repo, drain, registry, project, image_builder):
    headers = accounts.headers()
    local_repo.commit(repository_files(BUILD), message="Build the image")
    built = run_now(client, headers, project["id"], drain)
    log = log_of(client, headers, built["id"])
    assert built["status"] == Status.PASSED, log
    assert f"pushing {REPO}:1.0" in log and "built by RUN, hello" not in log
    assert sorted(registry.tags("team/app")) == ["1.0", "latest"]
    assert PASSWORD not in log and auth_token("ci", PASSWORD) not in log

    local_repo.commit({".stoker.yml": RUN}, message="Run the image")
    ran = run_now(client, headers, project["id"], drain)
    log = log_of(client, headers, ran["id"])
    assert ran["status"] == Status.PASSED, log
    assert "built by RUN, hello" in log


def test_a_registry_not_kept_for_image_builds_gives_the_builder_nothing(
        client, accounts, local_repo, drain, registry, project, image_builder):
    """Its credentials pull images for the build's steps, but its Dockerfile could read what the
    builder is given: unless the admin says so, the push goes without them and is refused."""
    headers = accounts.headers()
    client.put(f"/api/project/projects/{project['id']}/registries/{REMOTE_ADDRESS}:{LocalRegistry.PORT}",
               json={"username": "ci", "password": PASSWORD}, headers=headers)
    local_repo.commit(repository_files(BUILD), message="Build the image")
    built = run_now(client, headers, project["id"], drain)
    log = log_of(client, headers, built["id"])
    assert built["status"] == Status.FAILED, log
    assert "authentication required" in log.lower() or "unauthorized" in log.lower(), log
    assert registry.tags("team/app") == []


def test_a_forks_pull_request_builds_no_image(client, local_repo, drain, registry, project, image_builder,
                                              accounts):
    local_repo.commit(repository_files(BUILD), message="Build the image")
    payload, _ = pull_request(local_repo, fork=True)
    assert send(client, project, payload, "pull_request").status_code in (201, 202)
    drain()
    builds = client.get(f"/api/project/projects/{project['id']}/builds", headers=accounts.headers()).get_json()
    fork_build = next(build for build in builds["builds"] if build["event"] == "pull_request")
    log = log_of(client, accounts.headers(), fork_build["id"])
    assert fork_build["status"] == Status.FAILED
    assert "a fork's pull request builds no images" in fork_build["error"] + log, log
    assert registry.tags("team/app") == []


def test_only_the_image_builder_may_make_a_user_namespace(build_with, local_repo, image_builder):
    """No registry and no way out: the image is built and kept nowhere (dry_run), while a plain step
    of the same build is refused the namespace the builder's RUN runs in."""
    files = repository_files("")
    del files[".stoker.yml"]
    local_repo.commit(files, message="A Dockerfile")
    build, log = build_with(f"""\
steps:
  - name: plain
    commands:
      - if unshare -U -r true 2>/dev/null; then echo namespace made; else echo namespace refused; fi
{DRY_RUN}""")
    assert build["status"] == Status.PASSED, log
    assert "\nnamespace refused\n" in log and "\nnamespace made\n" not in log
    assert "built; not pushed (dry_run)" in log


def test_a_server_may_build_no_images(build_with, app):
    app.config["STOKER_IMAGE_BUILDER"] = None
    build, log = build_with(f"steps:\n  - name: image\n    image: stoker-image-builder\n    settings: {{repo: {REPO}}}\n")
    assert build["status"] == Status.FAILED
    assert "this server builds no images" in build["error"] + log


def test_nothing_but_its_settings_steers_the_builder(build_with, local_repo, image_builder):
    """The file's env reaches every other step; were it to reach the builder, a PATH or LD_PRELOAD of
    the repository's would run its code in the container that may make namespaces."""
    files = repository_files("")
    del files[".stoker.yml"]
    local_repo.commit({**files, "bin/mktemp": "#!/bin/sh\necho the repository ran first\nexit 1\n"},
                      message="A Dockerfile, and a program in the way")
    local_repo.git("update-index", "--chmod=+x", "bin/mktemp")
    local_repo.git("commit", "-q", "-m", "Make it a program")
    build, log = build_with(f"""\
env:
  PATH: /workspace/bin:/usr/bin:/bin
  LD_PRELOAD: /workspace/nothing.so
steps:
{DRY_RUN}""")
    assert build["status"] == Status.PASSED, log
    assert "the repository ran first" not in log and "built; not pushed (dry_run)" in log


@pytest.mark.parametrize("setting", ["context: --secret=id=a,src=/etc/shadow", "repo: --help",
                                     "tags: [latest, --quiet]", 'dockerfile: "-"'])
def test_no_setting_is_taken_for_an_option(build_with, image_builder, setting):
    build, log = build_with(f"steps:\n  - name: image\n    image: stoker-image-builder\n    settings:\n"
                            f"      repo: {REPO}\n      {setting}\n      dry_run: true\n".replace(
                                f"      repo: {REPO}\n      repo:", "      repo:"))
    assert build["status"] == Status.FAILED, log
    assert "may not start with '-'" in log, log


def test_a_project_cannot_make_the_builder_its_image(client, accounts, local_repo):
    answer = client.post("/api/project/projects", headers=accounts.headers(),
                         json={"name": "b", "repoUrl": local_repo.url, "image": "stoker-image-builder:latest"})
    assert answer.status_code == 400 and "image cannot be stoker-image-builder" in answer.get_json()["message"]
