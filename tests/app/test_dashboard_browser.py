"""The dashboard in a real browser against a running server: what a person sees and does."""
import hashlib
import hmac
import json
import re

import pytest
import requests

from app.records.models import AppBuildStatus, Status
from app.records.words import by_kind
from tests.support import (
    HOSTILE_NAME,
    LocalRepo,
    api,
    create_project,
    delivery,
    login,
    pull_request,
    push_payload,
    serve_web_app,
    start_server,
    stop_server,
    unavailable,
)
from tests.support.http import Receiver

try:
    from playwright.sync_api import expect
except ImportError:  # the test extras are not installed: a loud skip, or under CI a failure
    unavailable("playwright is not installed (pip install -e '.[test]')")

# The page is the same whatever the database; the API under it is tested on both.
expect.set_options(timeout=20_000)

PASSWORD = "a long password"
HOSTILE_BUILD = (
    "printf '\\033[31mred alert\\033[0m and \\033[1;32mbold green\\033[0m\\n'\n"
    "echo '<script>window.pwned = 1</script>'\n"
    "echo '<img src=x onerror=\"window.pwned = 2\">'\n"
    "echo done\n"
)


def sign_up(page, username):
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()


def signed_in(page, username):
    """`page`, signed in as `username`, whose password is the one tests' accounts have."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("password123")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    return page


def push(server, secret, project_id, repo, message):
    """Commit to `repo` and deliver GitHub's push webhook for it, signed with `secret`."""
    commit = repo.commit({"ci.sh": HOSTILE_BUILD, "NOTE": message}, message=message)
    body, headers = delivery(secret, push_payload(commit, message=message, author="Grace Hopper"))
    response = api(server, "POST", f"/api/webhooks/github/{project_id}", data=body, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()["build"]["id"], commit


def mark_page(page):
    """Set a marker that only survives as long as the page is never reloaded."""
    page.evaluate("window.neverReloaded = true")


def test_a_push_appears_live_and_passes_with_its_log(live_server, open_page, local_repo):
    page = open_page(live_server)
    sign_up(page, "alice")

    # 1. A new project, and the webhook address and secret shown once, with GitHub's steps.
    page.get_by_role("link", name="New project").click()
    page.get_by_label("Name").fill("demo")
    page.get_by_label("Repository URL").fill(local_repo.url)
    page.get_by_label("Build command").fill("sh ci.sh")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="demo is ready")).to_be_visible()
    webhook_url = page.get_by_role("textbox", name="Payload URL").input_value()
    secret = page.get_by_role("textbox", name="Secret").input_value()
    assert len(secret) == 64
    project_id = int(webhook_url.rsplit("/", 1)[1])
    assert webhook_url == f"{live_server.url}/api/webhooks/github/{project_id}"
    expect(page.locator("ol.steps li")).to_have_count(3)
    page.get_by_role("button", name="Copy Secret").click()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    # 2. The project page: the first build passes; then a push appears on top and passes,
    #    all without a reload.
    page.get_by_role("link", name="Go to the project").click()
    rows = page.locator(".build-row")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".status")).to_have_text(Status.PASSED)
    mark_page(page)
    build_id, commit = push(live_server, secret, project_id, local_repo, "Teach the build to shout")
    expect(rows).to_have_count(2)
    newest = rows.first
    expect(newest).to_have_attribute("data-build-id", str(build_id))
    expect(newest.locator(".commit")).to_have_text("Teach the build to shout")
    expect(newest.locator(".author")).to_have_text("Grace Hopper")
    expect(newest.locator(".hash")).to_have_text(commit[:7])
    expect(newest.locator(".status")).to_have_text(Status.PASSED)
    assert page.evaluate("window.neverReloaded") is True
    assert secret not in page.content()  # shown once, and only once

    # 3. The build: its log with colours rendered, and markup in it shown as text.
    newest.locator(".commit").click()
    expect(page).to_have_url(f"{live_server.url}/builds/{build_id}")
    log = page.locator("pre.log")
    expect(log).to_contain_text("done")
    expect(log.locator("span.ansi-red-fg")).to_have_text("red alert")
    expect(log.locator("span.ansi-bright-green-fg, span.ansi-green-fg")).to_have_text("bold green")
    expect(log).to_contain_text("<script>window.pwned = 1</script>")
    expect(log).to_contain_text('<img src=x onerror="window.pwned = 2">')
    assert log.locator("script, img").count() == 0
    assert page.evaluate("window.pwned") is None
    expect(page.locator(".exit-code")).to_have_text("0")
    expect(page.get_by_role("heading", level=1)).to_contain_text(Status.PASSED)
    assert page.evaluate("window.neverReloaded") is True

    # 4. The log saved as a file, as the server keeps it.
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download log").click()
    saved = downloading.value
    assert saved.suggested_filename == f"build-{build_id}.log"
    token = page.evaluate("sessionStorage.getItem('stoker.token')")
    kept = requests.get(f"{live_server.url}/api/build/{build_id}/logs", timeout=10,
                        headers={"Authorization": f"Bearer {token}"}).content
    assert open(saved.path(), "rb").read() == kept and b"red alert" in kept


def test_the_log_of_a_running_build_tails_live_and_cancel_and_rebuild_work(live_server, open_page, local_repo):
    token = login(live_server, "alice")
    command = "echo first line; sleep 1; echo second line; sleep 60"
    build_id = create_project(live_server, token, local_repo, command)["build"]["id"]
    page = signed_in(open_page(live_server), "alice")

    page.goto(f"/builds/{build_id}")
    mark_page(page)
    log = page.locator("pre.log")
    expect(log).to_contain_text("first line")
    expect(log).to_contain_text("second line")  # printed after the page had loaded
    expect(page.locator("h1 .status")).to_have_text(Status.RUNNING)

    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("h1 .status")).to_have_text(Status.CANCELED)
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    expect(page.locator(".build-error")).to_have_text("canceled by alice")

    page.get_by_role("button", name="Rebuild").click()
    expect(page).not_to_have_url(f"{live_server.url}/builds/{build_id}")
    rebuilt = int(page.url.rsplit("/", 1)[1])
    assert rebuilt > build_id
    expect(page.locator("pre.log")).to_contain_text("first line")
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)  # not while it runs
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("h1 .status")).to_have_text(Status.CANCELED)

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(f"{live_server.url}/projects/1")
    assert asked == [f"Delete build #{rebuilt} and its log for good?"]
    expect(page.locator(f'a[href="/builds/{build_id}"]').first).to_be_visible()
    expect(page.locator(f'a[href="/builds/{rebuilt}"]')).to_have_count(0)
    assert requests.get(f"{live_server.url}/api/build/{rebuilt}", timeout=10,
                        headers={"Authorization": f"Bearer {token}"}).status_code == 404
    assert page.evaluate("window.neverReloaded") is True


def socketio_event(frame):
    """A Socket.IO event as the page's websocket received it (`42["name",{...}]`): (name, data), or None."""
    if isinstance(frame, str) and frame.startswith("42["):
        return tuple(json.loads(frame[2:]))
    return None


def test_another_users_browser_sees_none_of_it(live_server, open_page, local_repo, listeners, tmp_path):
    alice = login(live_server, "alice")
    made = create_project(live_server, alice, local_repo, "sh ci.sh")
    project_id, build_id = made["project"]["id"], made["build"]["id"]
    listeners(live_server, alice).statuses_of(build_id, until=Status.PASSED)

    bob = open_page(live_server)
    with bob.expect_websocket() as connected:
        sign_up(bob, "bob")
    live = connected.value
    frames = []  # everything Bob's page hears on its live connection
    live.on("framereceived", lambda frame: frames.append(frame))
    expect(bob.get_by_text("No projects yet")).to_be_visible()

    # Alice's next push builds while Bob watches his (empty) list.
    events = listeners(live_server, alice)
    pushed, _ = push(live_server, made["project"]["webhookSecret"], project_id, local_repo, "Alice's secret work")
    events.statuses_of(pushed, until=Status.PASSED)
    # Then a build of Bob's own: once his page has heard of it, it has heard all the server sent it before.
    bobs_repo = LocalRepo(tmp_path / "bobs")
    bobs_repo.commit({"ci.sh": "true\n"}, message="Bob's own work")
    bob_token = bob.evaluate("sessionStorage.getItem('stoker.token')")
    with live.expect_event("framereceived", predicate=lambda frame: (socketio_event(frame) or ("",))[0]
                           == "buildStatusUpdate"):
        own = create_project(live_server, bob_token, bobs_repo, "true", name="own")["build"]["id"]
    heard = [event for event in map(socketio_event, frames) if event]
    assert heard and {data.get("buildId", data.get("id")) for _, data in heard} == {own}
    expect(bob.locator(f'[data-project-id="{project_id}"]')).to_have_count(0)
    assert "Alice's secret work" not in bob.content()

    for path, message in [(f"/projects/{project_id}", "This project belongs to another user"),
                          (f"/builds/{pushed}", "This build belongs to another user's project")]:
        bob.goto(path)
        expect(bob.get_by_role("alert")).to_have_text(message)
        expect(bob.locator("pre.log")).to_have_count(0)
    assert "Alice's secret work" not in bob.content()


def test_a_link_to_a_build_signs_in_first_and_sign_out_forgets_the_token(live_server, open_page, local_repo):
    token = login(live_server, "alice")
    build_id = create_project(live_server, token, local_repo, "sh ci.sh")["build"]["id"]

    # As from GitHub's "Details" link: the build's own address, in a fresh tab.
    page = open_page(live_server, f"/builds/{build_id}")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid username or password")
    page.get_by_label("Password").fill("password123")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Build #{build_id}")
    assert page.evaluate("sessionStorage.getItem('stoker.token')")

    # The token belongs to this tab alone.
    other_tab = page.context.new_page()
    other_tab.goto(f"/builds/{build_id}")
    expect(other_tab.get_by_role("button", name="Sign in")).to_be_visible()
    other_tab.close()

    token = page.evaluate("sessionStorage.getItem('stoker.token')")
    assert api(live_server, "GET", f"/api/build/{build_id}", token).status_code == 200
    with page.expect_response("**/api/auth/logout") as logout:
        page.get_by_role("button", name="Sign out").click()
    assert logout.value.status == 200
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('stoker.token')") is None
    # Signing out revoked the token on the server too: a copy of it is no use.
    assert api(live_server, "GET", f"/api/build/{build_id}", token).status_code == 401
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.locator("pre.log")).to_have_count(0)


def test_a_phone_sized_screen_and_a_keyboard_are_enough(live_server, open_page, local_repo):
    token = login(live_server, "alice")
    made = create_project(live_server, token, local_repo, HOSTILE_BUILD.replace("\n", "; ") + " echo "
                          + "a-very-long-unbroken-line-" * 20)
    page = open_page(live_server, width=390, height=844)
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("password123")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    expect(page.locator(".latest .status")).to_have_text(Status.PASSED)
    assert_fits(page)

    # Tab to the project and open it, then to its build, with keys alone.
    project_link = page.get_by_role("link", name="demo")
    tab_to(page, project_link)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="demo")).to_be_visible()
    assert_fits(page)
    build_link = page.locator(f'.build-row[data-build-id="{made["build"]["id"]}"] .commit')
    tab_to(page, build_link)
    page.keyboard.press("Enter")
    expect(page.locator("pre.log")).to_contain_text("a-very-long-unbroken-line-")
    assert_fits(page)


def tab_to(page, target, most=40):
    for _ in range(most):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    pytest.fail(f"{target} was never reached with the Tab key")


def assert_fits(page):
    """Nothing sticks out sideways: the page never scrolls horizontally."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"


def test_a_public_badge_is_switched_on_from_the_project_page(live_server, open_page, local_repo, listeners):
    token = login(live_server, "alice")
    made = create_project(live_server, token, local_repo, "sh ci.sh")
    listeners(live_server, token).statuses_of(made["build"]["id"], until=Status.PASSED)
    badge = f"/badge/{made['project']['id']}.svg"
    assert api(live_server, "GET", badge).status_code == 404

    page = signed_in(open_page(live_server), "alice")
    page.get_by_role("link", name="demo").click()
    page.get_by_label("Public status badge").check()
    expect(page.get_by_role("img", name="build status badge")).to_be_visible()
    expect(page.locator("#badge-markdown")).to_have_value(f"![build]({live_server.url}{badge})")
    answer = api(live_server, "GET", badge)
    assert answer.status_code == 200 and Status.PASSED in answer.text

    page.get_by_label("Public status badge").uncheck()
    expect(page.get_by_role("img", name="build status badge")).to_have_count(0)
    assert api(live_server, "GET", badge).status_code == 404


def test_an_app_build_asked_for_on_the_page_goes_live_to_its_download(open_page, database_url, tmp_path,
                                                                     android_image):
    from androguard.core.apk import APK

    web_app = serve_web_app()
    server = start_server("serve", {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "apps"),
                                    "STOKER_ALLOW_PRIVATE_APP_URLS": "1"}, tmp_path)
    try:
        page = open_page(server)
        sign_up(page, "alice")
        page.get_by_role("link", name="App builds").click()
        expect(page.get_by_role("heading", name="App builds", exact=True)).to_be_visible()
        expect(page.get_by_text("No app builds yet.")).to_be_visible()
        mark_page(page)

        page.get_by_label("Web app URL").fill(web_app.url + "/")
        page.get_by_label("Name on the home screen").fill(HOSTILE_NAME)
        page.get_by_label("Bundle id").fill("com.example.pageapp")
        page.get_by_label("camera").check()
        page.get_by_role("button", name="Build the app").click()

        card = page.locator(".app-build").first
        expect(card.locator(".app-name")).to_have_text(HOSTILE_NAME)
        expect(card.locator(".status")).to_have_text("success", timeout=60_000)
        expect(card.get_by_role("link", name="Download Android App Bundle (for Google Play)")).to_be_visible()
        download = card.get_by_role("link", name="Download Android APK (to install and try)")
        expect(download).to_be_visible()
        assert page.evaluate("window.neverReloaded") is True
        apk = requests.get(download.get_attribute("href"), timeout=10)
        assert APK(apk.content, raw=True).get_package() == "com.example.pageapp"
        # Only what an iOS WebView can use is offered for iOS.
        page.get_by_label("Platform").select_option("ios")
        expect(page.get_by_label("vibrate")).to_be_hidden()
        expect(page.get_by_label("camera")).to_be_checked()
        page.get_by_label("Platform").select_option("android")

        # The same version again is refused, and the page says why.
        page.get_by_role("button", name="Build the app").click()
        expect(page.get_by_role("alert")).to_contain_text("higher than 1.0.0")
        expect(page.locator(".app-build")).to_have_count(1)
    finally:
        stop_server(server)
        web_app.close()


def test_a_forks_blocked_pull_request_is_approved_from_its_page_and_runs(live_server, open_page, local_repo):
    token = login(live_server, "alice")
    project = create_project(live_server, token, local_repo, "echo from the fork")["project"]
    payload, _ = pull_request(local_repo, number=12, fork=True)
    body, headers = delivery(project["webhookSecret"], payload, event="pull_request")
    answer = api(live_server, "POST", f"/api/webhooks/github/{project['id']}", data=body, headers=headers)
    assert answer.status_code == 202 and answer.json()["build"]["status"] == Status.BLOCKED, answer.text
    build_id = answer.json()["build"]["id"]

    page = signed_in(open_page(live_server), "alice")
    page.goto(f"/builds/{build_id}")
    expect(page.locator("h1 .status")).to_have_text(Status.BLOCKED)
    expect(page.locator(".event")).to_have_text(
        f"PR #12 {payload['pull_request']['title']} (from stranger/Hello-World)")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("h1 .status")).to_have_text(Status.PASSED)
    expect(page.locator("pre.log")).to_contain_text("from the fork")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)


def test_a_build_is_run_with_variables_and_settings_saved_from_the_project_page(live_server, open_page, local_repo):
    token = login(live_server, "alice")
    project = create_project(live_server, token, local_repo, 'echo "deploying to $TARGET"')["project"]
    page = signed_in(open_page(live_server), "alice")
    page.goto(f"/projects/{project['id']}")

    page.get_by_text("Settings", exact=True).click()
    page.get_by_label("Name", exact=True).fill("renamed")
    page.get_by_label("Branches that build (globs, comma-separated)").fill("main, release/*")
    page.get_by_label("Build tags").check()
    page.get_by_label("Pull requests from forks").select_option("ignore")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_have_text("Saved")
    expect(page.get_by_role("heading", name="renamed")).to_be_visible()
    saved = api(live_server, "GET", f"/api/project/projects/{project['id']}", token).json()["project"]
    assert (saved["name"], saved["branches"], saved["tags"], saved["forkPullRequests"]) == (
        "renamed", ["main", "release/*"], True, "ignore")

    page.get_by_text("Schedules", exact=True).click()
    page.get_by_label("Schedule name").fill("nightly")
    page.get_by_label("Cron line (UTC, five fields)").fill("0 3 * * *")
    page.get_by_role("button", name="Add schedule").click()
    expect(page.locator(".schedules")).to_contain_text("0 3 * * * nightly on main")
    page.get_by_role("button", name="Delete nightly").click()
    expect(page.locator(".schedules li")).to_have_count(0)
    assert api(live_server, "GET", f"/api/project/projects/{project['id']}/schedules", token).json()["schedules"] == []

    page.get_by_text("Run a build", exact=True).click()
    page.get_by_label("Variables").fill("TARGET=staging")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("h1 .status")).to_have_text(Status.PASSED)
    expect(page.locator(".event")).to_have_text("manual by alice")
    expect(page.locator("pre.log")).to_contain_text("deploying to staging")


def test_a_team_shares_a_project_from_its_page_and_an_admin_deletes_it(live_server, open_page, local_repo):
    alice, bob = login(live_server, "alice"), login(live_server, "bob")
    project = create_project(live_server, alice, local_repo, "true", name="shared")["project"]
    page = signed_in(open_page(live_server), "alice")
    page.goto(f"/projects/{project['id']}")
    expect(page.locator("dd.role")).to_have_text("admin")

    page.get_by_text("Members", exact=True).click()
    page.get_by_label("Username", exact=True).fill("bob")
    page.get_by_label("Role", exact=True).select_option("write")
    page.get_by_role("button", name="Add member").click()
    expect(page.locator('[data-member="bob"]')).to_be_visible()
    page.get_by_text("Secrets", exact=True).click()
    page.get_by_label("Secret name").fill("DEPLOY_TOKEN")
    page.get_by_label("Value (at least 4 characters)").fill("s3cret-value")
    page.get_by_label("pull request", exact=True).check()
    page.get_by_role("button", name="Save secret").click()
    expect(page.locator(".secrets")).to_contain_text("DEPLOY_TOKEN for push, tag, pull_request, manual, cron")
    page.get_by_role("button", name="Delete DEPLOY_TOKEN").click()
    expect(page.locator(".secrets")).to_have_text("No secrets")
    assert api(live_server, "GET", f"/api/project/projects/{project['id']}/secrets", alice).json()["secrets"] == []
    members = api(live_server, "GET", f"/api/project/projects/{project['id']}/members", bob).json()["members"]
    assert [(m["username"], m["role"]) for m in members] == [("alice", "admin"), ("bob", "write")]

    # Bob sees what his role lets him do, and nothing an admin does.
    other = open_page(live_server)
    signed_in(other, "bob").goto(f"/projects/{project['id']}")
    expect(other.locator("dd.role")).to_have_text("write")
    expect(other.get_by_text("Run a build", exact=True)).to_be_visible()
    for panel in ("Settings", "Secrets", "Delete project", "Audit trail"):
        expect(other.get_by_text(panel, exact=True)).to_have_count(0)
    # A reader sees a build but no button to act on it.
    assert api(live_server, "PUT", f"/api/project/projects/{project['id']}/members/bob", alice,
               json={"role": "read"}).status_code == 200
    other.goto("/builds/1")
    expect(other.locator("h1 .status")).to_have_text(Status.PASSED)
    expect(other.get_by_role("button", name="Rebuild")).to_have_count(0)

    page.get_by_text("Audit trail", exact=True).click()
    expect(page.locator(".audit")).to_contain_text("member.add bob: write")
    page.get_by_text("Delete project", exact=True).click()
    delete = page.get_by_role("button", name="Delete this project")
    expect(delete).to_be_disabled()
    page.get_by_label("Type shared to confirm").fill("share")
    expect(delete).to_be_disabled()
    page.get_by_label("Type shared to confirm").fill("shared")
    delete.click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    expect(page.locator("#banner")).to_have_text("shared was deleted")
    assert api(live_server, "GET", f"/api/project/projects/{project['id']}", alice).status_code == 404


def test_api_tokens_and_users_are_managed_from_their_pages(live_server, open_page):
    login(live_server, "alice")  # the first account: Stoker's admin
    bob = login(live_server, "bob")
    page = signed_in(open_page(live_server), "alice")
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    page.get_by_label("Token name").fill("deploy script")
    page.get_by_label("Scope").select_option("read")
    page.get_by_role("button", name="Make a token").click()
    value = page.get_by_label("Token deploy script").input_value()
    assert value.startswith("stk_")
    assert requests.get(f"{live_server.url}/api/project/projects", timeout=10,
                        headers={"Authorization": f"Bearer {value}"}).status_code == 200
    page.get_by_role("button", name="Revoke deploy script").click()
    expect(page.locator(".tokens")).to_have_text("No API tokens")
    assert requests.get(f"{live_server.url}/api/project/projects", timeout=10,
                        headers={"Authorization": f"Bearer {value}"}).status_code == 401

    page.get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    page.locator('[data-user="bob"]').get_by_label("Disabled").check()
    expect(page.locator('[data-user="bob"]').get_by_label("Disabled")).to_be_checked()
    assert api(live_server, "GET", "/api/project/projects", bob).status_code == 401
    page.get_by_role("button", name="Make an invitation").click()
    assert len(page.get_by_label("Invitation code (good for one registration)").input_value()) >= 24

    # A build agent is added, its token shown once, and revoked.
    page.get_by_label("Agent name").fill("builder-1")
    page.get_by_label("Labels (comma-separated)").fill("arch=arm64, gpu")
    page.get_by_role("button", name="Add an agent").click()
    agent_token = page.get_by_label("Token of builder-1").input_value()
    assert agent_token.startswith("sta_")
    expect(page.locator('[data-agent="builder-1"]')).to_contain_text("builder-1 (arch=arm64, gpu) running 0 of 0")
    page.get_by_role("button", name="Revoke builder-1").click()
    expect(page.locator(".agents")).to_have_text("No agents")
    assert requests.post(f"{live_server.url}/api/agent/jobs/next", json={"wait": 0}, timeout=10,
                         headers={"Authorization": f"Bearer {agent_token}"}).status_code == 401

    # Someone who is not an admin sees no Users link, and the page refuses them.
    carol = open_page(live_server)
    login(live_server, "carol")
    signed_in(carol, "carol")
    expect(carol.get_by_role("link", name="API tokens")).to_be_visible()
    expect(carol.get_by_role("link", name="Users")).to_be_hidden()
    carol.goto("/admin")
    expect(carol.locator("main .error")).to_contain_text("Only an admin")


def test_each_steps_own_log_opens_from_the_build_page_and_registries_are_kept_from_the_project_page(
        live_server, open_page, local_repo):
    token = login(live_server, "alice")
    local_repo.commit({".stoker.yml": "steps:\n  - {name: left, depends_on: [], commands: 'echo from the left'}\n"
                                      "  - {name: right, depends_on: [], commands: 'echo from the right'}\n"},
                      message="Two sides")
    made = create_project(live_server, token, local_repo)
    page = signed_in(open_page(live_server), "alice")
    page.goto(f"/builds/{made['build']['id']}")
    expect(page.locator("h1 .status")).to_have_text(Status.PASSED)
    expect(page.locator("pre.log").first).to_contain_text("[left] from the left")
    page.get_by_role("button", name="Show the log of step right").click()
    own = page.get_by_label("Log of step right", exact=True)
    expect(own).to_contain_text("from the right")
    expect(own).not_to_contain_text("from the left")

    page.goto(f"/projects/{made['project']['id']}")
    page.get_by_text("Registries", exact=True).click()
    page.get_by_label("Registry", exact=True).fill("registry.example.com:5000")
    page.get_by_label("Registry username").fill("ci")
    page.get_by_label("Registry password").fill("never-shown-again")
    page.get_by_role("button", name="Save registry").click()
    expect(page.locator('[data-registry="registry.example.com:5000"]')).to_contain_text("as ci")
    expect(page.locator("main")).not_to_contain_text("never-shown-again")
    page.get_by_role("button", name="Forget registry.example.com:5000").click()
    expect(page.locator(".registries")).to_have_text("No registries")


def test_a_webhook_is_added_tested_and_removed_from_the_project_page(live_server, open_page, local_repo):
    receiver = Receiver()
    try:
        made = create_project(live_server, login(live_server, "alice"), local_repo)
        page = signed_in(open_page(live_server), "alice")
        page.goto(f"/projects/{made['project']['id']}")
        page.get_by_text("Webhooks", exact=True).click()
        page.get_by_label("Webhook URL").fill(receiver.url)
        page.get_by_label("canceled").check()
        page.get_by_role("button", name="Add webhook").click()
        secret = page.locator(".hook-secret")
        expect(secret).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
        key = secret.text_content()
        row = page.locator(".hooks li").first
        expect(row).to_contain_text("on failed, fixed, canceled")
        row.get_by_role("button", name=f"Send a test to {receiver.url}").click()
        expect(page.locator(".hook-result")).to_have_text("The target took the test")
        sent, body = receiver.seen[-1]
        expected = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
        assert sent["X-Stoker-Event"] == "ping" and sent["X-Stoker-Signature-256"] == f"sha256={expected}"
        page.get_by_role("button", name=f"Remove {receiver.url}").click()
        expect(page.locator(".hooks")).to_have_text("No webhooks")
    finally:
        receiver.close()


WORDS = re.compile(r'(<script type="application/json" id="words">)(.*?)(</script>)', re.S)


def test_the_page_badges_statuses_in_the_words_the_server_gave_it(live_server, open_page):
    page = open_page(live_server)
    assert json.loads(page.locator("#words").text_content()) == json.loads(json.dumps(by_kind()))
    badges = "(words) => import('/static/dom.js').then((dom) => words.map((word) => dom.statusBadge(word).className))"
    shown = [*Status.ALL, *AppBuildStatus.ALL]
    assert page.evaluate(badges, shown) == [f"status status-{word}" for word in shown]

    # A status the server adds, the scripts take up as they are served it; one it does not give, they
    # show as unknown.
    def with_a_new_status(route):
        response = route.fetch()
        head, words, tail = WORDS.search(response.text()).groups()
        words = json.loads(words)
        words["Status"]["ALL"].append("paused")
        route.fulfill(response=response, body=WORDS.sub(lambda _: head + json.dumps(words) + tail, response.text()))

    page.route(f"{live_server.url}/", with_a_new_status)
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate(badges, ["paused", "hibernating"]) == ["status status-paused", "status status-unknown"]


def test_a_project_on_a_self_hosted_forge_is_made_with_that_forges_steps(live_server, open_page, local_repo):
    page = open_page(live_server)
    sign_up(page, "alice")
    page.get_by_role("link", name="New project").click()
    expect(page.get_by_label("Forge address")).to_be_hidden()
    page.get_by_label("Name").fill("on-forgejo")
    page.get_by_label("Forge", exact=True).select_option("forgejo")
    page.get_by_label("Forge address").fill("https://codeberg.org")
    page.get_by_label("Repository URL").fill(local_repo.url)
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="on-forgejo is ready")).to_be_visible()
    webhook_url = page.get_by_role("textbox", name="Payload URL").input_value()
    assert webhook_url.startswith(f"{live_server.url}/api/webhooks/forgejo/")
    expect(page.get_by_text("add a webhook in Forgejo")).to_be_visible()
    expect(page.locator("ol.steps li").first).to_contain_text("Add webhook \u2192 Forgejo")


def test_a_forge_account_is_connected_and_a_repository_made_a_project_from_its_list(
        open_page, local_repo, database_url, tmp_path):
    from tests.support.forge_server import ForgeServer, Repository

    forge = ForgeServer("gitea", "gitea-token-of-alice", repositories=[Repository("team/app", local_repo.url)])
    server = start_server("serve", {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "forge-data"),
                                    "STOKER_ALLOW_PRIVATE_REPO_HOSTS": "1"}, tmp_path)
    try:
        page = open_page(server)
        sign_up(page, "alice")
        page.goto(f"{server.url}/tokens")
        page.get_by_label("Forge", exact=True).select_option("gitea")
        page.get_by_label("Forge address").fill(forge.url)
        page.get_by_label("Token", exact=True).fill("gitea-token-of-alice")
        page.get_by_role("button", name="Connect").click()
        expect(page.locator("ul.forges li")).to_contain_text("Gitea as alice")

        page.goto(f"{server.url}/projects/new")
        expect(page.get_by_label("From your forge")).to_have_value("gitea team/app")
        page.get_by_role("button", name="Create from forge").click()
        expect(page.get_by_role("heading", name="app is ready")).to_be_visible()
        expect(page.get_by_text("Its webhook is in place on Gitea")).to_be_visible()
        assert len(forge.repositories["team/app"].hooks) == 1
        assert "gitea-token-of-alice" not in page.content()
    finally:
        stop_server(server)
        forge.close()


def test_a_person_signs_in_with_a_provider_by_invitation_and_links_one_to_an_account(
        open_page, database_url, tmp_path):
    from tests.support.oauth_provider import OAuthProvider

    with OAuthProvider() as provider:
        provider.sign_in(99, "erin", "erin@example.com", "Erin")
        prefix = "STOKER_OAUTH_KEYCLOAK_"
        server = start_server("serve", {
            "DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "oauth-data"),
            "STOKER_REGISTRATION": "invitation", prefix + "KIND": "oidc", prefix + "ISSUER": provider.url,
            prefix + "CLIENT_ID": provider.client_id, prefix + "CLIENT_SECRET": provider.client_secret,
        }, tmp_path)
        try:
            admin = login(server, "alice")
            # A link that lands with a sign-in's words, sent by someone else, is not read.
            page = open_page(server, "/#signInError=Your%20session%20ended%3A%20sign%20in%20at%20evil.example")
            expect(page.get_by_role("heading", name="Sign in to Stoker")).to_be_visible()
            expect(page.locator("#banner")).to_be_hidden()
            assert page.url == f"{server.url}/"
            # Not invited: told why, and not signed in.
            page.get_by_role("button", name="Sign in with Keycloak").click()
            expect(page.locator("#banner")).to_contain_text("registration is by invitation")
            expect(page.get_by_role("heading", name="Sign in to Stoker")).to_be_visible()

            code = api(server, "POST", "/api/admin/invitations", admin, json={}).json()["invitation"]["code"]
            page.get_by_label("Invitation code").fill(code)
            page.get_by_role("button", name="Sign in with Keycloak").click()
            expect(page.get_by_role("heading", name="Projects")).to_be_visible()
            # The login token came in the address's fragment, and is gone from it.
            assert page.url == f"{server.url}/"

            # Bob, signed in with his password, links the provider from his tokens page; then it signs in as him.
            code = api(server, "POST", "/api/admin/invitations", admin, json={}).json()["invitation"]["code"]
            api(server, "POST", "/api/auth/register", json={"username": "bob", "password": "password123",
                                                            "invitation": code})
            bob = signed_in(open_page(server), "bob")
            provider.sign_in(100, "bobby")
            bob.goto(f"{server.url}/tokens")
            bob.get_by_role("button", name="Link Keycloak").click()
            expect(bob.locator("#banner")).to_contain_text("Keycloak is linked")
            expect(bob.locator("ul.identities li")).to_contain_text("keycloak as bobby")
            again = open_page(server)
            again.get_by_role("button", name="Sign in with Keycloak").click()
            expect(again.get_by_role("heading", name="Projects")).to_be_visible()
            again.goto(f"{server.url}/tokens")
            expect(again.locator("ul.identities li")).to_contain_text("keycloak as bobby")
        finally:
            stop_server(server)
        for tab in (page, bob, again):
            # The tabs went to the provider and back, as they should: not a stray request.
            tab.problems[:] = [problem for problem in tab.problems if provider.url not in problem]
