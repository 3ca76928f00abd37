"""The dashboard's server side: its pages, the libraries it loads, and status badges."""
import re
import xml.etree.ElementTree as ElementTree

import pytest

from app.records.lifecycle import queue_build
from app.records.models import Project, Status

SVG = "{http://www.w3.org/2000/svg}"


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
