"""A repository whose .stoker.yml is a bomb: each build of it fails naming the line, the server's
peak memory stays within the README's bound, and requests made meanwhile are answered promptly."""
import re
import resource
import threading
import time
from pathlib import Path

import pytest
import requests

from app.records.models import Status
from pipeline.plan import KEYS, MAX_VALUES
from tests.support import BOMBS, api, create_project, login, start_server, stop_server, wait_until

README = (Path(__file__).parents[2] / "README.md").read_text()
# What README's pipeline-file section promises, read from it so that the two never differ.
MEMORY_BOUND_MB = int(re.search(r"a worker parsing a hostile\s+file stays under (\d+) MB more than idle", README)[1])
PROMPT_SECONDS = 1
# The most a file may hold, composed whole, then a mistake on its last line.
FULL = "steps:\n  - name: a\n    commands: [" + "x," * (MAX_VALUES - 20) + "x]\nrunner: y\n"
HOSTILE = [*BOMBS, (FULL, 4, f"unknown key 'runner'; the keys are {', '.join(sorted(KEYS))}")]


def peak_mb(server):
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)[1]) / 1024


@pytest.fixture
def capped_server(database_url, tmp_path, docker_client):
    """A running server (with its workers) whose address space is capped at 5 GB, about four more
    than it reserves: one that did expand a bomb would get a MemoryError rather than all of the
    machine's memory. The cap is this process's while it starts the server, which inherits it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (5 * 1024 ** 3, hard))
    try:
        server = start_server("serve", {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "live-data")},
                              tmp_path, wait_for_http=False)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    try:
        wait_until(lambda: answers(server), what=server.log)
        yield server
    finally:
        stop_server(server)


def answers(server):
    """Whether the server answers at all (a 401 will do); one that has exited fails the test at once."""
    try:
        return requests.get(server.url + "/api/build/1", timeout=1).status_code > 0
    except requests.ConnectionError:
        assert server.process.poll() is None, server.log()


def test_each_bomb_fails_its_build_naming_the_line_within_the_memory_bound_while_requests_are_answered(
        capped_server, local_repo):
    token = login(capped_server, "alice")
    # 1. An ordinary mistake first, so that idle means having fetched, checked out and read a file.
    local_repo.commit({".stoker.yml": "image: x\n"}, message="A plan without steps")
    made = create_project(capped_server, token, local_repo, "true")
    project_id, first = made["project"]["id"], made["build"]["id"]

    def ended(build_id):
        build = api(capped_server, "GET", f"/api/build/{build_id}", token).json()["build"]
        return build if build["status"] not in (Status.QUEUED, Status.RUNNING) else None

    assert wait_until(lambda: ended(first), what=capped_server.log)["error"] == ".stoker.yml line 1: steps are missing"
    idle = peak_mb(capped_server)

    # 2. Someone keeps reading a build while each bomb is built.
    reads, done = [], threading.Event()

    def keep_reading():
        while not done.is_set():
            started = time.monotonic()
            try:
                status = api(capped_server, "GET", f"/api/build/{first}", token).status_code
            except Exception as exc:  # a timeout is what a held event loop looks like
                status = repr(exc)
            reads.append((status, time.monotonic() - started))
            time.sleep(0.02)

    reader = threading.Thread(target=keep_reading)
    reader.start()
    try:
        for number, (text, line, words) in enumerate(HOSTILE):
            local_repo.commit({".stoker.yml": text}, message=f"Bomb {number}")
            started = api(capped_server, "POST", f"/api/project/projects/{project_id}/builds", token, json={})
            assert started.status_code == 201, started.json()
            build = wait_until(lambda: ended(started.json()["build"]["id"]), what=capped_server.log)
            assert (build["status"], build["error"]) == (Status.FAILED, f".stoker.yml line {line}: {words}")
    finally:
        done.set()
        reader.join()

    # 3. The server stayed within the bound, and answered every read promptly.
    peak = peak_mb(capped_server)
    assert peak - idle < MEMORY_BOUND_MB, f"{idle:.0f} MB idle, {peak:.0f} MB at the peak"
    assert len(reads) > len(HOSTILE)
    assert all(status == 200 for status, _ in reads), reads
    assert max(took for _, took in reads) < PROMPT_SECONDS, max(took for _, took in reads)
