"""A repository URL's user information never leaks: refused when given, and hidden everywhere
for a project that was stored with one before."""
import pytest

from app import create_app
from app.records.models import Build, Member, Project, Role, db
from pipeline.git.inputs import without_credentials
from tests.support import free_port, processes_started

TOKEN = "ghp_s3cretTokenValue0123456789"


@pytest.mark.parametrize("url", [f"https://user:{TOKEN}@github.com/octo/demo.git",
                                 f"https://{TOKEN}@github.com/octo/demo.git",
                                 f"https://x-access-token:{TOKEN}@example.com:8443/octo/demo"])
def test_a_repo_url_with_credentials_is_refused_and_not_repeated(client, accounts, url):
    with processes_started() as spawned:
        response = client.post("/api/project/projects", headers=accounts.headers(),
                               json={"name": "demo", "repoUrl": url, "buildCommand": "true"})
    assert response.status_code == 400
    message = response.get_json()["message"]
    assert "repoUrl" in message and "user name or password" in message and "repoToken" in message
    assert TOKEN not in message
    assert spawned == []
    with db.connection_context():
        assert Project.select().count() == 0


def test_a_stored_url_with_credentials_is_hidden_from_answers_logs_errors_and_the_process_list(
        config, drain, tmp_path):
    app = create_app({**config, "STOKER_ALLOW_PRIVATE_REPO_HOSTS": True, "STOKER_REGISTRATION": "open"})
    client = app.test_client()
    client.post("/api/auth/register", json={"username": "alice", "password": "password123"})
    token = client.post("/api/auth/login", json={"username": "alice", "password": "password123"}).get_json()
    headers = {"Authorization": f"Bearer {token['accessToken']}"}
    with db.connection_context():
        # As a project made before such URLs were refused.
        project = Project.create(owner=1, name="old", repo_url=f"https://ci:{TOKEN}@127.0.0.1:{free_port()}/x.git",
                                 branch="main", build_command="true", image="stoker-busybox:latest",
                                 webhook_secret="s" * 64)
        Member.create(project=project, user=1, role=Role.ADMIN)
        Build.create(project=project, commit_hash="a" * 40, branch="main")

    with processes_started() as spawned:
        from app.worker import Worker
        with app.app_context():
            Worker(app, "test-worker").run_once()
    assert spawned, "git ran"
    assert all(TOKEN not in " ".join(map(str, args)) for _, args in spawned)

    answers = [client.get(path, headers=headers) for path in
               ("/api/project/projects", "/api/project/projects/1", "/api/build/1", "/api/build/1/logs",
                "/api/project/projects/1/builds")]
    assert all(answer.status_code == 200 for answer in answers)
    build = answers[2].get_json()["build"]
    assert build["status"] == "failed" and build["error"].startswith("checkout failed")
    assert "https://127.0.0.1" in answers[3].get_data(as_text=True)
    for answer in answers:
        assert TOKEN not in answer.get_data(as_text=True)
    assert "***@127.0.0.1" in answers[1].get_json()["project"]["repoUrl"]


def test_without_credentials_hides_every_urls_user_information():
    said = (f"fatal: unable to access 'https://ci:{TOKEN}@github.com/o/r.git/': 403; "
            f"also ssh://git:{TOKEN}@example.com/r and HTTPS://{TOKEN}@h/x")
    hidden = without_credentials(said)
    assert TOKEN not in hidden
    assert "'https://***@github.com/o/r.git/'" in hidden and "ssh://***@example.com/r" in hidden
    assert without_credentials("git@github.com:o/r.git, mail me@example.com") == \
        "git@github.com:o/r.git, mail me@example.com"
