"""Builds that follow a .stoker.yml in the repository, and pushes that ask to skip CI."""

import pytest

from app.records.models import Build, Status
from tests.support import create_project, delivery, push_payload


def test_steps_run_in_order_with_their_env_and_share_the_workspace(build_with):
    build, log = build_with("""\
env:
  GREETING: hello from the plan
steps:
  - name: make
    commands:
      - echo "$GREETING"
      - echo built > artifact.txt
  - name: check
    environment: { GREETING: hello from the step }
    commands:
      - test "$(cat artifact.txt)" = built
      - echo "$GREETING"
""")
    assert (build["status"], build["exitCode"], build["error"]) == (Status.PASSED, 0, None)
    assert [(s["name"], s["status"], s["exitCode"]) for s in build["steps"]] == [
        ("make", Status.PASSED, 0), ("check", Status.PASSED, 0)]
    assert all(s["durationSeconds"] >= 0 and s["startedAt"] and s["finishedAt"] for s in build["steps"])
    assert "==> Following .stoker.yml: 2 step(s) in stoker-busybox:latest" in log
    assert "==> Step 1/2: make\n$ echo \"$GREETING\"\nhello from the plan\n$ echo built > artifact.txt\n" in log
    assert "$ echo \"$GREETING\"\nhello from the step\n" in log
    assert "==> Step make passed after " in log and "==> Step check passed after " in log
    assert "project command" not in log  # the plan replaces the project's command


def test_the_first_failing_step_stops_the_build_and_the_rest_are_skipped(build_with):
    build, log = build_with("""\
steps:
  - {name: one, commands: echo first}
  - {name: two, commands: [echo second, exit 7, echo not reached]}
  - {name: three, commands: echo third}
""")
    assert (build["status"], build["exitCode"]) == (Status.FAILED, 7)
    assert [(s["name"], s["status"], s["exitCode"]) for s in build["steps"]] == [
        ("one", Status.PASSED, 0), ("two", Status.FAILED, 7), ("three", Status.SKIPPED, None)]
    assert build["steps"][2]["startedAt"] is None
    lines = log.splitlines()
    assert "second" in lines and "not reached" not in lines and "third" not in lines
    assert "==> Step two failed with code 7 after " in log


def test_an_invalid_file_fails_the_build_at_once_naming_the_line(build_with):
    build, log = build_with("steps:\n  - name: a\n    comands: [echo typo]\n")
    assert (build["status"], build["exitCode"]) == (Status.FAILED, None)
    assert build["error"] == ".stoker.yml line 3: unknown step key 'comands'; a step has a name, commands and perhaps when, image, pull, environment, secrets, depends_on, failure, entrypoint, settings"
    assert build["steps"] == []
    assert "==> Step" not in log and "Running in" not in log


def test_the_plans_image_and_timeout_win_over_the_projects(build_with):
    build, _ = build_with("image: stoker-plan-image:absent\nsteps:\n  - {name: a, commands: 'true'}\n")
    assert "stoker-plan-image:absent" in build["error"]

    build, log = build_with("timeout: 2s\nsteps:\n  - {name: slow, commands: sleep 60}\n", timeoutSeconds=3600)
    assert (build["status"], build["error"]) == (Status.FAILED, "Timed out after 2 s")


def test_a_plan_that_links_outside_the_repository_is_refused(build_with):
    build, log = build_with(link_to="/etc/passwd")
    assert build["status"] == Status.FAILED
    assert build["error"] == ".stoker.yml must be a regular file, not a link"
    assert "root:" not in log


@pytest.mark.parametrize("message", ["Tidy docs [skip ci]", "[CI SKIP] typo", "wip [Skip CI] later"])
def test_a_push_whose_head_commit_asks_to_skip_ci_builds_nothing(client, accounts, local_repo, message):
    created = create_project(client, accounts.token(), local_repo, None, name="skip")
    sha = local_repo.commit({"docs.md": "docs\n"}, message=message)
    body, headers = delivery(created["project"]["webhookSecret"], push_payload(sha, message=message))
    response = client.post(f"/api/webhooks/github/{created['project']['id']}", data=body, headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"message": "Ignored: the head commit asks to skip CI"}
    assert Build.select().where(Build.commit_hash == sha).count() == 0
