"""Really running `stoker` processes: started, waited for, stopped."""
import os
import socket
import subprocess
import sys
import time

import pytest
import requests

from .services import SECRET, TEST_IMAGE


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, url, process, log_path):
        self.url, self.process, self.log_path = url, process, log_path
        # Each user's token, logged in once: see api.login.
        self.tokens = {}

    def log(self):
        return self.log_path.read_text(errors="replace")


def start_server(command, env_overrides, tmp_path, wait_for_http=True, on=None):
    """Start `stoker <command>` in its own process (on `on`, a host of tests/support/hosts.py, if
    given, listening at its address), wait until it answers, and return it."""
    # The same port again: a server restarted where its clients (agents) know it.
    port = int(env_overrides.get("PORT") or free_port())
    host = on.address if on is not None else env_overrides.get("STOKER_HOST", "127.0.0.1")
    env = {
        **os.environ,
        "PORT": str(port),
        "STOKER_HOST": host,
        "SECRET_KEY": SECRET,
        "STOKER_ALLOW_LOCAL_REPOS": "1",
        "STOKER_BUILD_IMAGE": TEST_IMAGE,
        "STOKER_BUILD_NETWORK": "none",
        "STOKER_BUILD_EGRESS": "0",
        "STOKER_REGISTRATION": "open",
        # Tests pull images from their own registry on loopback, never from the internet.
        "STOKER_PULL_REGISTRIES": "127.0.0.1",
        # Nor do they tell GitHub anything: nothing listens here (a test wanting GitHub's side
        # gives its stand-in's URL, see FakeForge). The server is outside this process's guard
        # against traffic off the machine (offline.py), so its addresses keep it here.
        "STOKER_GITHUB_API_URL": "http://127.0.0.1:9",
        **env_overrides,
    }
    log_path = tmp_path / f"{command}-{port}.log"
    start = on.popen if on is not None else subprocess.Popen
    process = start([sys.executable, "-m", "stoker", command], env=env, stdout=log_path.open("ab"),
                    stderr=subprocess.STDOUT)
    server = LiveServer(f"http://{host}:{port}", process, log_path)
    deadline = time.monotonic() + 20
    while wait_for_http and time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"stoker {command} exited early:\n{server.log()}")
        try:
            requests.get(server.url + "/api/build/1", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    else:
        if wait_for_http:
            process.kill()
            pytest.fail(f"stoker {command} did not answer within 20 s:\n{server.log()}")
    return server


def stop_server(server):
    from app.cli import STOP_GRACE_SECONDS

    server.process.terminate()
    try:
        # Longer than Stoker's own grace, so a slow stop is seen rather than cut short.
        server.process.wait(STOP_GRACE_SECONDS + 10)
    except subprocess.TimeoutExpired:
        server.process.kill()


# What an agent must never be given: the settings only the server holds.
SERVER_ONLY = ("DATABASE_URL", "SECRET_KEY", "JWT_SECRET_KEY", "REDIS_URL", "STOKER_SMTP_URL")


def start_agent(server, token, tmp_path, name="agent", host=None, **settings):
    """`stoker agent` for `server` in a process of its own (in `host`, one of tests/support/hosts.py,
    if given), its environment holding none of the server's settings; its log is `.log()`."""
    env = {key: value for key, value in os.environ.items() if key not in SERVER_ONLY}
    env |= {"STOKER_AGENT_TOKEN": token, "STOKER_DATA_DIR": str(tmp_path / f"{name}-data"),
            "STOKER_BUILD_IMAGE": TEST_IMAGE, "STOKER_BUILD_NETWORK": "none", "STOKER_BUILD_EGRESS": "0", **settings}
    log_path = tmp_path / f"{name}.log"
    command = [sys.executable, "-m", "stoker", "agent", "--server", server.url]
    start = host.popen if host is not None else subprocess.Popen
    process = start(command, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    process.log = lambda: log_path.read_text(errors="replace")
    return process


def stop_agent(process):
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=30)
