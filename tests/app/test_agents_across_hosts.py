"""Build agents on hosts of their own (network namespaces, tests/support/hosts.py), the server on
another, each agent reaching the server over its link alone: builds spread over them, one lost or cut off mid-build hands its
build to the other exactly once, and labels send builds where they ask to go."""
import signal
import time

import pytest

from app.records.models import Status
from tests.support import api, create_project, login, start_agent, start_server, stop_agent, stop_server
from tests.support.hosts import hosts
from tests.support.waiting import wait_until

LEASE = "6"
CANNOT_REACH = """
import socket, sys
for port in (5432, 6379):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        sys.exit(f"reached 127.0.0.1:{port}")
    except OSError:
        pass
"""


@pytest.fixture
def three_hosts():
    with hosts(3) as made:
        yield made


@pytest.fixture
def agents_server(three_hosts, tmp_path):
    """A server on a host of its own, with no workers of its own (and SQLite: PostgreSQL is out of
    its reach too); the agents' hosts reach it through this machine."""
    server = start_server("serve", {"DATABASE_URL": f"sqlite:///{tmp_path / 'stoker.db'}",
                                    "STOKER_DATA_DIR": str(tmp_path / "server-data"),
                                    "STOKER_WORKER_CONCURRENCY": "0", "STOKER_LEASE_SECONDS": LEASE}, tmp_path,
                          on=three_hosts[0])
    yield server
    stop_server(server)


def agent_on(server, token, host, tmp_path, name, labels):
    made = api(server, "POST", "/api/admin/agents", token, json={"name": name, "labels": labels}).json()
    process = start_agent(server, made["token"], tmp_path, name=name, host=host, STOKER_WORKER_CONCURRENCY="2",
                          STOKER_LEASE_SECONDS=LEASE)
    process.agent_id = made["agent"]["id"]
    return process


def holder(server, token, build_id, agents):
    """The agent process running `build_id` now, by the server's account."""
    listed = {agent["id"]: agent for agent in api(server, "GET", "/api/admin/agents", token).json()["agents"]}
    return next((agent for agent in agents if build_id in listed[agent.agent_id]["runningBuilds"]), None)


def test_builds_spread_over_agents_on_hosts_of_their_own_and_a_lost_ones_build_moves_once(
        three_hosts, agents_server, tmp_path, local_repo, listeners, docker_client):
    server, (_, east, west) = agents_server, three_hosts
    # A host reaches the server over its link, and neither the database nor Redis on this machine.
    for host in three_hosts:
        reached = host.python(CANNOT_REACH)
        assert reached.returncode == 0, reached.stderr
    token = login(server, "alice")
    agents = [agent_on(server, token, east, tmp_path, "east", ["zone=east"]),
              agent_on(server, token, west, tmp_path, "west", ["zone=west"])]
    try:
        listener = listeners(server, token)
        local_repo.commit({"ci.sh": "echo \"built $CI_COMMIT_SHA\"; sleep ${HOLD:-0}\n"}, message="Build")
        made = create_project(server, token, local_repo, "sh ci.sh")
        project_id = made["project"]["id"]
        assert listener.statuses_of(made["build"]["id"], Status.PASSED, timeout=60)[-1] == Status.PASSED

        # 40 runs at once: each built once, by one agent or the other, both kept busy.
        runs = [api(server, "POST", f"/api/project/projects/{project_id}/builds", token, json={}).json()["build"]["id"]
                for _ in range(40)]
        for build_id in runs:
            assert listener.statuses_of(build_id, Status.PASSED, timeout=120)[-1] == Status.PASSED
        ran = {agent: {int(line.split("runs build ")[1].split()[0]) for line in agent.log().splitlines()
                       if "agent runs build" in line} for agent in agents}
        assert ran[agents[0]] & ran[agents[1]] == set() and ran[agents[0]] | ran[agents[1]] >= set(runs)
        assert all(len(ran[agent] & set(runs)) >= 5 for agent in agents), {a.agent_id: len(r) for a, r in ran.items()}

        # Labels send a project's builds to the agent that carries them.
        api(server, "PATCH", f"/api/project/projects/{project_id}", token, json={"agentLabels": ["zone=west"]})
        west_only = api(server, "POST", f"/api/project/projects/{project_id}/builds", token, json={}).json()["build"]["id"]
        listener.statuses_of(west_only, Status.PASSED, timeout=60)
        assert f"runs build {west_only} " in agents[1].log() and f"runs build {west_only} " not in agents[0].log()
        api(server, "PATCH", f"/api/project/projects/{project_id}", token, json={"agentLabels": []})

        # An agent killed mid-build: once its lease lapses the build is queued again, once, and the
        # other agent runs it to the end.
        long_id = api(server, "POST", f"/api/project/projects/{project_id}/builds", token,
                      json={"variables": {"HOLD": "4"}}).json()["build"]["id"]
        listener.statuses_of(long_id, Status.RUNNING, timeout=60)
        wait_until(lambda: "built" in api(server, "GET", f"/api/build/{long_id}/logs", token).text, timeout=30)
        lost = holder(server, token, long_id, agents)
        lost.send_signal(signal.SIGKILL)
        lost.wait(timeout=10)
        assert listener.statuses_of(long_id, Status.PASSED, timeout=60)[-2:] == [Status.RUNNING, Status.PASSED]
        log = api(server, "GET", f"/api/build/{long_id}/logs", token).text
        assert log.count("was lost; it is queued again") == 1
        survivor = next(agent for agent in agents if agent is not lost)
        assert f"runs build {long_id} " in survivor.log()

        # An agent cut off mid-build: the build moves to the other, and once the link is back the cut
        # agent's late writes are refused, leaving the build as the other ran it.
        (lost_host, lost_zone), survivor_host = ((east, "zone=east"), west) if lost is agents[0] else \
            ((west, "zone=west"), east)
        again = agent_on(server, token, lost_host, tmp_path, "again", [lost_zone])
        agents = [survivor, again]
        host_of = {survivor: survivor_host, again: lost_host}
        cut_id = api(server, "POST", f"/api/project/projects/{project_id}/builds", token,
                     json={"variables": {"HOLD": "4"}}).json()["build"]["id"]
        listener.statuses_of(cut_id, Status.RUNNING, timeout=60)
        wait_until(lambda: "built" in api(server, "GET", f"/api/build/{cut_id}/logs", token).text, timeout=30)
        cut = wait_until(lambda: holder(server, token, cut_id, agents), timeout=10)
        host_of[cut].cut()
        try:
            assert listener.statuses_of(cut_id, Status.PASSED, timeout=60)[-2:] == [Status.RUNNING, Status.PASSED]
        finally:
            host_of[cut].mend()
        wait_until(lambda: "lost its lease" in cut.log() or "not taken" in cut.log(), timeout=60, what=cut.log)
        time.sleep(1)
        build = api(server, "GET", f"/api/build/{cut_id}", token).json()["build"]
        assert build["status"] == Status.PASSED and build["exitCode"] == 0
        log = api(server, "GET", f"/api/build/{cut_id}/logs", token).text
        assert log.count("was lost; it is queued again") == 1 and "lost its lease" not in log
    finally:
        for agent in agents:
            stop_agent(agent)
