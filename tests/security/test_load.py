"""A burst of webhook deliveries: each answered well within GitHub's 10 s and making exactly
one build, while logins and API reads keep answering."""
import select
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from app.records.models import Status
from tests.support import api, create_project, delivery, login, push_payload, start_server, stop_server

DELIVERIES, SECONDS = 200, 10
GITHUB_TIMEOUT = 10


@pytest.fixture
def queueing_server(database_url, tmp_path, docker_client):
    """A server that queues builds without running them: what is loaded here is the web side."""
    server = start_server("serve", {
        "DATABASE_URL": database_url,
        "STOKER_DATA_DIR": str(tmp_path / "live-data"),
        "STOKER_WORKER_CONCURRENCY": "0",
    }, tmp_path)
    yield server
    stop_server(server)


@pytest.mark.both_databases
def test_a_burst_of_deliveries_each_makes_one_build_while_the_api_answers(queueing_server, local_repo):
    server = queueing_server
    token = login(server, "alice")
    made = create_project(server, token, local_repo, "true")
    project_id, secret = made["project"]["id"], made["project"]["webhookSecret"]
    commits = [f"{n:040x}" for n in range(1, DELIVERIES + 1)]
    session = requests.Session()

    def deliver(n):
        body, headers = delivery(secret, push_payload(commits[n], message=f"Push {n}"), delivery_id=f"burst-{n}")
        started = time.monotonic()
        response = session.post(f"{server.url}/api/webhooks/github/{project_id}", data=body,
                                headers=headers, timeout=GITHUB_TIMEOUT)
        return response.status_code, time.monotonic() - started, response.json()["build"]["id"]

    reads, logins, done = [], [], threading.Event()

    def keep_reading():
        while not done.is_set():
            started = time.monotonic()
            status = api(server, "GET", f"/api/build/{made['build']['id']}", token).status_code
            reads.append((status, time.monotonic() - started))
            if len(reads) % 10 == 0:
                started = time.monotonic()
                status = api(server, "POST", "/api/auth/login",
                             json={"username": "alice", "password": "password123"}).status_code
                logins.append((status, time.monotonic() - started))
            time.sleep(0.05)

    reader = threading.Thread(target=keep_reading)
    reader.start()
    begun = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = []
        for n in range(DELIVERIES):
            # Evenly spread over SECONDS, as a busy organisation's pushes would arrive.
            time.sleep(max(0.0, begun + n * SECONDS / DELIVERIES - time.monotonic()))
            futures.append(pool.submit(deliver, n))
        answers = [f.result() for f in futures]
    done.set()
    reader.join()

    assert all(status == 202 for status, _, _ in answers)
    ack = sorted(seconds for _, seconds, _ in answers)
    assert ack[-1] < GITHUB_TIMEOUT
    build_ids = [build_id for _, _, build_id in answers]
    assert len(set(build_ids)) == DELIVERIES  # one build each, none shared, none lost
    page = api(server, "GET", f"/api/project/projects/{project_id}/builds?limit=100", token).json()
    assert page["total"] == DELIVERIES + 1
    listed = set()
    for offset in range(0, DELIVERIES + 1, 100):
        listed |= {(b["id"], b["commitHash"]) for b in api(
            server, "GET", f"/api/project/projects/{project_id}/builds?limit=100&offset={offset}", token).json()["builds"]
            if b["status"] == Status.QUEUED and b["commitHash"] in commits}
    assert sorted(commit for _, commit in listed) == sorted(commits)

    assert reads and all(status == 200 for status, _ in reads) and max(s for _, s in reads) < 1
    assert logins and all(status == 200 for status, _ in logins) and max(s for _, s in logins) < 2
    print(f"\nacks of {DELIVERIES} deliveries in {SECONDS} s: median {statistics.median(ack) * 1000:.0f} ms, "
          f"p99 {ack[int(len(ack) * 0.99) - 1] * 1000:.0f} ms, max {ack[-1] * 1000:.0f} ms; "
          f"{len(reads)} reads, max {max(s for _, s in reads) * 1000:.0f} ms; "
          f"{len(logins)} logins, max {max(s for _, s in logins) * 1000:.0f} ms")


def connect_from(server, source, timeout=5):
    """A TCP connection to the server from another loopback address, that sends nothing."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(server.url)
    conn = socket.socket()
    conn.settimeout(10)
    conn.bind((source, 0))
    conn.connect((url.hostname, url.port))
    conn.settimeout(timeout)
    return conn


def closed_by_server(conn):
    import socket

    try:
        return conn.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_a_flood_of_idle_connections_cannot_starve_a_real_request(database_url, tmp_path, docker_client):
    server = start_server("serve", {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "data"),
                                    "STOKER_WORKER_CONCURRENCY": "0", "STOKER_IDLE_SECONDS": "60"}, tmp_path)
    flood = []
    try:
        token = login(server, "alice")
        for _ in range(1100):
            flood.append(connect_from(server, "127.0.0.2", timeout=2))
        started = time.monotonic()
        answer = api(server, "GET", "/api/auth/me", token)
        assert answer.status_code == 200 and time.monotonic() - started < 1.0
        # The server let in the first 128 and closed every later one as soon as it came.
        closed = [closed_by_server(conn) for conn in flood[128:]]
        assert all(closed)
        # The admitted ones are still open: none has anything to read (a closed one would have EOF).
        readable, _, _ = select.select(flood[:128], [], [], 0.5)
        assert readable == []
        assert "127.0.0.2 holds 128 connections" in server.log()
    finally:
        for conn in flood:
            conn.close()
        stop_server(server)


def test_a_connection_that_sends_nothing_is_closed_after_the_idle_bound(database_url, tmp_path, docker_client):
    server = start_server("serve", {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "data"),
                                    "STOKER_WORKER_CONCURRENCY": "0", "STOKER_IDLE_SECONDS": "2"}, tmp_path)
    try:
        idle = connect_from(server, "127.0.0.3", timeout=10)
        started = time.monotonic()
        assert closed_by_server(idle)
        assert 1.5 < time.monotonic() - started < 8
        idle.close()
    finally:
        stop_server(server)
