"""What a build prints reaches people only as text, with its secrets masked on every path
out: the stored log, live log events, status events, the build's error and GitHub statuses;
and no address under the dashboard's file routes serves a file from outside them."""
import json

import pytest

from app.records.models import GithubStatus, Status
from tests.support import api, create_project, login, raw_get, start_server, stop_server, wait_until

SECRET_VALUE = "s3cr3t-Value-9f2c"
LEAKY_BUILD = (
    'echo "plain: $API_KEY"\n'
    # in two writes, apart in time, with nothing between them
    'printf "%s" "$(echo "$API_KEY" | cut -c1-6)"; sleep 0.3; printf "%s\\n" "$(echo "$API_KEY" | cut -c7-)"\n'
    'echo "to stderr: $API_KEY" >&2\n'
    "echo '<script>alert(1)</script>'\n"
    'printf "\\033[31m$API_KEY\\033[0m\\n"\n'
    'exit 3\n'
)


# A pipeline file whose refusal quotes the secret: the build fails before its command runs, with
# an error that would carry the value to the build, its status events and GitHub.
QUOTING_PLAN = f"""steps:
  - name: build
    commands: [echo never runs]
    depends_on: [{SECRET_VALUE}]
"""


def test_a_secret_is_masked_on_every_path_out(database_url, tmp_path, docker_client, github, listeners, local_repo,
                                              live_database):
    fake = github()
    live_server = start_server("serve", {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "live"),
                                         "STOKER_GITHUB_API_URL": fake.url}, tmp_path)
    try:
        token = login(live_server, "alice")
        events = listeners(live_server, token)
        local_repo.commit({"leak.sh": LEAKY_BUILD}, message="Print the secret")
        made = create_project(live_server, token, local_repo, f"sh leak.sh # {SECRET_VALUE}",
                              githubRepo="octo/demo", githubToken="ghp_not-a-real-token")
        project_id, build_id = made["project"]["id"], made["build"]["id"]
        api(live_server, "PUT", f"/api/project/projects/{project_id}/secrets/API_KEY", token,
            json={"value": SECRET_VALUE})
        rebuilt = api(live_server, "POST", f"/api/build/rebuild/{build_id}", token).json()["build"]["id"]
        assert events.statuses_of(rebuilt, until=Status.FAILED)[-1] == Status.FAILED
        plan_commit = local_repo.commit({".stoker.yml": QUOTING_PLAN}, message="Quote the secret")
        refused = api(live_server, "POST", f"/api/project/projects/{project_id}/builds", token,
                      json={}).json()["build"]["id"]
        assert events.statuses_of(refused, until=Status.FAILED)[-1] == Status.FAILED

        log = api(live_server, "GET", f"/api/build/{rebuilt}/logs", token).text
        assert "plain: ***" in log and "to stderr: ***" in log and "<script>alert(1)</script>" in log
        assert "# ***" in log  # the command itself, as Stoker echoes it
        refused_log = api(live_server, "GET", f"/api/build/{refused}/logs", token).text
        builds = [api(live_server, "GET", f"/api/build/{each}", token).json()["build"] for each in (rebuilt, refused)]
        assert builds[1]["exitCode"] is None and "***" in builds[1]["error"]  # the value was there to leak
        live_log = "".join(data for each in (rebuilt, refused) for _, data in events.log_of(each))
        statuses = [event for event in events.heard if event["id"] in (rebuilt, refused)]
        assert any("***" in (event["error"] or "") for event in statuses)
        with live_database():
            descriptions = [s.description for s in GithubStatus.select()]
        assert any(d.startswith("Failed: ") and "***" in d for d in descriptions)
        # What reached GitHub's side: the refused build's failure, with its error, and no secret.
        wait_until(lambda: any(call["path"].endswith(plan_commit) and call["state"] == "failure"
                               for call in fake.calls),
                   timeout=20, what=lambda: (fake.calls, live_server.log()[-3000:]))
    finally:
        stop_server(live_server)
    assert {call["auth"] for call in fake.calls} == {"Bearer ghp_not-a-real-token"}
    for place, text in [("log", log), ("refused build's log", refused_log), ("builds", json.dumps(builds)),
                        ("live log", live_log), ("status events", json.dumps(statuses)),
                        ("GitHub statuses", json.dumps(descriptions)), ("sent to GitHub", json.dumps(fake.calls))]:
        assert SECRET_VALUE not in text, place


PATH_TRICKS = [
    "/static/../config.py", "/static/..%2fconfig.py", "/static/%2e%2e/config.py", "/static/%2e%2e%2fconfig.py",
    "/static/....//config.py", "/static//etc/passwd", "/static/%2fetc%2fpasswd", "/static/..\\config.py",
    "/static/views/../../config.py", "/static/views/%2e%2e/%2e%2e/openapi.yaml",
    "/vendor/../../package.json", "/vendor/..%2f..%2fpackage.json", "/vendor/%2e%2e%2fpackage.json",
    "/vendor/%2fetc%2fpasswd", "/vendor/socket.io-client%2fpackage.json", "/vendor/ansi_up.js%00.json",
    "/badge/1.svg/../../app/config.py", "/badge/..%2f..%2fapp%2fconfig.py.svg",
]


def test_no_address_under_the_file_routes_serves_a_file_from_outside_them(live_server):
    assert raw_get(live_server, "/static/dashboard.js")[0] == 200  # the routes do serve their own
    for path in PATH_TRICKS:
        status, body = raw_get(live_server, path)
        assert status in (400, 404), f"{path} answered {status}"
        for leak in ("root:x:0:0", "def from_env", "openapi: 3", '"dependencies"'):
            assert leak not in body, f"{path} served a file from outside ({leak})"


@pytest.mark.parametrize("offset", ["-1", "1e3", "0x10", "1.0", " 1", "%2e%2e", "../1", "99999999999999999999"])
def test_the_log_route_takes_only_a_byte_offset(client, accounts, local_repo, offset):
    headers = accounts.headers()
    made = create_project(client, accounts.token(), local_repo, "true")
    response = client.get(f"/api/build/{made['build']['id']}/logs?offset={offset}", headers=headers)
    assert response.status_code == 400
