"""The build sandbox, checked from inside a real build container."""
import re
import shlex
import time
from pathlib import Path

import pytest

from app.records.models import Status
from pipeline.backend import Sandbox, named
from pipeline.runner import BuildJob, Runner
from tests.support import TEST_IMAGE, api, create_project, login, start_server, stop_server, wait_until

DOCKERS_OWN_FILES = re.compile(r".*/containers/[0-9a-f]{64}/(resolv\.conf|hostname|hosts)")


def run(tmp_path, repo, command, sandbox=Sandbox()):
    """Run `command` as a build in `sandbox`; return its outcome and everything it printed."""
    runner = Runner(tmp_path / "data", backend=named("docker"), sandbox=sandbox, allow_local_repos=True,
                    git_timeout=30, pull_registries=("127.0.0.1",))
    printed = bytearray()
    job = BuildJob(build_id=1, repo_url=repo.url, commit_hash=repo.repo.head.commit.hexsha,
                   branch="main", image=TEST_IMAGE, command=command)
    outcome = runner.run(job, printed.extend)
    return outcome, printed.decode()


@pytest.fixture(autouse=True)
def _engine(docker_client):
    """Every test here needs the real engine."""


def test_only_the_capabilities_builds_need_and_no_new_privileges(tmp_path, local_repo):
    outcome, printed = run(tmp_path, local_repo, "grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status")
    assert outcome.exit_code == 0
    # CHOWN, DAC_OVERRIDE, FOWNER, FSETID, SETGID, SETUID: bits 0, 1, 3, 4, 6, 7.
    assert "CapEff:\t00000000000000db" in printed
    assert "CapBnd:\t00000000000000db" in printed
    assert "NoNewPrivs:\t1" in printed


def test_no_docker_socket_and_no_host_path_but_the_workspace(tmp_path, local_repo):
    outcome, printed = run(tmp_path, local_repo,
                           "ls /var/run/docker.sock /run/docker.sock 2>&1; cat /proc/self/mountinfo")
    assert outcome.exit_code == 0
    assert printed.count("No such file or directory") == 2
    host_paths = []
    for line in printed.splitlines():
        fields = line.split()
        if " - " in line and fields[fields.index("-") + 2].startswith("/dev/") and fields[3] != "/":
            host_paths.append((fields[3], fields[4]))
    workspace = [(root, point) for root, point in host_paths if point == "/workspace"]
    assert len(workspace) == 1 and "/workspaces/build-1-" in workspace[0][0]
    others = [root for root, point in host_paths if point != "/workspace"]
    assert others and all(DOCKERS_OWN_FILES.fullmatch(root) for root in others), others


def test_the_process_limit_stops_a_fork_bomb(tmp_path, local_repo):
    started = time.monotonic()
    outcome, printed = run(tmp_path, local_repo,
                           "cat /sys/fs/cgroup/pids/pids.max; for i in $(seq 1 100); do sleep 30 & done; echo spawned",
                           Sandbox(pids=32))
    assert printed.splitlines()[3] == "32"
    assert "can't fork" in printed
    assert time.monotonic() - started < 20  # ended with its shell; no stray processes kept it alive


def test_a_memory_hog_is_killed_and_the_build_says_why(tmp_path, local_repo):
    outcome, printed = run(tmp_path, local_repo,
                           "x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo survived ${#x}",
                           Sandbox(memory="64m"))
    assert outcome.exit_code == 137
    assert outcome.error == "the build ran out of memory (limit 64m)"
    assert not any(line.startswith("survived") for line in printed.splitlines())


def test_memory_swap_and_cpu_limits_are_set(tmp_path, local_repo):
    outcome, printed = run(tmp_path, local_repo, "cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes "
                           "memory/memory.memsw.limit_in_bytes cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us",
                           Sandbox(memory="256m", cpus=1.5))
    assert printed.splitlines()[3:7] == [str(256 * 2**20), str(256 * 2**20), "150000", "100000"]


def test_a_fork_bomb_and_a_memory_hog_fail_their_own_builds_and_nothing_else(
        database_url, tmp_path, local_repo, listeners):
    server = start_server("serve", {
        "DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "live"),
        "STOKER_BUILD_PIDS": "64", "STOKER_BUILD_MEMORY": "64m", "STOKER_WORKER_CONCURRENCY": "3",
    }, tmp_path)
    try:
        token = login(server, "alice")
        events = listeners(server, token)

        def project(name, command, **fields):
            return create_project(server, token, local_repo, command, name=name, **fields)["build"]["id"]

        # The build's own shell forks once, then execs: `bomb | bomb &` in it needs a second fork,
        # which the first bomb's children could beat to the last pid; the shell then exited 2 at
        # once (found by CI) and the build never ran into its timeout.
        bomb = project("bomb", "bomb() { bomb | bomb & }; bomb & exec sleep 60", timeoutSeconds=5)
        hog = project("hog", "x=$(head -c 300000000 /dev/zero | tr '\\0' a)")
        calm = project("calm", "sleep 2; echo calm")

        assert events.statuses_of(calm, until=Status.PASSED, timeout=60)[-1] == Status.PASSED
        slowest = 0.0
        for _ in range(5):
            started = time.monotonic()
            assert api(server, "GET", f"/api/build/{bomb}", token).status_code == 200
            slowest = max(slowest, time.monotonic() - started)
        assert slowest < 1.0

        events.statuses_of(bomb, until=Status.FAILED, timeout=60)
        bombed = api(server, "GET", f"/api/build/{bomb}", token).json()["build"]
        assert bombed["error"] == "Timed out after 5 s"
        assert "can't fork" in api(server, "GET", f"/api/build/{bomb}/logs", token).text
        hogged = api(server, "GET", f"/api/build/{hog}", token).json()["build"]
        assert (hogged["status"], hogged["exitCode"]) == (Status.FAILED, 137)
        assert hogged["error"] == "the build ran out of memory (limit 64m)"
    finally:
        stop_server(server)


def as_nobody(line):
    """Run a shell line as an unprivileged user of the host, as a local attacker would."""
    import subprocess

    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", line],
                          capture_output=True, text=True, timeout=10)


def test_a_builds_setuid_file_is_no_way_up_for_another_user_of_the_host(database_url, tmp_path, local_repo):
    import os
    import stat

    data = tmp_path / "data"
    # An operator's careless umask: Stoker must not depend on it.
    old_umask = os.umask(0)
    try:
        server = start_server("serve", {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(data)}, tmp_path)
    finally:
        os.umask(old_umask)
    try:
        token = login(server, "alice")
        command = "cp /bin/busybox sx && chmod 4755 sx && chmod 777 . && touch ready && sleep 60"
        build = create_project(server, token, local_repo, command, name="escalate")["build"]
        wait_until(lambda: list(data.glob("workspaces/build-*/ready")), what=server.log)
        planted = next(data.glob("workspaces/build-*/sx"))
        assert planted.stat().st_mode & stat.S_ISUID and planted.stat().st_uid == 0

        # The build opened its own folder to everyone; the folders above it are still closed.
        attempt = as_nobody(f"{shlex.quote(str(planted))} id -u")
        assert attempt.returncode != 0 and "Permission denied" in attempt.stderr
        assert as_nobody(f"cat {shlex.quote(database_url.removeprefix('sqlite:///'))}").returncode != 0
        # And where it can be reached, the bit means nothing: the data dir is mounted nosuid.
        assert os.statvfs(planted).f_flag & os.ST_NOSUID

        workspace = planted.parent
        for root, dirs, files in os.walk(data):
            for path in (Path(root) / name for name in [".", *dirs, *files]):
                if path != workspace and workspace not in path.parents:
                    mode = path.lstat().st_mode
                    assert not mode & 0o077, f"{path} is {stat.filemode(mode)}"
        database = Path(database_url.removeprefix("sqlite:///"))
        for path in database.parent.glob(database.name + "*"):
            assert not path.stat().st_mode & 0o077, path
        api(server, "POST", f"/api/build/{build['id']}/cancel", token)
    finally:
        stop_server(server)
