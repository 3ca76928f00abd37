"""Steps as a graph: independent steps side by side, a failure skipping what depends on it,
ignored failures, clean-up steps that run on failure, and each step's own log."""
from datetime import datetime

import pytest

from app.records.models import Status
from tests.support import TEST_IMAGE


def steps_of(build):
    return {step["name"]: step for step in build["steps"]}


def moment(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_independent_steps_run_side_by_side_and_each_keeps_its_own_log(build_with, client, accounts):
    build, log = build_with("""\
steps:
  - name: lint
    depends_on: []
    commands: ["echo linting", "sleep 2", "echo lint clean"]
  - name: test
    depends_on: []
    commands: ["echo testing", "sleep 2", "echo tests pass"]
  - name: package
    depends_on: [lint, test]
    commands: ["ls", "echo packaged"]
""")
    assert build["status"] == Status.PASSED, (build, log)
    steps = steps_of(build)
    lint, test, package = steps["lint"], steps["test"], steps["package"]
    assert abs(moment(lint["startedAt"]) - moment(test["startedAt"])) < 1.0
    assert max(moment(lint["finishedAt"]), moment(test["finishedAt"])) - moment(lint["startedAt"]) < 3.0
    assert moment(package["startedAt"]) >= max(moment(lint["finishedAt"]), moment(test["finishedAt"]))

    # Side by side, each line says whose it is; each step's own log holds its lines alone.
    assert "[lint] lint clean\n" in log and "[test] tests pass\n" in log and "[package] packaged\n" in log
    own = client.get(f"/api/build/{build['id']}/logs?step=lint", headers=accounts.headers()).get_data(as_text=True)
    assert "lint clean" in own and "tests pass" not in own and "[lint]" not in own
    assert client.get(f"/api/build/{build['id']}/logs?step=nope", headers=accounts.headers()).get_data() == b""


def test_a_failure_skips_what_depends_on_it_and_runs_what_asks_for_failure(build_with):
    build, log = build_with("""\
steps:
  - name: compile
    commands: ["echo compiling", "exit 3"]
  - name: unit
    depends_on: [compile]
    commands: echo never
  - name: docs
    depends_on: []
    commands: echo docs built
  - name: notify
    depends_on: [unit]
    when: {status: [failure]}
    commands: echo something failed
  - name: always
    depends_on: [docs]
    when: {status: [success, failure]}
    commands: echo after docs
""")
    steps = steps_of(build)
    assert (build["status"], build["exitCode"]) == (Status.FAILED, 3)
    assert {name: (step["status"], step["exitCode"]) for name, step in steps.items()} == {
        "compile": (Status.FAILED, 3), "unit": (Status.SKIPPED, None), "docs": (Status.PASSED, 0),
        "notify": (Status.PASSED, 0), "always": (Status.PASSED, 0)}
    assert "something failed" in log and "echo never" not in log
    assert "Step unit skipped: it runs success, and a step before it failed" in log


def test_an_ignored_failure_fails_neither_the_build_nor_what_comes_after(build_with):
    build, log = build_with("""\
steps:
  - name: flaky
    failure: ignore
    commands: exit 7
  - name: after
    commands: echo still here
  - name: cleanup
    when: {status: [failure]}
    commands: echo not needed
""")
    steps = steps_of(build)
    assert (build["status"], build["exitCode"]) == (Status.PASSED, 0), log
    assert (steps["flaky"]["status"], steps["flaky"]["exitCode"]) == (Status.FAILED, 7)
    assert steps["after"]["status"] == Status.PASSED and steps["cleanup"]["status"] == Status.SKIPPED
    assert "Step flaky failed, and its failure is ignored" in log


@pytest.mark.parametrize("plan, line, words", [
    ("steps:\n  - {name: a, commands: x, depends_on: [b]}\n  - {name: b, commands: x, depends_on: [a]}\n",
     2, "wait on each other in a cycle: a -> b -> a"),
    ("steps:\n  - {name: a, commands: x}\n  - name: b\n    commands: x\n    depends_on: [c]\n",
     5, "depends_on names 'c', which is no step's name"),
])
def test_a_cycle_or_an_unknown_name_fails_the_build_at_once_naming_the_line(build_with, plan, line, words):
    build, log = build_with(plan)
    assert (build["status"], build["exitCode"], build["steps"]) == (Status.FAILED, None, [])
    assert build["error"].startswith(f".stoker.yml line {line}: ") and words in build["error"]


MATRIX = """\
matrix:
  PYTHON: ["3.11", "3.12"]
  DB: [sqlite, postgres]
steps:
  - name: test
    commands:
      - echo "testing on $PYTHON with $DB"
      - test "$PYTHON/$DB" != "{failing}"
  - name: report
    commands: echo "reported $PYTHON $DB"
"""


def test_a_matrix_runs_every_combination_with_its_variables_and_fails_if_one_does(build_with):
    build, log = build_with(MATRIX.format(failing="none"))
    assert build["status"] == Status.PASSED, log
    combinations = [{"PYTHON": p, "DB": d} for p in ("3.11", "3.12") for d in ("sqlite", "postgres")]
    assert [(s["name"], s["matrix"]) for s in build["steps"]] == [
        (f"{name} (PYTHON={c['PYTHON']}, DB={c['DB']})", c) for c in combinations for name in ("test", "report")]
    for c in combinations:
        assert f"[test (PYTHON={c['PYTHON']}, DB={c['DB']})] testing on {c['PYTHON']} with {c['DB']}\n" in log
    starts = sorted(moment(s["startedAt"]) for s in build["steps"] if s["name"].startswith("test "))
    assert starts[-1] - starts[0] < 1.5  # side by side, not one after another

    build, log = build_with(MATRIX.format(failing="3.12/postgres"))
    assert (build["status"], build["exitCode"]) == (Status.FAILED, 1)
    statuses = {s["name"]: s["status"] for s in build["steps"]}
    assert statuses["test (PYTHON=3.12, DB=postgres)"] == Status.FAILED
    assert statuses["report (PYTHON=3.12, DB=postgres)"] == Status.SKIPPED
    assert statuses["report (PYTHON=3.11, DB=sqlite)"] == Status.PASSED


def test_a_matrix_takes_included_combinations_and_refuses_more_than_16(build_with):
    build, log = build_with("matrix:\n  include:\n    - {GO: '1.22'}\n    - {GO: '1.23', EXTRA: 'yes'}\n"
                            "steps:\n  - {name: go, commands: 'echo go $GO extra=$EXTRA'}\n")
    assert build["status"] == Status.PASSED
    assert "go 1.22 extra=\n" in log and "go 1.23 extra=yes\n" in log
    build, _ = build_with("matrix:\n  A: [1, 2, 3, 4, 5]\n  B: [1, 2, 3, 4]\nsteps:\n  - {name: a, commands: x}\n")
    assert build["error"] == ".stoker.yml line 2: the matrix makes 20 combinations; at most 16"


@pytest.fixture
def flavours(docker_client):
    """stoker-flavour:a and stoker-flavour:b: the test image with /flavour saying which it is."""
    names = []
    for flavour in ("a", "b"):
        container = docker_client.containers.run(TEST_IMAGE, ["sh", "-c", f"echo {flavour} > /flavour"],
                                                 network_mode="none", detach=True)
        container.wait(timeout=30)
        container.commit("stoker-flavour", flavour)
        container.remove()
        names.append(f"stoker-flavour:{flavour}")
    yield names
    for name in names:
        docker_client.images.remove(name, force=True)


def test_a_matrix_value_in_the_image_runs_each_combination_in_its_own_image(build_with, flavours):
    build, log = build_with("matrix:\n  FLAVOUR: [a, b]\nimage: 'stoker-flavour:${FLAVOUR}'\n"
                            "steps:\n  - {name: which, commands: 'echo on $(cat /flavour)', pull: never}\n")
    assert build["status"] == Status.PASSED, log
    assert "[which (FLAVOUR=a)] on a\n" in log and "[which (FLAVOUR=b)] on b\n" in log
