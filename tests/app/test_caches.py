"""`cache:` in .stoker.yml: a branch's passing build leaves its paths for the next; a failed build,
a pull request and a tag leave nothing; a fork's pull request neither reads nor writes."""
import time
from pathlib import Path

from app.records.models import Status
from tests.support import api, create_project, login, pull_request, run_now, send

PLAN = """\
cache: [deps]
steps:
  - name: deps
    commands:
      - if [ -f deps/made ]; then echo "warm from $(cat deps/made)"; else echo cold; fi
      - mkdir -p deps && echo "build $STOKER_BUILD_ID" > deps/made
      - test "$BREAK" != yes
"""


def test_a_branch_keeps_its_cache_between_passing_builds_and_no_stranger_touches_it(
        client, accounts, local_repo, drain, config):
    headers = accounts.headers()
    local_repo.commit({".stoker.yml": PLAN}, message="Cache deps")
    made = create_project(client, accounts.token(), local_repo, name="cached", forkPullRequests="build")
    project, first = made["project"], made["build"]["id"]

    def log(build_id):
        return client.get(f"/api/build/{build_id}/logs", headers=headers).get_data(as_text=True)

    def run(**variables):
        build = run_now(client, headers, project["id"], drain, variables=variables)
        return build["id"], build["status"], log(build["id"])

    drain()
    assert "==> No cache yet\n" in log(first) and "\ncold\n" in log(first)
    assert "==> Saved the cache of main (" in log(first)
    second, status, said = run()
    assert status == Status.PASSED and "==> Restored the cache of main\n" in said
    assert f"\nwarm from build {first}\n" in said

    broken, status, said = run(BREAK="yes")
    assert status == Status.FAILED and f"warm from build {second}\n" in said and "Saved the cache" not in said
    for number, fork in ((5, False), (6, True)):
        payload, _ = pull_request(local_repo, number=number, fork=fork)
        proposed = send(client, project, payload, event="pull_request").get_json()["build"]["id"]
        drain()
        said = log(proposed)
        if fork:
            assert "==> No cache: a fork's pull request neither reads nor writes one\n" in said
            assert "\ncold\n" in said
        else:
            assert f"warm from build {second}\n" in said
        assert "Saved the cache" not in said
    _, _, said = run()
    assert f"warm from build {second}\n" in said  # nor the failure, nor either pull request, wrote it

    folder = Path(config["STOKER_DATA_DIR"]) / "caches"
    assert len(list(folder.iterdir())) == 1
    assert client.delete(f"/api/project/projects/{project['id']}", headers=headers).status_code == 200
    assert list(folder.iterdir()) == []


def test_a_sweep_removes_unused_archives_and_the_caches_of_projects_that_are_gone(app, client, accounts, local_repo):
    import os
    import time

    from app.background.caches import folder_of, remove_unused_caches
    from app.records.models import Project

    project = Project.get_by_id(create_project(client, accounts.token(), local_repo)["project"]["id"])
    folder = folder_of(project, app.config["STOKER_DATA_DIR"])
    folder.mkdir(parents=True)
    long_ago, a_while_ago = time.time() - 31 * 24 * 3600, time.time() - 2 * 3600
    for name, when in (("used.tar", None), ("unused.tar", long_ago), ("x.part", a_while_ago), ("y.part", None)):
        (folder / name).write_bytes(b"")
        if when:
            os.utime(folder / name, (when, when))
    gone = folder.parent / "99-0123456789ab"
    gone.mkdir()
    os.utime(gone, (a_while_ago, a_while_ago))
    assert remove_unused_caches(app) == 3
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]
    assert sorted(p.name for p in folder.iterdir()) == ["used.tar", "y.part"]


BIG = """\
cache: [big]
steps:
  - name: fill
    commands: ["test -f big/blob || (mkdir -p big && dd if=/dev/zero of=big/blob bs=1M count=200 2>/dev/null)"]
"""


def test_a_request_is_answered_promptly_while_a_200_mb_cache_is_saved_and_restored(live_server, local_repo):
    local_repo.commit({".stoker.yml": BIG}, message="A big cache")
    token = login(live_server, "alice")
    first = create_project(live_server, token, local_repo, None, name="big")["build"]["id"]
    reads = []

    def build_ends(build_id):
        while True:
            started = time.monotonic()
            build = api(live_server, "GET", f"/api/build/{build_id}", token).json()["build"]
            reads.append(time.monotonic() - started)
            if build["status"] in Status.FINISHED:
                return build
            assert len(reads) < 3000, "the build did not end"
            time.sleep(0.01)

    assert build_ends(first)["status"] == Status.PASSED
    again = api(live_server, "POST", f"/api/build/rebuild/{first}", token).json()["build"]["id"]
    assert build_ends(again)["status"] == Status.PASSED
    logs = [api(live_server, "GET", f"/api/build/{b}/logs", token).text for b in (first, again)]
    assert "==> Saved the cache of main (200.0 MB)" in logs[0] and "==> Restored the cache of main" in logs[1]
    # The archive is written and read on a thread of its own: the server goes on answering meanwhile.
    assert max(reads) < 0.25, sorted(reads)[-5:]
