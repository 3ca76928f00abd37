"""The dashboard's server side: its pages, the words its scripts are given, the libraries it loads, and
status badges."""
import json
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from app.records.lifecycle import queue_build
from app.records.models import AppBuildStatus, Event, Project, Role, Status
from app.records.words import by_kind

SVG = "{http://www.w3.org/2000/svg}"
STATIC = Path(__file__).resolve().parents[2] / "app" / "static"
WORDS = re.compile(r'<script type="application/json" id="words">(.*?)</script>', re.S)


def served_words(client):
    """The words the page carries for its scripts, as the browser reads them (a script's text is not HTML)."""
    found = WORDS.search(client.get("/").get_data(as_text=True))
    assert found, "the page carries no words"
    return json.loads(found.group(1))


@pytest.mark.parametrize("path", ["/", "/projects/new", "/projects/12", "/builds/7"])
def test_every_dashboard_address_serves_the_page_locked_to_its_own_scripts(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = response.get_data(as_text=True)
    # Everything the page loads comes from this server.
    for address in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert address.startswith(("/", "#", "data:")), address


def test_the_page_gives_its_scripts_every_word_as_the_records_spell_it(client):
    words = served_words(client)
    assert words == json.loads(json.dumps(by_kind()))
    assert words["Status"]["ALL"] == list(Status.ALL) and words["Status"]["FINISHED"] == list(Status.FINISHED)
    assert words["AppBuildStatus"]["FINISHED"] == list(AppBuildStatus.FINISHED)
    assert words["Event"]["ALL"] == list(Event.ALL) and words["Event"]["SECRET_DEFAULT"] == list(Event.SECRET_DEFAULT)
    assert words["Role"]["ALL"] == list(Role.ALL)
    # The scripts read them from the page and keep no list of their own.
    for path in STATIC.rglob("*.js"):
        assert not re.search(rf'"{Status.QUEUED}"|"{Event.PULL_REQUEST}"', path.read_text()), path


def test_every_status_a_badge_can_show_has_a_colour():
    css = (STATIC / "dashboard.css").read_text()
    for status in {*Status.ALL, *AppBuildStatus.ALL}:
        assert re.search(rf"\.status-{status}\b[^{{]*{{[^}}]*background", css), status


def test_the_browser_libraries_come_from_the_installed_npm_packages(client):
    for name in ("socket.io.esm.min.js", "ansi_up.js"):
        response = client.get(f"/vendor/{name}")
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "text/javascript"
        assert b"export" in response.get_data()
    for name in ("package.json", "..%2Fpackage.json", "socket.io-client", "ansi_up.ts"):
        assert client.get(f"/vendor/{name}").status_code == 404


def test_a_missing_npm_install_is_named_rather_than_a_blank_page(app, tmp_path):
    app.config["STOKER_NODE_MODULES"] = str(tmp_path / "nowhere")
    response = app.test_client().get("/vendor/ansi_up.js")
    assert response.status_code == 503
    assert "npm ci" in response.get_json()["message"]


def create(client, headers, local_repo, **fields):
    body = {"name": "demo", "repoUrl": local_repo.url, "buildCommand": "sh ci.sh", **fields}
    return client.post("/api/project/projects", json=body, headers=headers).get_json()


def badge_text(response):
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert "no-cache" in response.headers["Cache-Control"]
    svg = ElementTree.fromstring(response.get_data())
    return [t.text for t in svg.iter(f"{SVG}text") if t.text]


def test_a_public_projects_badge_shows_its_branchs_latest_status(client, accounts, local_repo, drain):
    headers = accounts.headers()
    made = create(client, headers, local_repo, public=True)
    url = f"/badge/{made['project']['id']}.svg"

    assert badge_text(client.get(url)) == ["build", "build", Status.QUEUED, Status.QUEUED]
    drain()
    assert Status.PASSED in badge_text(client.get(url))

    # A newer build of another branch does not speak for the project's branch.
    with client.application.app_context():
        queue_build(Project.get_by_id(made["project"]["id"]), commit_hash="f" * 40, branch="feature")
    assert Status.PASSED in badge_text(client.get(url))


def test_badges_of_private_and_missing_projects_are_not_found_alike(client, accounts, local_repo):
    headers = accounts.headers()
    made = create(client, headers, local_repo)
    private = client.get(f"/badge/{made['project']['id']}.svg")
    missing = client.get("/badge/999.svg")
    assert private.status_code == missing.status_code == 404
    assert private.get_json() == missing.get_json() == {"message": "Badge not found"}
    assert client.get("/badge/abc.svg").status_code == 400

    client.patch(f"/api/project/projects/{made['project']['id']}", json={"public": True}, headers=headers)
    assert client.get(f"/badge/{made['project']['id']}.svg").status_code == 200
