"""`stoker login|projects|builds|logs|run|rebuild|cancel|approve|lint` against a live server, each run
as a person would run it: the `stoker` command in a process of its own."""
import json
import os
import stat
import subprocess
import sys
import time

import pytest

from tests.support import api, create_project, login, start_agent, start_server, stop_agent, stop_server
from tests.support.waiting import wait_until


@pytest.fixture
def server(tmp_path):
    settings = {"DATABASE_URL": f"sqlite:///{tmp_path / 'stoker.db'}", "STOKER_DATA_DIR": str(tmp_path / "data")}
    made = start_server("serve", settings, tmp_path)
    made.settings = settings
    yield made
    stop_server(made)


@pytest.fixture
def stoker(tmp_path):
    """Runs `stoker ARGS`, the user's config under tmp_path: (exit code, stdout, stderr)."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}

    def run(*args, stdin="", timeout=120):
        done = subprocess.run([sys.executable, "-m", "stoker", *args], input=stdin, capture_output=True, text=True,
                              env=env, timeout=timeout)
        return done.returncode, done.stdout, done.stderr

    run.env = env
    return run


def test_a_developer_logs_in_runs_a_build_waits_for_it_and_reads_it(server, stoker, tmp_path, local_repo):
    login(server, "alice")  # registered: the first account
    code, _, said = stoker("login", server.url, "--username", "alice", stdin="password123\n")
    assert code == 0, said
    kept = tmp_path / "config" / "stoker" / "client.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert json.loads(kept.read_text())["token"].startswith("stk_") and "password123" not in kept.read_text()
    assert stoker("login", server.url, "--username", "alice", stdin="wrong\n")[0] == 1

    local_repo.commit({"ci.sh": "echo built by $STOKER_EVENT with $GREETING\n"})
    create_project(server, login(server, "alice"), local_repo, "sh ci.sh", name="demo")
    code, out, _ = stoker("projects")
    assert code == 0 and "demo" in out
    assert [project["name"] for project in json.loads(stoker("projects", "--json")[1])] == ["demo"]

    code, out, said = stoker("run", "demo", "--var", "GREETING=hello", "--wait")
    assert code == 0, said
    build_id = int(out.split()[1])
    assert out.strip() == f"Build {build_id} passed"
    code, out, _ = stoker("logs", str(build_id))
    assert code == 0 and "built by manual with hello" in out
    code, out, _ = stoker("builds", "demo", "--json")
    assert [build["id"] for build in json.loads(out)][0] == build_id

    local_repo.commit({"ci.sh": "exit 3\n"})
    code, out, _ = stoker("run", "demo", "--wait")
    assert code == 1 and out.strip().endswith("failed")
    code, _, said = stoker("approve", str(build_id))
    assert code == 1 and "stoker approve: 409" in said


def test_logs_follow_a_build_live_across_a_dropped_connection(tmp_path, stoker, local_repo):
    """The server restarts while the log is followed; an agent runs the build meanwhile (a server's
    own workers stop with it)."""
    settings = {"DATABASE_URL": f"sqlite:///{tmp_path / 'stoker.db'}", "STOKER_DATA_DIR": str(tmp_path / "data"),
                "STOKER_WORKER_CONCURRENCY": "0", "STOKER_LEASE_SECONDS": "30"}
    server = start_server("serve", settings, tmp_path)
    server.settings = settings
    made = api(server, "POST", "/api/admin/agents", login(server, "alice"), json={"name": "builder"}).json()
    agent = start_agent(server, made["token"], tmp_path, STOKER_LEASE_SECONDS="30")
    assert stoker("login", server.url, "--username", "alice", stdin="password123\n")[0] == 0
    local_repo.commit({"ci.sh": "for i in $(seq 1 16); do echo line-$i; sleep 0.5; done\n"})
    build_id = create_project(server, login(server, "alice"), local_repo, "sh ci.sh")["build"]["id"]
    follower = subprocess.Popen([sys.executable, "-m", "stoker", "logs", "-f", str(build_id)], env=stoker.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: _seen(server, build_id, "line-2"), timeout=60, what="the build's first lines")
        stop_server(server)
        time.sleep(2)
        restarted = start_server("serve", {**server.settings, "PORT": server.url.rsplit(":", 1)[1]},
                                 server.log_path.parent)
        server.process = restarted.process
        out, err = follower.communicate(timeout=90)
    finally:
        follower.kill()
        stop_agent(agent)
        stop_server(server)
    lines = [line for line in out.splitlines() if line.startswith("line-")]
    assert lines == [f"line-{i}" for i in range(1, 17)], err
    assert follower.returncode == 0, err


def _seen(server, build_id, text):
    return text in api(server, "GET", f"/api/build/{build_id}/logs", login(server, "alice")).text


def test_lint_names_the_line_at_fault_and_cancel_stops_a_build(server, stoker, tmp_path, local_repo):
    login(server, "alice")
    assert stoker("login", server.url, "--username", "alice", stdin="password123\n")[0] == 0
    good, bad = tmp_path / "good.yml", tmp_path / "bad.yml"
    good.write_text("steps:\n  - name: test\n    commands: [make test]\n")
    bad.write_text("steps:\n  - name: test\n    commands: [make test]\nartifacts: {when: never, paths: [x]}\n")
    code, out, _ = stoker("lint", str(good))
    assert code == 0 and out.strip() == f"{good}: fine (1 step(s))"
    code, out, _ = stoker("lint", str(bad))
    assert code == 1 and out.strip() == f"{bad}:4: .stoker.yml line 4: artifacts.when must be success or always"

    local_repo.commit({"ci.sh": "sleep 60\n"})
    build_id = create_project(server, login(server, "alice"), local_repo, "sh ci.sh")["build"]["id"]
    wait_until(lambda: _status(server, build_id) == "running", timeout=60, what="the build to run")
    code, out, _ = stoker("cancel", str(build_id))
    assert code == 0 and out.strip() == f"Build {build_id} canceled"


def _status(server, build_id):
    return api(server, "GET", f"/api/build/{build_id}", login(server, "alice")).json()["build"]["status"]
