"""How fast a signed push is acknowledged, and that each one is built exactly once.

Starts `stoker serve` on loopback with a fresh data dir, sends a bounded number
of signed pushes one after another (builds run meanwhile on the embedded
workers), and prints the acknowledgement times. Not a test: it prints figures.

    python bench/webhook_ack.py [--pushes 60] [--database-url postgresql://...]
"""
import argparse
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import git
import requests


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=60)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    pushes = max(1, min(args.pushes, 500))

    work = Path(tempfile.mkdtemp(prefix="stoker-bench-"))
    repo = git.Repo.init(work / "repo", initial_branch="main")
    (work / "repo" / "ci.sh").write_text("true\n")
    repo.index.add(["ci.sh"])
    sha = repo.index.commit("bench").hexsha

    port = free_port()
    env = {**os.environ, "PORT": str(port), "STOKER_DATA_DIR": str(work / "data"),
           "STOKER_ALLOW_LOCAL_REPOS": "1", "STOKER_BUILD_NETWORK": "none"}
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    server = subprocess.Popen([sys.executable, "-m", "stoker", "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    session = requests.Session()
    try:
        for _ in range(100):
            try:
                session.get(url + "/api/build/1", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        credentials = {"username": f"bench{uuid.uuid4().hex[:6]}", "password": "benchmark-pass"}
        session.post(url + "/api/auth/register", json=credentials, timeout=10)
        token = session.post(url + "/api/auth/login", json=credentials, timeout=10).json()["accessToken"]
        auth = {"Authorization": f"Bearer {token}"}
        created = session.post(url + "/api/project/projects", headers=auth, timeout=30, json={
            "name": "bench", "repoUrl": str(work / "repo"), "buildCommand": "sh ci.sh"}).json()
        project, secret = created["project"]["id"], created["project"]["webhookSecret"]

        acks, build_ids = [], set()
        for _ in range(pushes):
            body = json.dumps({"ref": "refs/heads/main", "after": sha, "deleted": False,
                               "head_commit": {"id": sha, "message": "bench", "author": {"name": "B"}}}).encode()
            headers = {"Content-Type": "application/json", "X-GitHub-Event": "push",
                       "X-GitHub-Delivery": str(uuid.uuid4()),
                       "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}
            started = time.perf_counter()
            response = session.post(f"{url}/api/webhooks/github/{project}", data=body, headers=headers, timeout=10)
            acks.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 202, response.text
            build_ids.add(response.json()["build"]["id"])

        deadline = time.monotonic() + 30 + pushes * 2
        while time.monotonic() < deadline:
            listed = session.get(url + "/api/project/projects", headers=auth, timeout=10).json()
            builds = listed["projects"][0]["builds"]
            if all(b["status"] in ("passed", "failed") for b in builds):
                break
            time.sleep(0.5)
        passed = sum(b["status"] == "passed" for b in builds if b["id"] in build_ids)
        print(f"database          {args.database_url.split('://')[0] if args.database_url else 'sqlite'}")
        print(f"pushes            {pushes} (one after another, builds running meanwhile)")
        print(f"ack median        {statistics.median(acks):.1f} ms")
        print(f"ack p90 / p99     {percentile(acks, 0.9):.1f} / {percentile(acks, 0.99):.1f} ms")
        print(f"ack max           {max(acks):.1f} ms")
        print(f"builds created    {len(build_ids)} of {pushes}; passed {passed}")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
