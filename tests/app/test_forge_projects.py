"""A project names its forge: GitHub as before, or a self-hosted Gitea, Forgejo or GitLab at an
address of its own, with the repository's path there and a token for commit statuses."""
import base64

import pytest

from app.api.projects import repo_on_forge
from app.forges import FORGES
from app.records.models import Forge
from tests.support import LocalRepo, create_project


def patch(client, headers, project_id, **fields):
    return client.patch(f"/api/project/projects/{project_id}", json=fields, headers=headers)


def test_every_forge_word_has_its_module():
    assert sorted(FORGES) == sorted(Forge.ALL)


def test_a_gitea_project_reports_to_its_own_server_and_hears_its_own_webhook_alone(client, accounts, local_repo,
                                                                                  app):
    app.config["STOKER_ALLOW_PRIVATE_REPO_HOSTS"] = True
    headers = accounts.headers()
    project = create_project(client, accounts.token(), local_repo, "true", forge="gitea",
                             forgeUrl="http://127.0.0.1:3000/", forgeRepo="team/app", forgeToken="gitea-token-1")["project"]
    assert (project["forge"], project["forgeUrl"], project["forgeRepo"]) == ("gitea", "http://127.0.0.1:3000", "team/app")
    assert project["reportsToForge"] is True and project["reportsToGithub"] is False
    assert project["webhookUrl"].endswith(f"/api/webhooks/gitea/{project['id']}")
    assert "gitea-token-1" not in str(project)
    # GitHub's webhook URL is not this project's: a delivery there is not proven GitHub's way and read.
    answer = client.post(f"/api/webhooks/github/{project['id']}", json={}, headers={"X-GitHub-Event": "ping"})
    assert answer.status_code == 404

    # Back to GitHub: the self-hosted address must go with it; the repository's path stays, and the
    # token, given for the Gitea server, does not go to GitHub with it.
    assert patch(client, headers, project["id"], forge="github").status_code == 400
    moved = patch(client, headers, project["id"], forge="github", forgeUrl=None).get_json()["project"]
    assert (moved["forge"], moved["forgeRepo"], moved["reportsToGithub"]) == ("github", "team/app", False)
    again = patch(client, headers, project["id"], forgeToken="ghp_2").get_json()["project"]
    assert again["reportsToGithub"] is True


def test_a_token_goes_nowhere_but_where_it_was_given_for(client, accounts, local_repo, app):
    """Any admin may change where a project points; its tokens stay behind unless given anew, so none
    can be sent to a host of theirs, or reach another repository."""
    app.config["STOKER_ALLOW_PRIVATE_REPO_HOSTS"] = True
    headers = accounts.headers()
    project = create_project(client, accounts.token(), local_repo, "true", forge="gitea",
                             forgeUrl="http://127.0.0.1:3000", forgeRepo="team/app", forgeToken="t1",
                             repoToken="r1")["project"]
    assert project["reportsToForge"] is True and project["hasRepoToken"] is True
    elsewhere = patch(client, headers, project["id"], forgeUrl="http://127.0.0.2:3000").get_json()["project"]
    assert elsewhere["reportsToForge"] is False
    other = patch(client, headers, project["id"], forgeUrl="http://127.0.0.1:3000", forgeToken="t2",
                  forgeRepo="team/other").get_json()["project"]
    assert other["reportsToForge"] is True
    assert patch(client, headers, project["id"], forgeRepo="team/app").get_json()["project"]["reportsToForge"] is False
    second = LocalRepo(local_repo.path.parent / "second")
    second.commit({"README": "another\n"})
    moved = patch(client, headers, project["id"], repoUrl=second.url).get_json()["project"]
    assert moved["hasRepoToken"] is False


def test_the_first_names_of_the_settings_still_work(client, accounts, local_repo):
    project = create_project(client, accounts.token(), local_repo, "true", githubRepo="octo/demo",
                             githubToken="ghp_1")["project"]
    assert (project["forge"], project["githubRepo"], project["forgeRepo"]) == ("github", "octo/demo", "octo/demo")
    assert project["reportsToGithub"] is True
    stopped = patch(client, accounts.headers(), project["id"], githubToken=None).get_json()["project"]
    assert stopped["reportsToGithub"] is False and stopped["reportsToForge"] is False


@pytest.mark.parametrize("fields, words", [
    ({"forge": "bitbucket"}, "forge must be one of github, gitea, forgejo, gitlab"),
    ({"forge": "github", "forgeUrl": "https://git.example.com"}, "forgeUrl is for a self-hosted forge"),
    ({"forge": "gitea", "forgeUrl": "http://git.example.com"}, "forgeUrl must be an https:// address"),
    ({"forge": "gitea", "forgeUrl": "https://127.0.0.1"}, "forgeUrl"),
    ({"forge": "gitea", "forgeUrl": "https://169.254.169.254/latest"}, "forgeUrl"),
    ({"forge": "gitea", "forgeUrl": "https://user:pw@git.example.com"}, "forgeUrl must be a scheme, a host"),
    ({"forge": "gitea", "forgeUrl": "https://git.example.com/?a=1"}, "forgeUrl must be a scheme, a host"),
    ({"forge": "gitea", "forgeUrl": "ftp://git.example.com"}, "forgeUrl must be an https:// address"),
    ({"forge": "gitea", "forgeUrl": 7}, "forgeUrl must be the forge's address"),
    ({"forge": "gitea", "forgeRepo": "team/app", "forgeToken": "t"}, "forgeUrl (the gitea server's address"),
    ({"forge": "gitlab", "forgeUrl": "https://gitlab.example.com", "forgeRepo": "../../etc"}, "forgeRepo must be"),
    ({"forge": "github", "forgeRepo": "a/b/c"}, "forgeRepo must be the repository's path"),
    ({"githubRepo": "a/b", "forgeRepo": "c/d"}, "githubRepo and forgeRepo are one setting"),
    ({"forgeRepo": "a/b", "forgeToken": "x" * 501}, "forgeToken must be a token of 1 to 500"),
])
def test_bad_forge_settings_are_refused_naming_the_field(client, accounts, local_repo, fields, words):
    answer = client.post("/api/project/projects", json={"name": "f", "repoUrl": local_repo.url, **fields},
                         headers=accounts.headers())
    assert answer.status_code == 400, answer.get_json()
    assert words in answer.get_json()["message"]


@pytest.mark.parametrize("forge, forge_url, repo_url, path", [
    ("github", None, "https://github.com/octo/demo.git", "octo/demo"),
    ("gitea", "https://git.example.com", "https://git.example.com/team/app.git", "team/app"),
    ("forgejo", "https://codeberg.org", "git@codeberg.org:team/app.git", "team/app"),
    ("gitlab", "https://gitlab.example.com", "https://gitlab.example.com/group/sub/app.git", "group/sub/app"),
    ("gitlab", "https://example.com/gitlab", "https://example.com/gitlab/group/app.git", "group/app"),
    ("gitlab", "https://gitlab.example.com", "ssh://git@gitlab.example.com:2222/group/app.git", "group/app"),
    ("gitea", "https://git.example.com", "https://elsewhere.example.com/team/app.git", None),
    ("gitea", None, "https://git.example.com/team/app.git", None),
])
def test_the_repository_path_is_told_from_the_repo_url_on_that_forge(forge, forge_url, repo_url, path):
    assert repo_on_forge(forge, forge_url, repo_url) == path


def test_a_gitlab_projects_secret_is_one_gitlab_also_signs_with(client, accounts, local_repo):
    """GitLab takes a signing token only as whsec_ and base64: the secret is made so, and a delivery
    signed with it (webhook-signature) and carrying it (X-Gitlab-Token) gets in."""
    import json
    import time

    from tests.support import forge_body, forge_headers, signed_headers

    project = create_project(client, accounts.token(), local_repo, "true", forge="gitlab")["project"]
    secret = project["webhookSecret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    body = json.dumps(json.loads(forge_body("gitlab", "HookPush.json"))).encode()
    headers = {**forge_headers("gitlab", secret, body, "Push Hook", "a1b2c3d4-0000-4000-8000-000000000001"),
               **signed_headers(base64.b64decode(secret[6:]), body, "msg_1", int(time.time()))}
    answer = client.post(f"/api/webhooks/gitlab/{project['id']}", data=body, headers=headers)
    assert answer.status_code == 202, answer.get_json()
    rotated = client.post(f"/api/project/projects/{project['id']}/webhook-secret", headers=accounts.headers())
    assert rotated.get_json()["webhookSecret"].startswith("whsec_")
