"""Services: containers a build starts before its steps, on a network of its own that nothing
else reaches, answered by name, and gone with the build however it ends."""
import pytest

from app.records.models import Status
from tests.support import labelled, wait_until

WEB = """\
services:
  - name: web
    commands:
      - mkdir -p /www
      - echo "hello from $GREETING" > /www/index.html
      - echo serving
      - httpd -f -p 8080 -h /www
    environment:
      GREETING: the service
steps:
  - name: ask
    commands:
      - for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://web:8080/ && break; sleep 0.3; done
{extra}"""


def left_behind(docker_client, build_id):
    containers = labelled(docker_client, f"stoker.build={build_id}")
    networks = [n for n in docker_client.networks.list() if n.name.startswith(f"stoker-build-{build_id}-")]
    return containers + networks


def test_a_step_reaches_a_service_by_name_and_the_service_goes_with_the_build(build_with, docker_client):
    build, log = build_with(WEB.format(extra=""))
    assert build["status"] == Status.PASSED, log
    assert "hello from the service" in log
    assert "[web] serving" in log
    assert "==> Service web started (stoker-busybox:latest), reached as web" in log
    assert left_behind(docker_client, build["id"]) == []


def test_a_failed_build_removes_its_services_and_network_too(build_with, docker_client):
    build, log = build_with(WEB.format(extra="  - name: fail\n    commands: exit 4\n"))
    assert (build["status"], build["exitCode"]) == (Status.FAILED, 4), log
    assert left_behind(docker_client, build["id"]) == []


def test_another_build_cannot_reach_a_service_nor_the_host(build_with, docker_client):
    import threading

    from tests.support.http import host_listener

    # On every address of the host: were a build's network routed to the host, this would answer.
    host = host_listener(b"the host answered")
    results = {}
    try:
        first = threading.Thread(target=lambda: results.update(
            first=build_with(WEB.format(extra="  - name: hold\n    commands: sleep 8\n"))))
        first.start()
        network = wait_until(lambda: next((n for n in docker_client.networks.list()
                                           if n.name.startswith("stoker-build-")), None),
                             timeout=30, what="the first build's network")
        network.reload()
        subnet = network.attrs["IPAM"]["Config"][0]["Subnet"]
        service = subnet.rsplit(".", 1)[0] + ".10"
        tries = (f"timeout 3 wget -qO- http://{service}:8080/ || echo service unreachable; "
                 f"timeout 3 wget -qO- http://{subnet.rsplit('.', 1)[0]}.1:{host.server_address[1]}/ "
                 f"|| echo host unreachable; "
                 f"gw=$(ip route | awk '/default/ {{print $3}}'); echo own gateway $gw; "
                 f"timeout 3 wget -qO- http://$gw:{host.server_address[1]}/ || echo own gateway unreachable")
        quoted = tries.replace("'", "''")  # YAML's single-quoted text
        second, log = build_with(f"services:\n  - name: other\n    commands: sleep 30\n"
                                 f"steps:\n  - name: try\n    commands: ['{quoted}']\n")
        assert second["status"] == Status.PASSED, log
        assert "service unreachable" in log and "host unreachable" in log, log
        assert "own gateway 198.1" in log and "own gateway unreachable" in log, log
        assert "hello from" not in log and "the host answered" not in log
        first.join(timeout=60)
        assert results["first"][0]["status"] == Status.PASSED
    finally:
        host.shutdown()
        host.server_close()


def test_a_timed_out_build_removes_its_services_and_network(build_with, docker_client):
    build, log = build_with("timeout: 3s\n" + WEB.format(extra="  - name: slow\n    commands: sleep 60\n"))
    assert (build["status"], build["error"]) == (Status.FAILED, "Timed out after 3 s"), log
    assert left_behind(docker_client, build["id"]) == []


def test_a_canceled_build_removes_its_services_and_network(build_with, client, accounts, docker_client):
    import threading

    results = {}
    running = threading.Thread(target=lambda: results.update(
        build=build_with(WEB.format(extra="  - name: slow\n    commands: sleep 60\n"))))
    running.start()
    services = wait_until(lambda: labelled(docker_client, "stoker.service=web", running_only=True), timeout=30,
                          what="the service to start")
    build_id = int(services[0]["Labels"]["stoker.build"])
    wait_until(lambda: [c for c in labelled(docker_client, f"stoker.build={build_id}", running_only=True)
                        if "stoker.service" not in c["Labels"]], timeout=30, what="a step to start")
    assert client.post(f"/api/build/{build_id}/cancel", headers=accounts.headers()).status_code == 200
    running.join(timeout=60)
    assert results["build"][0]["status"] == Status.CANCELED
    assert left_behind(docker_client, build_id) == []


@pytest.fixture
def team_network(docker_client):
    """A network of the admin's, internal, that projects may choose."""
    import docker

    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet="198.19.254.0/24")])
    network = docker_client.networks.create("stoker-test-team", driver="bridge", internal=True, ipam=ipam,
                                            options={"com.docker.network.bridge.inhibit_ipv4": "true"})
    yield network.name
    network.remove()


@pytest.fixture
def config(config):
    return {**config, "STOKER_BUILD_NETWORKS": ("none", "stoker-test-team")}


def test_a_project_chooses_one_of_the_networks_the_admin_allows(client, accounts, local_repo, drain, team_network):
    from tests.support import create_project

    headers = accounts.headers()
    project = create_project(client, accounts.token(), local_repo, "ip -4 addr show eth0 | grep inet || true")
    assert project["project"]["network"] is None
    drain()
    refused = client.patch("/api/project/projects/1", json={"network": "host"}, headers=headers)
    assert refused.status_code == 400 and "network must be one of none, stoker-test-team" in refused.get_json()["message"]
    chosen = client.patch("/api/project/projects/1", json={"network": team_network}, headers=headers)
    assert chosen.status_code == 200 and chosen.get_json()["project"]["network"] == team_network
    rebuilt = client.post("/api/build/rebuild/1", headers=headers).get_json()["build"]["id"]
    drain()
    log = client.get(f"/api/build/{rebuilt}/logs", headers=headers).get_data(as_text=True)
    assert "inet 198.19.254." in log, log
    first = client.get("/api/build/1/logs", headers=headers).get_data(as_text=True)
    assert "inet 198.19.254." not in first and "==> Exited with code 0" in first  # on none: no eth0
