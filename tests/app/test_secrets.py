"""Project secrets: names only through the API, encrypted at rest, given to builds, never in a log."""
import pytest
from cryptography.fernet import InvalidToken

from app import create_app
from app.records.models import Build, ProjectSecret, Status
from app.records.vault import fernet
from app.worker import Worker
from tests.support import SECRET, create_project

TOKEN = "s3cr3t-Tok3n-9f8e7d6c"


@pytest.fixture
def project(client, accounts, local_repo):
    def make(command="true", **fields):
        created = create_project(client, accounts.token(), local_repo, command, name="secretive", **fields)
        return created["project"]["id"], created["build"]["id"]

    return make


def put(client, accounts, project_id, name, value, user="alice"):
    return client.put(f"/api/project/projects/{project_id}/secrets/{name}", json={"value": value},
                      headers=accounts.headers(user))


def test_secrets_are_saved_listed_by_name_only_and_deleted(client, accounts, project):
    project_id, _ = project()
    created = put(client, accounts, project_id, "TOKEN", TOKEN)
    assert created.status_code == 201
    assert created.get_json()["secret"]["name"] == "TOKEN"
    assert put(client, accounts, project_id, "TOKEN", TOKEN + "-v2").status_code == 200
    put(client, accounts, project_id, "API_KEY", "another-value")

    listed = client.get(f"/api/project/projects/{project_id}/secrets", headers=accounts.headers())
    assert [s["name"] for s in listed.get_json()["secrets"]] == ["API_KEY", "TOKEN"]
    assert TOKEN not in listed.get_data(as_text=True) and "another-value" not in listed.get_data(as_text=True)

    path = f"/api/project/projects/{project_id}/secrets/TOKEN"
    assert client.delete(path, headers=accounts.headers()).get_json() == {"message": "Secret deleted"}
    assert client.delete(path, headers=accounts.headers()).status_code == 404


def test_values_are_stored_encrypted_with_a_key_derived_from_the_server_secret(client, accounts, project):
    project_id, _ = project()
    put(client, accounts, project_id, "TOKEN", TOKEN)
    sealed = ProjectSecret.get(ProjectSecret.name == "TOKEN").sealed
    assert TOKEN not in sealed
    assert fernet(SECRET).decrypt(sealed.encode()).decode() == TOKEN
    with pytest.raises(InvalidToken):
        fernet("another server secret").decrypt(sealed.encode())


@pytest.mark.parametrize("name, value, status", [
    ("1BAD", "v", 400), ("has-dash", "v", 400), ("x" * 65, "v", 400), ("CI", "v", 400),
    ("STOKER_COMMIT", "v", 400), ("stoker", "v", 400), ("CI_REPO", "v", 400), ("OK", "", 400), ("OK", 5, 400),
    ("OK", "abc", 400),
    ("OK", "nul\x00", 400), ("OK", "x" * (64 * 1024 + 1), 400),
])
def test_bad_names_and_values_are_400_and_save_nothing(client, accounts, project, name, value, status):
    project_id, _ = project()
    response = put(client, accounts, project_id, name, value)
    assert response.status_code == status
    assert set(response.get_json()) == {"message"}
    assert ProjectSecret.select().count() == 0


def test_only_the_owner_reaches_a_projects_secrets(client, accounts, project):
    project_id, _ = project()
    put(client, accounts, project_id, "TOKEN", TOKEN)
    assert put(client, accounts, project_id, "TOKEN", "mine now", user="mallory").status_code == 403
    mallory = accounts.headers("mallory")
    assert client.get(f"/api/project/projects/{project_id}/secrets", headers=mallory).status_code == 403
    assert client.delete(f"/api/project/projects/{project_id}/secrets/TOKEN", headers=mallory).status_code == 403
    assert client.get(f"/api/project/projects/{project_id}/secrets").status_code == 401
    assert client.get("/api/project/projects/abc/secrets", headers=mallory).status_code == 400
    assert client.get("/api/project/projects/999999/secrets", headers=mallory).status_code == 404
    assert ProjectSecret.select().count() == 1


def test_builds_get_secrets_and_logs_never_show_them_even_split_across_writes(
        client, accounts, project, drain):
    command = ('test "$TOKEN" = "' + TOKEN + '" && echo "token: $TOKEN" && '
               'printf "split: %s" "${TOKEN%????????}"; sleep 0.5; printf "%s\\n" "${TOKEN#${TOKEN%????????}}"')
    project_id, first = project(command=command)
    put(client, accounts, project_id, "TOKEN", TOKEN)
    rebuilt = client.post(f"/api/build/rebuild/{first}", headers=accounts.headers()).get_json()["build"]["id"]
    drain()
    build = client.get(f"/api/build/{rebuilt}", headers=accounts.headers()).get_json()["build"]
    assert build["status"] == Status.PASSED  # the secret reached the build
    log = client.get(f"/api/build/{rebuilt}/logs", headers=accounts.headers()).get_data(as_text=True)
    assert TOKEN not in log
    assert "token: ***\n" in log and "split: ***\n" in log
    assert TOKEN[:8] not in log and TOKEN[-8:] not in log


def test_a_secret_printed_encoded_is_masked_in_each_form(client, accounts, project, drain):
    value = 'p@ss w/"q?+é'
    # What a build script would do: base64 for an Authorization header, percent-encoding for a URL,
    # JSON for a config file.
    command = ('printf "b64: %s\\n" "$(printf %s "$PW" | base64)"; '
               'printf "b64url: %s\\n" "$(printf %s "$PW" | base64 | tr +/ -_ | tr -d =)"; '
               'printf "url: %s\\n" "p%40ss%20w%2F%22q%3F%2B%C3%A9"; '
               'printf "json: {\\"pw\\": \\"%s\\"}\\n" "$(printf %s "$PW" | sed \'s/"/\\\\"/g\')"')
    project_id, first = project(command=command)
    assert put(client, accounts, project_id, "PW", value).status_code == 201
    rebuilt = client.post(f"/api/build/rebuild/{first}", headers=accounts.headers()).get_json()["build"]["id"]
    drain()
    log = client.get(f"/api/build/{rebuilt}/logs", headers=accounts.headers()).get_data(as_text=True)
    for form in ("b64", "b64url", "url", "json"):
        assert f"{form}: ***\n" in log or f'{form}: {{"pw": "***"}}\n' in log, log
    assert "cEBzcyB3" not in log and "p%40ss" not in log and 'w/\\"q' not in log


def test_a_step_naming_its_secrets_gets_those_alone(client, accounts, project, drain, local_repo):
    says = "commands: 'echo token=${#TOKEN} key=${#API_KEY}'"
    local_repo.commit({".stoker.yml": f"steps:\n  - {{name: deploy, secrets: TOKEN, {says}}}\n"
                                      f"  - {{name: test, secrets: [], {says}}}\n  - {{name: all, {says}}}\n"},
                      message="Plan")
    project_id, first = project()
    put(client, accounts, project_id, "TOKEN", TOKEN)
    put(client, accounts, project_id, "API_KEY", "another-value")
    rebuilt = client.post(f"/api/build/rebuild/{first}", headers=accounts.headers()).get_json()["build"]["id"]
    drain()
    for step, heard in (("deploy", "token=21 key=0"), ("test", "token=0 key=0"), ("all", "token=21 key=13")):
        log = client.get(f"/api/build/{rebuilt}/logs?step={step}", headers=accounts.headers()).get_data(as_text=True)
        assert log.endswith(f"\n{heard}\n"), (step, log)


def test_a_secret_cut_by_a_long_lines_end_is_masked_beside_another_step(client, accounts, project, drain,
                                                                         local_repo):
    # Beside another step, a line not yet ended is cut at 64 KB and prefixed: the value straddles the cut.
    local_repo.commit({".stoker.yml": "steps:\n"
                                      "  - {name: long, depends_on: [], commands: 'printf \"%065530d$TOKEN\" 0; sleep 0.5; echo'}\n"
                                      "  - {name: other, depends_on: [], commands: 'echo other'}\n"}, message="Plan")
    project_id, first = project()
    put(client, accounts, project_id, "TOKEN", TOKEN)
    rebuilt = client.post(f"/api/build/rebuild/{first}", headers=accounts.headers()).get_json()["build"]["id"]
    drain()
    assert client.get(f"/api/build/{rebuilt}", headers=accounts.headers()).get_json()["build"]["status"] == Status.PASSED
    log = client.get(f"/api/build/{rebuilt}/logs", headers=accounts.headers()).get_data(as_text=True)
    assert "[long] " + "0" * 100 in log and "[other] other\n" in log
    joined = log.replace("\n[long] ", "")
    assert TOKEN not in joined and "0***\n" in joined, joined[-200:]


def test_error_messages_are_masked_too(client, accounts, project, drain, local_repo):
    local_repo.commit({".stoker.yml": f"steps:\n  - name: a\n    {TOKEN}: x\n"}, message="Plan")
    project_id, first = project()
    put(client, accounts, project_id, "TOKEN", TOKEN)
    rebuilt = client.post(f"/api/build/rebuild/{first}", headers=accounts.headers()).get_json()["build"]["id"]
    drain()
    build = client.get(f"/api/build/{rebuilt}", headers=accounts.headers()).get_json()["build"]
    assert build["error"] == ".stoker.yml line 3: unknown step key '***'; a step has a name, commands and perhaps when, image, pull, environment, secrets, depends_on, failure, entrypoint, settings"
    assert TOKEN not in client.get(f"/api/build/{rebuilt}/logs", headers=accounts.headers()).get_data(as_text=True)


def test_a_changed_server_secret_fails_the_build_instead_of_leaking(config, client, accounts, project, docker_client):
    project_id, build_id = project()
    put(client, accounts, project_id, "TOKEN", TOKEN)
    other = create_app({**config, "SECRET_KEY": "a different server secret, rotated without care"})
    assert Worker(other, "test-worker").run_once()
    failed = Build.get_by_id(build_id)
    assert (failed.status, failed.error) == (
        Status.FAILED, "the project's secrets cannot be decrypted with this server's SECRET_KEY")
