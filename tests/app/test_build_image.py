"""Stoker's own build image is made by the worker for the first build that needs it: once, whatever
the number of workers, and where it cannot be made the build says what to do in one line."""
import fcntl
import logging
import os
import uuid

import docker
import pytest

from app.cli import say_which_images
from app.records.models import Status
from pipeline.images import LOCK_FILE, NoBusybox, cannot_make, find_busybox, is_own
from tests.support import api, create_project, login, start_server, stop_server, wait_until

MAKING = "==> Making {image} from this host's "
MADE_ELSEWHERE = "==> {image} was made by another worker"
WAITING = "==> Waiting for another worker to finish making {image}"


@pytest.fixture
def fresh_image(docker_client):
    """A tag of Stoker's own image that the engine lacks, removed after the test: the shared
    engine's stoker-busybox:latest stays as the other tests need it."""
    name = f"stoker-busybox:fresh-{uuid.uuid4().hex[:12]}"
    yield name
    try:
        docker_client.images.remove(name, force=True)
    except docker.errors.ImageNotFound:
        pass


@pytest.fixture
def config(config, fresh_image):
    return {**config, "STOKER_BUILD_IMAGE": fresh_image}


def finished(server, token, build_id):
    build = api(server, "GET", f"/api/build/{build_id}", token).json()["build"]
    return build if build["status"] in Status.FINISHED else None


def log_of(server, token, build_id):
    return api(server, "GET", f"/api/build/{build_id}/logs", token).text


def test_a_first_build_on_an_engine_without_the_default_image_makes_it_and_passes(
        database_url, tmp_path, docker_client, local_repo, fresh_image):
    server = start_server("serve", {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "data"),
                                    "STOKER_BUILD_IMAGE": fresh_image}, tmp_path)
    try:
        wait_until(lambda: f"build image {fresh_image}: missing; made from /" in server.log(), timeout=20,
                   what=server.log)
        token = login(server, "alice")
        first = create_project(server, token, local_repo)["build"]["id"]
        build = wait_until(lambda: finished(server, token, first), timeout=60, what=server.log)
        assert (build["status"], build["exitCode"]) == (Status.PASSED, 0), build
        log = log_of(server, token, first)
        assert MAKING.format(image=fresh_image) in log and "building" in log, log
        docker_client.images.get(fresh_image)

        # Made once: the next build finds it.
        again = api(server, "POST", f"/api/build/rebuild/{first}", token).json()["build"]["id"]
        assert wait_until(lambda: finished(server, token, again), timeout=30)["status"] == Status.PASSED
        assert "Making" not in log_of(server, token, again)
    finally:
        stop_server(server)


def test_two_worker_processes_needing_the_image_at_once_make_it_once(
        tmp_path, docker_client, local_repo, fresh_image):
    data_dir = tmp_path / "data"
    shared = {"DATABASE_URL": f"sqlite:///{data_dir / 'stoker.db'}", "STOKER_DATA_DIR": str(data_dir),
              "STOKER_BUILD_IMAGE": fresh_image, "STOKER_POLL_SECONDS": "0.2"}
    started = [start_server("serve", {**shared, "STOKER_WORKER_CONCURRENCY": "0"}, tmp_path)]
    # Held here until both workers wait for it: they need the image at the same moment.
    data_dir.mkdir(exist_ok=True)
    barrier = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(barrier, fcntl.LOCK_EX)
    try:
        for _ in range(2):
            started.append(start_server("worker", {**shared, "STOKER_WORKER_CONCURRENCY": "1"}, tmp_path,
                                        wait_for_http=False))
        web = started[0]
        token = login(web, "alice")
        builds = [create_project(web, token, local_repo, name=f"p{n}")["build"]["id"] for n in range(2)]
        waiting = WAITING.format(image=fresh_image)
        wait_until(lambda: all(waiting in log_of(web, token, b) for b in builds), timeout=30,
                   what=lambda: [log_of(web, token, b) for b in builds])
        os.close(barrier)
        barrier = None

        results = [wait_until(lambda: finished(web, token, b), timeout=60) for b in builds]
        assert [r["status"] for r in results] == [Status.PASSED] * 2, results
        logs = [log_of(web, token, b) for b in builds]
        making = [log for log in logs if MAKING.format(image=fresh_image) in log]
        elsewhere = [log for log in logs if MADE_ELSEWHERE.format(image=fresh_image) in log]
        assert (len(making), len(elsewhere)) == (1, 1), logs
    finally:
        if barrier is not None:
            os.close(barrier)
        for server in started:
            stop_server(server)


def test_without_a_static_busybox_the_build_fails_naming_the_fix_in_one_line(
        app, client, accounts, local_repo, drain, docker_client, fresh_image, caplog):
    app.config["STOKER_BUSYBOX"] = "/bin/true"  # where Stoker is told to look: no busybox, and not static
    headers = accounts.headers()
    created = client.post("/api/project/projects", headers=headers, json={"name": "first", "repoUrl": local_repo.url})
    assert created.status_code == 201
    assert drain() == 1
    build = client.get(f"/api/build/{created.get_json()['build']['id']}", headers=headers).get_json()["build"]
    assert build["status"] == Status.FAILED
    assert build["error"] == cannot_make(fresh_image, "no static busybox at /bin/true"), build["error"]
    assert "\n" not in build["error"]
    for fix in ("apt-get install busybox-static", "stoker make-image", "STOKER_BUILD_IMAGE"):
        assert fix in build["error"]
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(fresh_image)

    # A process starting now says so, once, before anyone's build fails.
    with caplog.at_level(logging.INFO, logger="stoker"):
        say_which_images(app)
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"build image {fresh_image}")]
    assert said == [f"build image {fresh_image}: {build['error']}"]


def test_only_tags_of_stokers_own_image_are_made_and_only_from_a_static_busybox(tmp_path):
    assert is_own("stoker-busybox:latest") and is_own("stoker-busybox") and is_own("stoker-busybox:x1")
    for other in ("busybox:latest", "127.0.0.1:5000/stoker-busybox:latest", "library/stoker-busybox",
                  "stoker-busybox@sha256:" + "0" * 64, "stoker-busyboxes:1"):
        assert not is_own(other), other
    assert find_busybox() in ("/bin/busybox", "/usr/bin/busybox") or find_busybox().endswith("/busybox")
    for where in ("/bin/true", str(tmp_path / "nothing-here")):
        with pytest.raises(NoBusybox, match=f"no static busybox at {where}"):
            find_busybox(where)
