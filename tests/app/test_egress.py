"""A way out: a build's own network, routed out through this host to a "remote host" the tests make
(a network namespace at 203.0.113.10), while nothing of the server's is reachable from inside a
build: not this host, not another build's network, not the link-local range where clouds keep
their metadata service, not what the admin denies."""
import pytest

from app.background.assignments import has_way_out
from app.records.models import Build, Status
from pipeline.backend.docker import DockerBackend, firewall
from tests.support import TEST_IMAGE, http
from tests.support.remote_host import METADATA_ADDRESS, REMOTE_ADDRESS, remote_host

SUBNETS = ("198.18.0.0/15",)


@pytest.fixture
def config(config):
    return {**config, "STOKER_BUILD_EGRESS": True, "STOKER_SERVICE_SUBNETS": SUBNETS}


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    with remote_host(tmp_path_factory.mktemp("remote")) as host:
        host.serve("dependency.txt", "the dependency, downloaded\n")
        yield host


@pytest.fixture
def guarded():
    """Builds kept apart as `stoker serve` keeps them at start (`denied`: what the admin adds)."""
    def guard(denied=()):
        DockerBackend(service_subnets=SUBNETS).guard(list(denied))
    yield guard
    firewall.remove()


def fetch(address, port, path="/"):
    """A shell line printing what an HTTP GET answers, or `refused`, in 3 s at most (busybox's nc)."""
    return f"printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {address} {port} | tail -n 1 || echo refused"


def reach(address, port):
    return f"if nc -w 3 {address} {port} </dev/null; then echo reached {address}; else echo refused {address}; fi"


def said(log, verdict):
    """The addresses the log's `reach` lines said `verdict` (reached or refused) of."""
    return [line.split(" ", 1)[1] for line in log.splitlines() if line.startswith(f"{verdict} ")]


def plan(*commands, services=""):
    lines = "".join(f"      - {_yaml(command)}\n" for command in commands)
    return f"{services}steps:\n  - name: try\n    commands:\n{lines}"


def _yaml(text):
    return "'" + text.replace("'", "''") + "'"


@pytest.fixture
def host_listener():
    """A server on every address of this host, as Stoker, PostgreSQL, Redis or SMTP may listen."""
    server = http.host_listener(b"the server answered")
    yield server.server_address[1]
    server.shutdown()


def test_a_step_downloads_from_a_host_out_there(build_with, remote, guarded, docker_client):
    guarded()
    build, log = build_with(plan(fetch(REMOTE_ADDRESS, 8080, "/dependency.txt")))
    assert build["status"] == Status.PASSED, log
    assert "the dependency, downloaded" in log
    assert [n for n in docker_client.networks.list() if n.name.startswith(f"stoker-build-{build['id']}-")] == []


def test_a_build_with_a_service_downloads_and_talks_to_its_service(build_with, remote, guarded):
    guarded()
    service = ("services:\n  - name: db\n    commands:\n      - mkdir -p /www\n"
               "      - echo the service answered > /www/index.html\n      - httpd -f -p 5432 -h /www\n")
    build, log = build_with(plan(fetch(REMOTE_ADDRESS, 8080, "/dependency.txt"),
                                 "for i in 1 2 3 4 5 6 7 8 9 10; do " + fetch("db", 5432, "/index.html")
                                 + " | grep answered && break; sleep 0.3; done", services=service))
    assert build["status"] == Status.PASSED, log
    assert "the dependency, downloaded" in log and "the service answered" in log


def test_nothing_of_the_servers_is_reached_from_a_build(build_with, remote, guarded, host_listener, docker_client):
    guarded(denied=[f"{REMOTE_ADDRESS}/32"])
    # Another build's network, with something listening on it.
    other = docker_client.networks.create("stoker-test-other-build", driver="bridge",
                                          ipam={"Config": [{"Subnet": "198.19.254.0/24"}]},
                                          labels={"stoker.build": "other"})
    listener = docker_client.containers.run(TEST_IMAGE, ["httpd", "-f", "-p", "8000"], detach=True,
                                            network=other.name, labels={"stoker.build": "other"})
    try:
        listener.reload()
        other_build = listener.attrs["NetworkSettings"]["Networks"][other.name]["IPAddress"]
        gateway = "$(ip route | awk '/default/ {print $3}')"
        build, log = build_with(plan(
            reach(gateway, host_listener),
            reach(METADATA_ADDRESS, 80),
            reach(other_build, 8000),
            reach(REMOTE_ADDRESS, 8080),
        ))
    finally:
        listener.remove(force=True)
        other.remove()
    assert build["status"] == Status.PASSED, log
    assert said(log, "reached") == [], log
    assert len(said(log, "refused")) == 4, log


def test_without_the_rules_in_place_a_build_gets_no_way_out_and_says_why(build_with, remote, guarded):
    """Rules gone (a reboot, a firewall reload): the worker looks before each build and withholds."""
    guarded()
    firewall.remove()
    build, log = build_with(plan(fetch(REMOTE_ADDRESS, 8080, "/dependency.txt"), reach(METADATA_ADDRESS, 80)))
    assert "No way out for this build" in log and "stoker firewall" in log, log
    assert "the dependency, downloaded" not in log and said(log, "reached") == [], log


@pytest.mark.parametrize("fields, config_changes", [
    ({"network": "none"}, {}),
    ({}, {"STOKER_BUILD_EGRESS": False}),
])
def test_no_way_out_when_the_project_or_the_admin_says_none(build_with, remote, guarded, app, fields,
                                                         config_changes):
    guarded()
    app.config.update(config_changes)
    build, log = build_with(plan(fetch(REMOTE_ADDRESS, 8080, "/dependency.txt")), **fields)
    assert "the dependency, downloaded" not in log, log


def test_a_forks_pull_request_gets_a_way_out_only_once_someone_lets_it_run(app, accounts, local_repo, client):
    from app.records.models import User
    from tests.support import create_project

    project = create_project(client, accounts.token(), local_repo, "true", name="forked")["project"]
    with app.app_context():
        alice = User.get(User.username == "alice")
        def build(**fields):
            return Build.create(project=project["id"], commit_hash="a" * 40, branch="main", **fields)

        config = app.config
        assert has_way_out(build(), config)
        assert not has_way_out(build(fork=True), config)
        assert has_way_out(build(fork=True, triggered_by=alice), config)
        assert not has_way_out(build(), {**config, "STOKER_BUILD_EGRESS": False})
        assert not has_way_out(build(), {**config, "STOKER_BUILD_NETWORK": "team"})


def test_the_rules_are_written_again_not_added_twice(guarded):
    import subprocess

    guarded()
    guarded(denied=["10.9.0.0/16"])
    rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True, check=True).stdout.splitlines()
    assert rules.count(f"-A INPUT -j {firewall.INPUT_CHAIN}") == 1
    assert rules.count(f"-A FORWARD -j {firewall.FORWARD_CHAIN}") == 1
    assert rules.count(f"-A DOCKER-USER -j {firewall.FORWARD_CHAIN}") == 1
    assert sum("10.9.0.0/16" in rule for rule in rules) == 2


def test_a_worker_that_cannot_guard_builds_says_so_at_start(tmp_path, database_url):
    """An iptables that answers as it does to a user without the privilege: the start line says the
    builds are not guarded and names the command that guards them."""
    import os

    from tests.support import start_server, stop_server, wait_until

    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "iptables").write_text("#!/bin/sh\necho 'iptables v1.8.9 (nf_tables): Permission denied (you must be root)' >&2\n"
                                    "exit 4\n")
    (tools / "iptables").chmod(0o755)
    server = start_server("worker", {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "data"),
                                     "STOKER_BUILD_EGRESS": "1", "PATH": f"{tools}:{os.environ['PATH']}"},
                          tmp_path, wait_for_http=False)
    try:
        wait_until(lambda: "builds' way out" in server.log(), timeout=20, what=server.log)
        assert "builds' way out: NOT GUARDED" in server.log() and "Permission denied" in server.log()
        assert "run 'stoker firewall' as root" in server.log()
    finally:
        stop_server(server)
        firewall.remove()


def test_a_worker_guards_builds_at_start(tmp_path, database_url):
    import subprocess

    from tests.support import start_server, stop_server, wait_until

    server = start_server("worker", {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "data"),
                                     "STOKER_BUILD_EGRESS": "1", "STOKER_BUILD_DENY": "10.9.0.0/16"},
                          tmp_path, wait_for_http=False)
    try:
        wait_until(lambda: "builds' way out" in server.log(), timeout=20, what="the worker's start line")
        assert "builds' way out: on" in server.log() and "10.9.0.0/16" in server.log()
        rules = subprocess.run(["iptables", "-S", firewall.FORWARD_CHAIN], capture_output=True, text=True).stdout
        assert "169.254.0.0/16" in rules and "10.9.0.0/16" in rules
    finally:
        stop_server(server)
        firewall.remove()
