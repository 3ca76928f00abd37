"""What a build keeps of its workspace (`artifacts:`): collected after its steps, stored, listed with
the build, served by signed links, read for test counts, removed with the build."""
import hashlib
import time
from pathlib import Path

from app.records import links
from app.records.artifacts import BuildArtifact
from app.records.models import Build
from tests.support import api, create_project, login, start_agent, start_server, stop_agent, stop_server
from tests.support.waiting import wait_until

JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="unit" tests="4">
    <testcase classname="tests.test_math" name="test_adds"/>
    <testcase classname="tests.test_math" name="test_subtracts"/>
    <testcase classname="tests.test_math" name="test_divides"><failure message="ZeroDivisionError"/></testcase>
    <testcase classname="tests.test_math" name="test_later"><skipped/></testcase>
  </testsuite>
</testsuites>
"""

PIPELINE = """steps:
  - name: build
    commands:
      - mkdir -p dist reports
      - printf 'a wheel' > dist/app.whl
      - head -c 100000 /dev/zero > dist/big.whl
      - ln -s /etc/passwd dist/passwd.whl
      - mkfifo dist/pipe.whl
      - cp junit.xml reports/junit.xml
      - exit 1
artifacts:
  paths: ["dist/*.whl"]
  reports: ["reports/*.xml"]
  when: always
"""


def path_of(url):
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_a_builds_files_are_kept_listed_served_by_signed_links_and_go_with_it(
        app, client, accounts, local_repo, drain):
    app.config["STOKER_ARTIFACT_MAX_BYTES"] = 64 * 1024
    headers = accounts.headers()
    local_repo.commit({".stoker.yml": PIPELINE, "junit.xml": JUNIT})
    build_id = create_project(client, accounts.token(), local_repo, None)["build"]["id"]
    drain()
    build = client.get(f"/api/build/{build_id}", headers=headers).get_json()["build"]
    assert build["status"] == "failed"
    assert [(item["name"], item["size"], item["report"]) for item in build["artifacts"]] == [
        ("dist/app.whl", 7, False), ("reports/junit.xml", len(JUNIT), True)]
    assert build["artifacts"][0]["sha256"] == hashlib.sha256(b"a wheel").hexdigest()
    assert build["testReport"] == {"passed": 2, "failed": 1, "skipped": 1, "unreadable": [],
                                   "failedTests": ["tests.test_math.test_divides"]}
    log = client.get(f"/api/build/{build_id}/logs", headers=headers).get_data(as_text=True)
    assert "'dist/passwd.whl' not kept: not a regular file" in log
    assert "'dist/pipe.whl' not kept: not a regular file" in log
    assert "'dist/big.whl' not kept: 0.1 MB, more than 0.0625 MB" in log
    assert "Kept 2 artifact(s)" in log

    # The link opens without a token, as a file to save under its own name, never as a page.
    url = build["artifacts"][0]["downloadUrl"]
    got = client.get(path_of(url))
    assert got.status_code == 200 and got.data == b"a wheel"
    assert got.headers["Content-Disposition"] == "attachment; filename=app.whl"
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    for tampered in (url.replace("signature=", "signature=x"), url.replace("expires=", "expires=9")):
        assert client.get(path_of(tampered)).status_code == 403
    with app.app_context():
        stale = links.url_for_artifact(app, BuildArtifact.get(BuildArtifact.name == "dist/app.whl"),
                                       now=time.time() - 2 * app.config["STOKER_DOWNLOAD_URL_SECONDS"])
    assert client.get(path_of(stale)).status_code == 403
    # Whoever may not read the build gets no link.
    assert client.get(f"/api/build/{build_id}", headers=accounts.headers("mallory")).status_code == 403

    # Deleted with the build: its files too.
    folder = Path(app.config["STOKER_ARTIFACT_DIR"]) / str(build_id)
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        item["sha256"] for item in build["artifacts"])
    assert client.delete(f"/api/build/{build_id}", headers=headers).status_code == 200
    assert not folder.exists() and client.get(path_of(url)).status_code == 404


def test_a_failed_build_keeps_nothing_unless_asked_and_a_report_that_cannot_be_read_says_so(
        app, client, accounts, local_repo, drain):
    headers = accounts.headers()
    local_repo.commit({".stoker.yml": "steps:\n  - {name: b, commands: ['echo x > out.txt', 'exit 1']}\n"
                                      "artifacts: [out.txt]\n"})
    build_id = create_project(client, accounts.token(), local_repo, None)["build"]["id"]
    drain()
    assert client.get(f"/api/build/{build_id}", headers=headers).get_json()["build"]["artifacts"] == []

    local_repo.commit({".stoker.yml": "steps:\n  - {name: b, commands: ['printf \"<!DOCTYPE x>\" > r.xml',"
                                      " 'printf \"<project/>\" > pom.xml']}\n"
                                      "artifacts: {reports: [r.xml, pom.xml]}\n"})
    run = client.post(f"/api/project/projects/{Build.get_by_id(build_id).project_id}/builds", json={},
                      headers=headers).get_json()["build"]["id"]
    drain()
    ran = client.get(f"/api/build/{run}", headers=headers).get_json()["build"]
    # A report the reader cannot take (any XML a glob met, say) fails nothing: it is said unreadable.
    assert ran["status"] == "passed", ran
    report = ran["testReport"]
    assert report["passed"] == 0 and report["unreadable"][0] == "pom.xml: Invalid format."
    assert report["unreadable"][1] == "r.xml: it declares a DTD or entities"


def test_keep_builds_takes_the_artifacts_of_the_builds_it_deletes(app, client, accounts, local_repo, drain):
    headers = accounts.headers()
    local_repo.commit({".stoker.yml": "steps:\n  - {name: b, commands: ['echo x > out.txt']}\nartifacts: [out.txt]\n"})
    made = create_project(client, accounts.token(), local_repo, None)
    drain()
    first = made["build"]["id"]
    assert (Path(app.config["STOKER_ARTIFACT_DIR"]) / str(first)).is_dir()
    client.patch(f"/api/project/projects/{made['project']['id']}", json={"keepBuilds": 1}, headers=headers)
    client.post(f"/api/project/projects/{made['project']['id']}/builds", json={}, headers=headers)
    drain()
    assert Build.get_or_none(Build.id == first) is None
    assert not (Path(app.config["STOKER_ARTIFACT_DIR"]) / str(first)).exists()


def test_an_agent_sends_its_builds_artifacts_to_the_server(tmp_path, local_repo):
    server = start_server("serve", {"DATABASE_URL": f"sqlite:///{tmp_path / 'stoker.db'}",
                                    "STOKER_DATA_DIR": str(tmp_path / "server-data"),
                                    "STOKER_WORKER_CONCURRENCY": "0"}, tmp_path)
    agent = None
    try:
        token = login(server, "alice")
        made = api(server, "POST", "/api/admin/agents", token, json={"name": "builder"}).json()
        agent = start_agent(server, made["token"], tmp_path)
        local_repo.commit({".stoker.yml": "steps:\n  - {name: b, commands: ['mkdir -p out', 'cp junit.xml out/',"
                                          " 'head -c 300000 /dev/urandom > out/blob.bin']}\n"
                                          "artifacts: {paths: ['out/*.bin'], reports: ['out/*.xml']}\n",
                           "junit.xml": JUNIT})
        build_id = create_project(server, token, local_repo, None)["build"]["id"]
        wait_until(lambda: api(server, "GET", f"/api/build/{build_id}", token).json()["build"]["status"] == "passed",
                   timeout=60, what="the build")
        build = api(server, "GET", f"/api/build/{build_id}", token).json()["build"]
        assert [item["name"] for item in build["artifacts"]] == ["out/blob.bin", "out/junit.xml"]
        assert build["testReport"]["failed"] == 1
        blob = api(server, "GET", path_of(build["artifacts"][0]["downloadUrl"]), None)
        assert len(blob.content) == 300000 and hashlib.sha256(blob.content).hexdigest() == build["artifacts"][0]["sha256"]
        # Stored on the server, under the build, by content: the agent keeps none of it.
        assert (tmp_path / "server-data" / "artifacts" / str(build_id) / build["artifacts"][0]["sha256"]).is_file()
    finally:
        if agent is not None:
            stop_agent(agent)
        stop_server(server)
