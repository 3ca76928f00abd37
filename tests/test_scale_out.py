"""Stoker spread over processes: two web processes and two worker processes on one
PostgreSQL and one Redis behave as one server."""
import collections
import time

import pytest

from app.records.models import Build, BuildLog, Status
from tests.support import api, create_project, delivery, login, push_payload, start_server, stop_server, wait_until

PUSHES = 40


@pytest.fixture
def cluster(database_url, redis_url, tmp_path, docker_client):
    """Two `stoker serve` without workers and two `stoker worker`, sharing the database,
    Redis and (being on one host) the data dir."""
    shared = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "STOKER_DATA_DIR": str(tmp_path / "data"),
              # Long enough that only a wake-up, never a poll, can explain a prompt start.
              "STOKER_POLL_SECONDS": "30"}
    started = []
    try:
        for _ in range(2):
            started.append(start_server("serve", {**shared, "STOKER_WORKER_CONCURRENCY": "0"}, tmp_path))
        for _ in range(2):
            started.append(start_server("worker", {**shared, "STOKER_WORKER_CONCURRENCY": "1"}, tmp_path,
                                        wait_for_http=False))
        yield started
    finally:
        for process in started:
            stop_server(process)


@pytest.mark.parametrize("database_kind", ["postgresql"], indirect=True)
def test_pushes_to_two_web_processes_build_once_each_on_two_workers_seen_live_on_one(
        cluster, listeners, local_repo, live_database):
    web1, web2, worker1, worker2 = cluster
    token = login(web1, "alice")
    events = listeners(web1, token)
    made = create_project(web1, token, local_repo, "sh ci.sh")
    project_id, secret = made["project"]["id"], made["project"]["webhookSecret"]
    assert events.statuses_of(made["build"]["id"], until=Status.PASSED, timeout=20)[-1] == Status.PASSED

    commits = [local_repo.commit({"ci.sh": f"echo build {n}\n"}, message=f"Push {n}") for n in range(PUSHES)]
    build_ids, first_sent = [], time.monotonic()
    for n, commit in enumerate(commits):
        body, headers = delivery(secret, push_payload(commit, message=f"Push {n}"))
        web = (web1, web2)[n % 2]
        response = api(web, "POST", f"/api/webhooks/github/{project_id}", data=body, headers=headers)
        assert response.status_code == 202, response.text
        build_ids.append(response.json()["build"]["id"])
    assert len(set(build_ids)) == PUSHES

    # Every status of every build reaches the client on web process 1, in order.
    seen = collections.defaultdict(list)
    deadline = time.monotonic() + 120
    while any(seen[b][-1:] != [Status.PASSED] for b in build_ids):
        assert time.monotonic() < deadline, {b: seen[b] for b in build_ids if seen[b][-1:] != [Status.PASSED]}
        event = events.events.get(timeout=max(0.1, deadline - time.monotonic()))
        seen[event["id"]].append(event["status"])
        if event["id"] == build_ids[0] and event["status"] == Status.RUNNING:
            first_running = time.monotonic() - first_sent
    assert all(seen[b] == [Status.QUEUED, Status.RUNNING, Status.PASSED] for b in build_ids)
    # The idle workers were woken by the push (through Redis), not by their 30 s poll.
    assert first_running < 3

    # Each build ran exactly once, and both workers ran some.
    with live_database():
        builds = list(Build.select().where(Build.id.in_(build_ids)))
        logs = {b.id: "".join(piece.data for piece in BuildLog.select().where(BuildLog.build == b.id)
                              .order_by(BuildLog.offset)) for b in builds}
    assert {b.commit_hash for b in builds} == set(commits)
    assert all(b.attempts == 0 for b in builds)
    assert all(log.count("==> Running in") == 1 for log in logs.values())
    ran_by = collections.Counter(int(b.worker_id.split(":")[1]) for b in builds)
    assert set(ran_by) == {worker1.process.pid, worker2.process.pid}, ran_by


def test_a_worker_whose_engine_does_not_answer_claims_nothing_and_says_so_once(
        database_url, tmp_path, docker_client, local_repo, live_database):
    shared = {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "data"), "STOKER_POLL_SECONDS": "0.2"}
    web = start_server("serve", {**shared, "STOKER_WORKER_CONCURRENCY": "0"}, tmp_path)
    blind = start_server("worker", {**shared, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}, tmp_path,
                         wait_for_http=False)
    healthy = None
    try:
        token = login(web, "alice")
        build_id = create_project(web, token, local_repo, "true")["build"]["id"]
        wait_until(lambda: "the Docker engine does not answer" in blind.log(), timeout=20, what=blind.log)
        # A negative needs time to pass: ten polls go by, and the blind worker takes nothing nor says more.
        time.sleep(2)
        with live_database():
            assert Build.get_by_id(build_id).status == Status.QUEUED
        assert blind.log().count("the Docker engine does not answer") == 1
        healthy = start_server("worker", shared, tmp_path, wait_for_http=False)
        with live_database():
            build = wait_until(lambda: Build.get_or_none((Build.id == build_id) & (Build.status == Status.PASSED)))
        assert build.worker_id.split(":")[1] == str(healthy.process.pid)
    finally:
        for server in (web, blind, healthy):
            if server:
                stop_server(server)
