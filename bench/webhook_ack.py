"""How fast a signed push is acknowledged, and that each one is built exactly once.

Starts `stoker serve` on loopback with a fresh data dir, sends a bounded number
of signed pushes one after another (builds run meanwhile on the embedded
workers), and prints the acknowledgement times. Not a test: it prints figures.
Servers, ports, repositories and signed pushes are the tests' own (tests/support).

    python bench/webhook_ack.py [--pushes 60] [--database-url postgresql://...]
"""
import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import LocalRepo, create_project, delivery, login, push_payload, start_server, stop_server  # noqa: E402


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
    repo = LocalRepo(work / "repo")
    sha = repo.commit({"ci.sh": "true\n"}, message="bench")

    env = {"STOKER_DATA_DIR": str(work / "data")}
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    server = start_server("serve", env, work)
    url = server.url
    session = requests.Session()
    try:
        token = login(server, f"bench{uuid.uuid4().hex[:6]}")  # a database given may have been used before
        auth = {"Authorization": f"Bearer {token}"}
        created = create_project(server, token, repo, "sh ci.sh", name="bench")
        project, secret = created["project"]["id"], created["project"]["webhookSecret"]

        acks, build_ids = [], set()
        for _ in range(pushes):
            body, headers = delivery(secret, push_payload(sha, message="bench", author="B"))
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
        stop_server(server)


if __name__ == "__main__":
    main()
