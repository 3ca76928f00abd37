"""The `stoker` command's processes, each run for real."""
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from app.records.models import Build, Status
from app.worker import STOPPED
from tests.support import (
    TEST_IMAGE,
    api,
    create_project,
    delivery,
    free_port,
    labelled,
    login,
    push_payload,
    start_server,
    stop_server,
    wait_until,
)


def passed_while_running(build_id, worker):
    """Whether the build has passed; a worker process that has exited fails the test at once."""
    assert worker.process.poll() is None, worker.log()
    return Build.get_by_id(build_id).status == Status.PASSED


@pytest.mark.both_databases
def test_a_worker_process_runs_builds_the_web_side_queued(client, accounts, local_repo, database_url, tmp_path,
                                                           docker_client):
    build_id = create_project(client, accounts.token(), local_repo)["build"]["id"]

    worker = start_server("worker", {
        "DATABASE_URL": database_url,
        "STOKER_DATA_DIR": str(tmp_path / "worker-data"),
        "STOKER_POLL_SECONDS": "0.2",
    }, tmp_path, wait_for_http=False)
    try:
        wait_until(lambda: passed_while_running(build_id, worker), what=worker.log)
    finally:
        stop_server(worker)
    build = Build.get_by_id(build_id)
    assert build.exit_code == 0
    assert build.worker_id.split(":")[1] == str(worker.process.pid)


def test_a_worker_whose_events_cannot_be_sent_still_records_every_build(client, accounts, local_repo, database_url,
                                                                        tmp_path, docker_client):
    """Save, then emit: an event that cannot go out (nothing listens where REDIS_URL points) is
    logged, and the status changes it tells of are kept all the same."""
    build_id = create_project(client, accounts.token(), local_repo)["build"]["id"]
    worker = start_server("worker", {
        "DATABASE_URL": database_url,
        "STOKER_DATA_DIR": str(tmp_path / "worker-data"),
        "STOKER_POLL_SECONDS": "0.2",
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }, tmp_path, wait_for_http=False)
    try:
        wait_until(lambda: passed_while_running(build_id, worker), what=worker.log)
    finally:
        stop_server(worker)
    assert "Cannot publish to redis" in worker.log()
    assert Build.get_by_id(build_id).exit_code == 0


def test_make_image_imports_a_busybox_image_that_runs(docker_client):
    name = f"stoker-make-image-test:{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run([sys.executable, "-m", "stoker", "make-image", "--name", name], check=True,
                       capture_output=True, timeout=60)
        output = docker_client.containers.run(name, ["sh", "-c", "echo ok; ls /bin/ls"], remove=True,
                                              network_mode="none")
        assert output == b"ok\n/bin/ls\n"
    finally:
        docker_client.images.remove(name, force=True)


@pytest.mark.both_databases
def test_with_redis_a_browser_on_the_web_process_sees_builds_a_worker_process_ran(
        database_url, redis_url, tmp_path, local_repo, listeners, docker_client):
    shared = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "STOKER_POLL_SECONDS": "0.2"}
    web = start_server("serve", {**shared, "STOKER_WORKER_CONCURRENCY": "0",
                                 "STOKER_DATA_DIR": str(tmp_path / "web-data")}, tmp_path)
    worker = start_server("worker", {**shared, "STOKER_DATA_DIR": str(tmp_path / "worker-data")},
                          tmp_path, wait_for_http=False)
    try:
        token = login(web, "alice")
        events = listeners(web, token)
        created = create_project(web, token, local_repo, "sh ci.sh", name="demo")
        first = created["build"]["id"]
        assert events.statuses_of(first, until=Status.PASSED) == [Status.QUEUED, Status.RUNNING, Status.PASSED]

        sha = local_repo.commit({"r.txt": "r\n"})
        body, headers = delivery(created["project"]["webhookSecret"], push_payload(sha))
        pushed = api(web, "POST", f"/api/webhooks/github/{created['project']['id']}", data=body,
                     headers=headers).json()["build"]["id"]
        assert events.statuses_of(pushed, until=Status.PASSED) == [Status.QUEUED, Status.RUNNING, Status.PASSED]
        assert api(web, "GET", f"/api/build/{pushed}", token).json()["build"]["status"] == Status.PASSED
        # The web process runs no workers, so the worker process ran both builds.
        assert f"runs build {first} " in worker.log() and f"runs build {pushed} " in worker.log()
    finally:
        stop_server(worker)
        stop_server(web)


def test_a_stopped_server_kills_its_builds_and_records_why(app, live_server, local_repo, docker_client):
    token = login(live_server, "alice")
    created = create_project(live_server, token, local_repo, "echo started; sleep 120", name="long")
    build_id = created["build"]["id"]
    # The command itself has begun: its container is up and running it.
    wait_until(lambda: "started\n" in api(live_server, "GET", f"/api/build/{build_id}/logs", token).text)

    live_server.process.send_signal(signal.SIGTERM)
    assert live_server.process.wait(20) == 0, live_server.log()

    build = Build.get_by_id(build_id)
    assert (build.status, build.error, build.exit_code) == (Status.FAILED, STOPPED, 137)
    assert build.finished_at is not None
    pid = f":{live_server.process.pid}:"
    left = [c for c in labelled(docker_client, "stoker.worker") if pid in c["Labels"]["stoker.worker"]]
    assert left == []


def test_a_worker_says_at_start_which_of_stokers_images_the_engine_has(database_url, tmp_path, docker_client,
                                                                       android_image):
    lines = {}
    for image, state in (("stoker-android-builder:not-made", "missing"), (android_image, "present")):
        worker = start_server("worker", {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "w"),
                                         "STOKER_ANDROID_IMAGE": image}, tmp_path, wait_for_http=False)
        try:
            said = f"Android builder image {image}: "
            lines[image] = wait_until(lambda: [line for line in worker.log().splitlines() if said in line],
                                      timeout=20, what=worker.log)
            assert f"build image {TEST_IMAGE}: present" in worker.log()
        finally:
            stop_server(worker)
        assert len(lines[image]) == 1 and f"{said}{state}" in lines[image][0], lines[image]
    assert "stoker make-android-image" in lines["stoker-android-builder:not-made"][0]


def mounted_at(path):
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if line.split()[4] == str(path)]


def test_the_nosuid_mount_of_a_shared_data_dir_goes_with_the_last_process_using_it(database_url, tmp_path,
                                                                                    docker_client):
    if os.geteuid() != 0:
        pytest.skip("only root mounts the data dir nosuid")
    data = tmp_path / "shared-data"
    shared = {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(data)}
    web = start_server("serve", shared, tmp_path)
    worker = start_server("worker", shared, tmp_path, wait_for_http=False)
    try:
        wait_until(lambda: "builds at a time" in worker.log(), what=worker.log)
        assert len(mounted_at(data)) == 1 and os.statvfs(data).f_flag & os.ST_NOSUID
        stop_server(web)
        assert len(mounted_at(data)) == 1, "the worker still uses it"
    finally:
        stop_server(web)
        stop_server(worker)
    assert mounted_at(data) == []
    shutil.rmtree(data)  # "Device or resource busy" while a mount was left behind


def test_with_json_logs_every_line_is_an_object_and_a_builds_lines_name_it(tmp_path, local_repo):
    settings = {"DATABASE_URL": f"sqlite:///{tmp_path / 'stoker.db'}", "STOKER_DATA_DIR": str(tmp_path / "data"),
                "STOKER_LOG_FORMAT": "json"}
    server = start_server("serve", settings, tmp_path)
    try:
        token = login(server, "alice")
        build_id = create_project(server, token, local_repo, "echo hi")["build"]["id"]
        wait_until(lambda: api(server, "GET", f"/api/build/{build_id}", token).json()["build"]["status"] == "passed",
                   timeout=60, what="the build")
        wait_until(lambda: f"runs build {build_id}" in server.log(), what="the worker's line")
    finally:
        stop_server(server)
    lines = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert any(line["logger"] == "stoker.http" and "POST /api/project/projects" in line["message"] for line in lines)
    about_it = [line for line in lines if line.get("build_id") == build_id]
    assert any(f"runs build {build_id}" in line["message"] for line in about_it)
    assert not [line for line in lines if "build_id" in line and line["build_id"] != build_id]

    refused = start_server("serve", {**settings, "STOKER_LOG_FORMAT": "xml"}, tmp_path, wait_for_http=False)
    assert refused.process.wait(20) != 0
    assert "STOKER_LOG_FORMAT must be one of text, json" in refused.log()
