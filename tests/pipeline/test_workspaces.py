"""What a killed process leaves on its host (workspaces, containers) is swept, and only that."""
import os
import signal

import docker
import pytest

from pipeline import workspaces
from pipeline.backend import named
from tests.support import TEST_IMAGE, create_project, labelled, login, start_server, stop_server, wait_until


def test_a_sweep_removes_only_folders_no_live_process_holds(tmp_path):
    root = tmp_path / "workspaces"
    with workspaces.workspace(root, "build-1-") as held:
        (held / "file").write_text("in use")
        left = root / "build-2-gone"
        left.mkdir()
        (left / "big").write_bytes(b"x" * 4096)
        (root / ".build-2-gone.index").write_bytes(b"index")
        (root / f".{held.name}.index").write_bytes(b"index")
        fresh = root / f"{workspaces.NEW}build-3-abc"
        fresh.mkdir()
        assert sorted(workspaces.sweep(root)) == [".build-2-gone.index", "build-2-gone"]
        assert (held / "file").read_text() == "in use" and fresh.exists()
        assert (root / f".{held.name}.index").exists()
        # A folder whose process died before it was locked and named goes once it is old.
        assert workspaces.sweep(root, min_age=0) == [fresh.name]
    assert not held.exists()


def test_what_a_process_killed_with_9_left_is_swept_by_the_next(database_url, tmp_path, local_repo, docker_client):
    env = {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "data"), "STOKER_LEASE_SECONDS": "4"}
    first = start_server("serve", env, tmp_path)
    token = login(first, "alice")
    create_project(first, token, local_repo, "sleep 120", name="sleepy")
    building = tmp_path / "data" / "workspaces"

    def containers():
        return labelled(docker_client, "stoker.worker")

    assert wait_until(lambda: any(p.name.startswith("build-1-") for p in building.glob("*")))
    assert wait_until(lambda: any(str(first.process.pid) in c["Labels"]["stoker.worker"]
                                  for c in containers()))
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait()
    assert [p.name for p in building.glob("build-1-*")], "kill -9 leaves the workspace behind"

    second = start_server("serve", env, tmp_path)
    try:
        assert wait_until(lambda: not list(building.glob("build-1-*")), timeout=15)
        assert wait_until(lambda: not any(str(first.process.pid) in c["Labels"]["stoker.worker"]
                                          for c in containers()), timeout=15)
        # And later too, not only at start.
        (building / "build-9-left").mkdir()
        assert wait_until(lambda: not (building / "build-9-left").exists(), timeout=15)
    finally:
        stop_server(second)


def test_the_container_sweep_carries_on_past_a_container_that_vanished(docker_client):
    """Another process's build may end between the list and its removal: the rest are still swept."""
    dead_pids = [2**22 + 1 + n for n in range(3)]  # above any pid_max: no process has them
    host = "sweep-test-host"
    made = {pid: docker_client.containers.create(TEST_IMAGE, ["true"], labels={
        "stoker.worker": f"{host}:{pid}:0"}) for pid in dead_pids}
    vanished = []

    def is_alive(pid):
        """Asked once the engine has listed the containers: the first one asked about goes for real,
        on the engine, before the sweep removes it."""
        if pid in made and not vanished:
            made[pid].remove(force=True)
            vanished.append(made[pid].id)
        return False

    removed = named("docker").remove_orphans(host, is_alive)
    assert len(vanished) == 1
    assert {c.id for c in made.values()} - set(vanished) <= set(removed)
    for container in made.values():
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(container.id)
