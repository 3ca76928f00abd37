"""`when:` in .stoker.yml: a build, or a step, runs only for the events, branches and changed paths it
names; the changed paths come from git in the mirror."""
import pytest

from app.records.models import Build, BuildStep, Status
from pipeline.plan import PlanError, parse
from tests.support import create_project, log_of, pull_request, push_payload, send, settings

ONLY_SOURCE = """\
when:
  path: ["src/**", "!src/**/*.md"]
steps:
  - name: test
    commands: echo testing the source
"""
STEP_CONDITIONS = """\
steps:
  - name: always
    commands: echo always
  - name: release
    commands: echo releasing
    when:
      event: [push, manual]
      branch: main
  - name: review
    commands: echo reviewing
    when: { event: pull_request }
"""


@pytest.fixture
def project(client, accounts, local_repo, drain):
    def make(plan, **fields):
        local_repo.commit({".stoker.yml": plan}, message="Add the plan")
        created = create_project(client, accounts.token(), local_repo, **fields)
        drain()
        return created["project"], accounts.headers()

    return make


@pytest.mark.both_databases
def test_a_push_builds_when_it_changes_the_paths_named_and_is_skipped_when_not(client, project, local_repo,
                                                                                  drain):
    made, headers = project(ONLY_SOURCE)
    before = local_repo.repo.head.commit.hexsha
    docs = local_repo.commit({"docs/guide.md": "words\n", "src/notes.md": "notes\n"}, message="Docs only")
    skipped = send(client, made, {**push_payload(docs), "before": before}).get_json()["build"]
    source = local_repo.commit({"src/app.py": "print(1)\n"}, message="Code")
    built = send(client, made, {**push_payload(source), "before": docs}).get_json()["build"]
    assert drain() == 2

    assert Build.get_by_id(skipped["id"]).status == Status.SKIPPED
    last = log_of(client, headers, skipped["id"]).strip().splitlines()[-1]
    assert last == ("==> Skipped: when on line 1 asks for changes under src/**, !src/**/*.md, and none of the "
                    "2 changed file(s) is")
    assert Build.get_by_id(built["id"]).status == Status.PASSED
    assert "testing the source" in log_of(client, headers, built["id"])


def test_a_new_branch_is_held_against_what_it_changed_since_it_left_the_default_branch(client, project, local_repo,
                                                                                       drain):
    made, headers = project(ONLY_SOURCE, branch="main")
    settings(client, made, headers, branches=["**"])
    local_repo.branch("feature")
    commit = local_repo.commit({"docs/a.md": "a\n"}, message="Docs on a branch")
    build = send(client, made, {**push_payload(commit, branch="feature"), "before": "0" * 40}).get_json()["build"]
    drain()
    assert Build.get_by_id(build["id"]).status == Status.SKIPPED


@pytest.mark.both_databases
def test_steps_run_for_their_own_events_and_branches(client, project, local_repo, drain):
    made, headers = project(STEP_CONDITIONS)
    payload, _ = pull_request(local_repo, number=21)
    build = send(client, made, payload, event="pull_request").get_json()["build"]
    drain()
    assert Build.get_by_id(build["id"]).status == Status.PASSED
    steps = {s.name: s.status for s in BuildStep.select().where(BuildStep.build == build["id"])}
    assert steps == {"always": Status.PASSED, "release": Status.SKIPPED, "review": Status.PASSED}
    log = log_of(client, headers, build["id"])
    assert ("==> Step release skipped: when on line 6 asks for event push, manual, and this build's event is "
            "pull_request") in log
    assert "reviewing" in log and "releasing" not in log


@pytest.mark.parametrize("text, line, words", [
    ("when: {event: fork}\nsteps: [{name: a, commands: x}]\n", 1, "when.event must name events"),
    ("when: {colour: red}\nsteps: [{name: a, commands: x}]\n", 1, "unknown when key 'colour'"),
    ("when: []\nsteps: [{name: a, commands: x}]\n", 1, "when must be a mapping"),
    ("steps:\n  - name: a\n    commands: x\n    when: {path: {a: b}}\n", 4, "when.path must be a non-empty text"),
])
def test_a_bad_when_is_an_error_naming_its_line(text, line, words):
    with pytest.raises(PlanError) as caught:
        parse(text)
    assert f"line {line}:" in str(caught.value) and words in str(caught.value)
