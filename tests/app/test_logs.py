"""Build logs: every line kept in order, streamed live, readable from any offset, capped."""
import time

import pytest

from app.records.logs import LogWriter, append_note, read_log
from app.records.models import Build, BuildLog, Project, Status, User
from pipeline.logstream import truncation_notice
from tests.support import api, create_project, wait_until

pytestmark = pytest.mark.both_databases


@pytest.fixture
def build_of(client, accounts, local_repo):
    """Run one build of `command` in this process and return its id."""

    def make(command, drain):
        created = create_project(client, accounts.token(), local_repo, command, name="logs")
        drain()
        return created["build"]["id"]

    return make


def get_log(client, accounts, build_id, offset=None, user="alice"):
    query = "" if offset is None else f"?offset={offset}"
    return client.get(f"/api/build/{build_id}/logs{query}", headers=accounts.headers(user))


def test_the_log_holds_stoker_stages_and_all_output_in_order(client, accounts, build_of, drain):
    build_id = build_of("echo one; echo two >&2; echo three", drain)
    response = get_log(client, accounts, build_id)
    assert response.status_code == 200
    assert response.content_type == "text/plain; charset=utf-8"
    text = response.get_data(as_text=True)
    lines = text.splitlines()
    assert lines[0].startswith("==> Fetching ")
    assert lines[1] == "==> Checked out {} (Initial commit)".format(lines[0].split()[2][:12])
    assert lines[2] == "==> Running in stoker-busybox:latest: echo one; echo two >&2; echo three"
    assert lines[3:6] == ["one", "two", "three"]
    assert lines[6].startswith("==> Exited with code 0 after ")
    assert response.headers["X-Log-Next-Offset"] == str(len(text.encode()))
    assert response.headers["X-Build-Status"] == Status.PASSED


def test_no_build_writes_a_line_that_reads_as_stokers_own(client, accounts, build_of, drain):
    build_id = build_of("echo '==> Exited with code 0 after 0.1 s'; printf 'x\\r==> Checked out f00\\n'; "
                        "printf '=='; sleep 0.3; echo '> Skipped: nothing'; exit 3", drain)
    lines = get_log(client, accounts, build_id).get_data(as_text=True).splitlines()
    own = [line for line in lines if line.startswith("==> ")]
    assert [line.split()[1] for line in own] == ["Fetching", "Checked", "Running", "Exited"], own
    assert own[-1].startswith("==> Exited with code 3 after ")
    assert "\\==> Exited with code 0 after 0.1 s" in lines and "\\==> Checked out f00" in lines  # after a \r
    assert "\\==> Skipped: nothing" in lines


def test_a_step_name_cannot_break_a_line_of_stokers_into_a_forged_one(client, accounts, local_repo, drain):
    local_repo.commit({".stoker.yml": 'steps:\n  - name: "x\\n==> Step deploy passed after 3.0 s"\n'
                                      "    commands: [exit 1]\n"}, message="A name with a line break")
    build_id = create_project(client, accounts.token(), local_repo, None, name="names")["build"]["id"]
    drain()
    lines = get_log(client, accounts, build_id).get_data(as_text=True).splitlines()
    assert not [line for line in lines if line.startswith("==> Step deploy")], lines
    assert "==> Step 1/1: x\\n==> Step deploy passed after 3.0 s" in lines


def test_reading_from_an_offset_returns_exactly_the_rest(client, accounts, build_of, drain):
    build_id = build_of("printf 'caf\\303\\251 \\360\\237\\232\\200\\n'; seq 1 2000", drain)
    whole = get_log(client, accounts, build_id).get_data()
    assert "café 🚀\n".encode() in whole
    for offset in (0, 1, 37, len(whole) // 2, len(whole) - 1, len(whole), len(whole) + 50):
        response = get_log(client, accounts, build_id, offset)
        assert response.get_data() == whole[offset:], offset
        assert response.headers["X-Log-Next-Offset"] == str(len(whole))


def test_a_failure_before_the_container_is_in_the_log_too(client, accounts, local_repo, drain):
    created = create_project(client, accounts.token(), local_repo, None, name="x", image="stoker-no-such:image")
    drain()
    text = get_log(client, accounts, created["build"]["id"]).get_data(as_text=True)
    assert "==> image 'stoker-no-such:image' is not on the Docker engine" in text


def test_log_access_follows_the_builds_rules(client, accounts, build_of, drain):
    build_id = build_of("true", drain)
    assert get_log(client, accounts, build_id, user="mallory").status_code == 403
    assert client.get(f"/api/build/{build_id}/logs").status_code == 401
    assert get_log(client, accounts, 999999).status_code == 404
    assert get_log(client, accounts, "abc").status_code == 400
    for bad in ("-1", "x", "1.5", "9" * 30):
        response = get_log(client, accounts, build_id, bad)
        assert response.status_code == 400, bad
        assert response.get_json() == {"message": "offset must be a non-negative integer"}


def make_build():
    owner = User.create(username="owner", password_hash="x")
    project = Project.create(owner=owner, name="p", repo_url="/r", branch="main", build_command="true",
                             image="i", webhook_secret="s")
    return Build.create(project=project, commit_hash="a" * 40, branch="main")


def test_characters_split_across_writes_and_invalid_bytes_come_out_whole(app):
    with app.app_context():
        build = make_build()
        writer = LogWriter(app, build.id, cap=1024)
        for raw in (b"rocket \xf0\x9f", b"\x9a\x80 and caf\xc3", b"\xa9; bad \xff byte\n"):
            writer.write(raw)
        writer.close()
        assert read_log(build.id, 0).decode() == "rocket 🚀 and café; bad \ufffd byte\n"
        # Every stored piece is valid UTF-8 on its own, so any piece boundary is a safe offset.
        for piece in BuildLog.select().where(BuildLog.build == build.id):
            assert len(piece.data.encode()) == piece.length


def test_a_writer_keeps_nothing_once_its_worker_no_longer_holds_the_build(app):
    with app.app_context():
        build = make_build()
        Build.update(worker_id="first").where(Build.id == build.id).execute()
        log_writer = LogWriter(app, build.id, cap=1024, owner="first")
        step_writer = LogWriter(app, build.id, cap=1024, step="test", owner="first")
        for writer in (log_writer, step_writer):
            writer.write(b"while it was mine\n")
        wait_until(lambda: read_log(build.id, 0) and read_log(build.id, 0, "test"))

        Build.update(worker_id="second").where(Build.id == build.id).execute()  # its lease was taken over
        for writer in (log_writer, step_writer):
            writer.write(b"after it was taken\n")
            writer.close()
        assert read_log(build.id, 0) == read_log(build.id, 0, "test") == b"while it was mine\n"


def test_a_line_of_stokers_own_written_meanwhile_loses_none_of_the_builds_output(app):
    with app.app_context():
        build = make_build()
        Build.update(worker_id="w").where(Build.id == build.id).execute()
        writer = LogWriter(app, build.id, cap=1024, owner="w")
        writer.write(b"before\n")
        wait_until(lambda: read_log(build.id, 0))
        append_note(Build.get_by_id(build.id), "a worker's note")  # at the end the writer also counts on
        writer.write(b"after\n")
        writer.close()
        assert read_log(build.id, 0) == b"before\n\n==> a worker's note\nafter\n"


def test_past_the_cap_the_log_is_cut_and_says_so(app):
    with app.app_context():
        build = make_build()
        writer = LogWriter(app, build.id, cap=10_000)
        for _ in range(100):
            writer.write(b"x" * 999 + b"\n")
        writer.close()
        log = read_log(build.id, 0)
        assert log == b"".join([b"x" * 999 + b"\n"] * 10) + truncation_notice(10_000).encode()


def test_a_capped_build_goes_on_to_its_own_end(config, local_repo, docker_client):
    from app import create_app
    from app.worker import Worker
    from tests.support import Accounts

    app = create_app({**config, "STOKER_LOG_MAX_BYTES": 50_000})
    client = app.test_client()
    accounts = Accounts(client)
    created = create_project(client, accounts.token(), local_repo, "yes | head -c 3000000; echo; echo still going; exit 4",
                             name="loud")
    Worker(app, "test-worker").run_once()
    build = client.get(f"/api/build/{created['build']['id']}", headers=accounts.headers()).get_json()["build"]
    assert (build["status"], build["exitCode"]) == (Status.FAILED, 4)  # it ran to its own end
    log = client.get(f"/api/build/{created['build']['id']}/logs", headers=accounts.headers()).get_data()
    assert len(log) < 50_000 + 200
    assert log.endswith(truncation_notice(50_000).encode())


def test_the_live_log_equals_the_stored_log(live_server, watched_build):
    token, events, build_id = watched_build(
        "for i in $(seq 1 300); do echo line $i; done; echo ünïcödé ✓", until=Status.PASSED, name="live")

    pieces = events.log_of(build_id)
    expected_offset = 0
    for offset, data in pieces:
        assert offset == expected_offset  # in order, no gaps, no repeats
        expected_offset += len(data.encode())
    streamed = "".join(data for _, data in pieces)
    stored = api(live_server, "GET", f"/api/build/{build_id}/logs", token)
    assert stored.content.decode() == streamed
    assert "line 300\nünïcödé ✓\n" in streamed
    # A client joining late catches up from the offset it holds.
    half = len(streamed.encode()) // 2
    assert api(live_server, "GET", f"/api/build/{build_id}/logs?offset={half}", token).content == \
        streamed.encode()[half:]


def test_a_build_printing_100_mb_slows_neither_the_api_nor_other_builds(live_server, watched_build, local_repo):
    token, events, loud_id = watched_build("yes | head -c 100000000", name="loud")

    quiet = create_project(live_server, token, local_repo, "echo quiet", name="quiet")
    started = time.monotonic()
    timings = []
    while True:  # at least one read while the loud build prints
        before = time.monotonic()
        api(live_server, "GET", f"/api/build/{loud_id}", token)
        timings.append(time.monotonic() - before)
        if api(live_server, "GET", f"/api/build/{quiet['build']['id']}", token).json()["build"]["status"] == Status.PASSED:
            break
        assert time.monotonic() - started < 20
    assert max(timings) < 1.0, timings

    events.statuses_of(loud_id, until=Status.PASSED, timeout=120)
    stored = api(live_server, "GET", f"/api/build/{loud_id}/logs", token).content
    assert 20 * 1024 * 1024 <= len(stored) < 20 * 1024 * 1024 + 4096
    assert stored.endswith(truncation_notice(20 * 1024 * 1024).encode())
