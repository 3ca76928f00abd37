"""A build's log as a file to download (`?format=text`): whole or a range of it, streamed."""
import re

import requests

from tests.support import api, create_project, login, start_server, stop_server
from tests.support.waiting import wait_until


def download(client, accounts, build_id, query="", user="alice", **headers):
    return client.get(f"/api/build/{build_id}/logs?format=text{query}", headers={**accounts.headers(user), **headers})


def test_the_log_downloads_as_a_file_whole_or_from_where_a_download_stopped(client, accounts, local_repo, drain):
    # About 3 MB of output: a dozen pieces kept, more than one read's worth.
    local_repo.commit({".stoker.yml": "steps:\n  - name: unit tests/1\n    commands: ['seq 1 400000']\n"})
    build_id = create_project(client, accounts.token(), local_repo, None)["build"]["id"]
    drain()
    whole = client.get(f"/api/build/{build_id}/logs", headers=accounts.headers()).data
    assert len(whole) > 2_500_000

    file = download(client, accounts, build_id)
    assert file.status_code == 200 and file.data == whole
    assert file.headers["Content-Disposition"] == f'attachment; filename="build-{build_id}.log"'
    assert file.headers["Content-Length"] == str(len(whole)) and file.headers["Accept-Ranges"] == "bytes"

    # Resumed where a download stopped, mid-piece; a range inside; past the end, nothing.
    for asked, start, stop in (("bytes=1000000-", 1_000_000, len(whole)), ("bytes=10-19", 10, 20),
                               ("bytes=-100", len(whole) - 100, len(whole))):
        part = download(client, accounts, build_id, Range=asked)
        assert part.status_code == 206 and part.data == whole[start:stop], asked
        assert part.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{len(whole)}"
    beyond = download(client, accounts, build_id, Range=f"bytes={len(whole)}-")
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(whole)}"

    # A step's own log, its name made safe for a file name.
    step = download(client, accounts, build_id, "&step=unit tests/1")
    assert step.headers["Content-Disposition"] == f'attachment; filename="build-{build_id}-unit_tests_1.log"'
    assert step.data.splitlines()[:3] == [b"$ seq 1 400000", b"1", b"2"] and step.data.endswith(b"400000\n")

    # Read as the build is: by whoever may read it, and by no one else.
    assert download(client, accounts, build_id, user="mallory").status_code == 403
    assert client.get(f"/api/build/{build_id}/logs?format=text").status_code == 401
    wrong = client.get(f"/api/build/{build_id}/logs?format=json", headers=accounts.headers())
    assert wrong.status_code == 400 and "format" in wrong.get_json()["message"]


def test_a_20_mb_log_is_sent_without_being_held_whole(tmp_path, local_repo):
    """The server's peak memory grows by far less than the log while it sends it."""
    server = start_server("serve", {"DATABASE_URL": f"sqlite:///{tmp_path / 'stoker.db'}",
                                    "STOKER_DATA_DIR": str(tmp_path / "data"), "STOKER_LOG_MAX_MB": "23"}, tmp_path)
    try:
        token = login(server, "alice")
        local_repo.commit({"ci.sh": "seq 1 2900000\n"})
        build_id = create_project(server, token, local_repo, "sh ci.sh")["build"]["id"]
        wait_until(lambda: api(server, "GET", f"/api/build/{build_id}", token).json()["build"]["status"] == "passed",
                   timeout=120, what="the build")

        def peak():
            status = open(f"/proc/{server.process.pid}/status").read()
            return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024

        before = peak()
        size = 0
        with requests.get(f"{server.url}/api/build/{build_id}/logs?format=text", stream=True, timeout=60,
                          headers={"Authorization": f"Bearer {token}"}) as answer:
            for chunk in answer.iter_content(256 * 1024):
                size += len(chunk)
        assert size > 20_000_000
        assert peak() - before < 8 * 1024 * 1024, (before, peak())
    finally:
        stop_server(server)
