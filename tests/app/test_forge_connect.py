"""A repository connected in one click: a user connects their forge account with a token, lists the
repositories they may administer, and makes one a project; Stoker adds its webhook on the forge (and
takes it off with the project), against a local server answering as each forge's API does."""
import pytest

from app.records.models import ForgeAccount, Project
from tests.support.forge_server import ForgeServer, Repository

TOKEN = "forge-token-of-alice-1"
KINDS = ["github", "gitea", "forgejo", "gitlab"]


@pytest.fixture(params=KINDS)
def forge(request, app, local_repo):
    kind = request.param
    fake = ForgeServer(kind, TOKEN, repositories=[
        Repository("team/app", local_repo.url, private=True),
        Repository("team/docs", local_repo.url),
        Repository("team/lib", local_repo.url),
        Repository("others/theirs", local_repo.url, admin=False),
        Repository("team/closed", local_repo.url, refuses_hooks=True),
        Repository("team/elsewhere", "https://elsewhere.example/team/elsewhere.git"),
    ])
    if kind == "github":
        app.config["STOKER_GITHUB_API_URL"] = fake.url
    app.config["STOKER_ALLOW_PRIVATE_REPO_HOSTS"] = True
    yield fake
    fake.close()


def connect(client, headers, forge, token=TOKEN):
    body = {"token": token} if forge.kind == "github" else {"token": token, "url": forge.url}
    return client.put(f"/api/forges/{forge.kind}", json=body, headers=headers)


def test_a_repository_is_connected_from_the_list_and_disconnected_with_its_project(client, accounts, forge, drain):
    headers = accounts.headers()
    refused = connect(client, headers, forge, token="not-the-token")
    assert refused.status_code == 400 and "refused the token" in refused.get_json()["message"]
    assert ForgeAccount.select().count() == 0

    answer = connect(client, headers, forge)
    assert answer.status_code == 201 and answer.get_json()["forge"]["login"] == "alice"
    assert TOKEN not in answer.get_data(as_text=True)

    listed = client.get(f"/api/forges/{forge.kind}/repositories", headers=headers).get_json()["repositories"]
    # Those it may administer, every page of them (the forge gives two at a time), by name.
    assert [repo["forgeRepo"] for repo in listed] == ["team/app", "team/closed", "team/docs", "team/elsewhere",
                                                      "team/lib"]
    assert listed[0]["private"] is True

    made = client.post("/api/project/projects", headers=headers,
                       json={"forge": forge.kind, "forgeRepo": "team/app", "connect": True})
    assert made.status_code == 201, made.get_json()
    project, secret = made.get_json()["project"], made.get_json()["project"]["webhookSecret"]
    assert (project["name"], project["forgeRepo"], project["reportsToForge"]) == ("app", "team/app", True)
    assert project["hasRepoToken"] is True  # a private repository is fetched with the account's token
    [hook] = forge.repositories["team/app"].hooks.values()
    if forge.kind == "gitlab":
        assert (hook["url"], hook["token"], hook["push_events"], hook["merge_requests_events"]) == (
            project["webhookUrl"], secret, True, True)
    else:
        assert (hook["config"]["url"], hook["config"]["secret"], hook["config"]["content_type"]) == (
            project["webhookUrl"], secret, "json")
        assert sorted(hook["events"]) == ["pull_request", "push"]
    assert made.get_json()["build"]["status"] == "queued"
    drain()

    # A new secret goes into the webhook on the forge too.
    rotated = client.post(f"/api/project/projects/{project['id']}/webhook-secret", headers=headers)
    assert rotated.status_code == 201 and "and in its webhook on" in rotated.get_json()["message"]
    [(hook_id, hook)] = forge.repositories["team/app"].hooks.items()
    secret_there = hook["token"] if forge.kind == "gitlab" else hook["config"]["secret"]
    assert secret_there == rotated.get_json()["webhookSecret"] != secret
    assert Project.get().forge_hook_id == str(hook_id)

    deleted = client.delete(f"/api/project/projects/{project['id']}", headers=headers)
    assert deleted.get_json()["message"] == "Project deleted"
    assert forge.repositories["team/app"].hooks == {}


def test_a_new_secret_is_kept_even_when_the_forge_will_not_take_it(client, accounts, forge):
    """A secret that leaked must stop working here at once, whatever the forge says."""
    headers = accounts.headers()
    connect(client, headers, forge)
    made = client.post("/api/project/projects", headers=headers,
                       json={"forge": forge.kind, "forgeRepo": "team/docs", "connect": True}).get_json()["project"]
    for token in ("revoked-there", None):
        assert client.patch(f"/api/project/projects/{made['id']}", json={"forgeToken": token},
                            headers=headers).status_code == 200
        rotated = client.post(f"/api/project/projects/{made['id']}/webhook-secret", headers=headers)
        assert rotated.status_code == 201 and "could not be changed" in rotated.get_json()["message"]
        assert Project.get().webhook_secret == rotated.get_json()["webhookSecret"] != made["webhookSecret"]
    assert len(forge.repositories["team/docs"].hooks) == 1


def test_what_cannot_be_connected_makes_no_project(client, accounts, forge):
    headers = accounts.headers()

    def make(path):
        return client.post("/api/project/projects", headers=headers,
                           json={"forge": forge.kind, "forgeRepo": path, "connect": True})

    assert make("team/app").status_code == 400  # no account connected yet
    connect(client, headers, forge)
    assert make("others/theirs").status_code == 403
    assert make("team/nowhere").status_code == 404
    # A forge may only say to clone from itself: the account's token goes with the clone.
    elsewhere = make("team/elsewhere")
    assert elsewhere.status_code == 422 and "clone address elsewhere" in elsewhere.get_json()["message"]
    refused = make("team/closed")
    assert refused.status_code == 422 and "would not take the webhook" in refused.get_json()["message"]
    assert Project.select().count() == 0


def test_a_forge_account_is_the_callers_own(client, accounts, forge):
    connect(client, accounts.headers(), forge)
    other = accounts.headers("bob")
    assert client.get("/api/forges", headers=other).get_json()["forges"] == []
    assert client.get(f"/api/forges/{forge.kind}/repositories", headers=other).status_code == 400
    assert client.delete(f"/api/forges/{forge.kind}", headers=other).status_code == 404
    assert len(client.get("/api/forges", headers=accounts.headers()).get_json()["forges"]) == 1


# Where each forge's statuses go.
STATUS_PATHS = {"github": "/repos/team/app/statuses/{}", "gitea": "/api/v1/repos/team/app/statuses/{}",
                "forgejo": "/api/v1/repos/team/app/statuses/{}", "gitlab": "/api/v4/projects/team%2Fapp/statuses/{}"}


def test_a_connected_project_reports_each_build_to_its_forge_in_its_words(app, client, accounts, forge, drain):
    from app.background.statuses import deliver_due

    headers = accounts.headers()
    connect(client, headers, forge)
    made = client.post("/api/project/projects", headers=headers,
                       json={"forge": forge.kind, "forgeRepo": "team/app", "connect": True, "buildCommand": "true"})
    build = made.get_json()["build"]
    with app.app_context():
        deliver_due(app)
    drain()
    with app.app_context():
        deliver_due(app)
    sent = [call for call in forge.calls if "/statuses/" in call["path"]]
    assert [call["path"] for call in sent] == [STATUS_PATHS[forge.kind].format(build["commitHash"])] * 2
    assert [call["body"]["state"] for call in sent] == ["pending", "success"]
    assert all(TOKEN in call["auth"] for call in sent)
    assert sent[-1]["body"]["target_url"].endswith(f"/builds/{build['id']}")


def test_a_token_no_http_header_can_carry_is_a_400(client, accounts, forge):
    """A forge's token goes into a header: a character outside ASCII once made the call a 500."""
    answer = connect(client, accounts.headers(), forge, token="tökén-of-alice")
    assert answer.status_code == 400 and "ASCII" in answer.get_json()["message"]
