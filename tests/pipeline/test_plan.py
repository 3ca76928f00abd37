"""Reading .stoker.yml: what it may say, and errors that name the line at fault."""
import re
import subprocess
from pathlib import Path

import pytest

from pipeline.git.checkout import Clone
from pipeline.plan import Plan, PlanError, Step, parse

GOOD = """\
image: stoker-busybox:latest
env:
  GREETING: hello
  COUNT: 3
timeout: 90s
steps:
  - name: build
    commands:
      - echo $GREETING
      - test $COUNT = 3
  - name: one-liner
    commands: echo single
"""


def test_a_full_file_reads_into_a_plan():
    assert parse(GOOD) == Plan(
        image="stoker-busybox:latest",
        env={"GREETING": "hello", "COUNT": "3"},
        timeout=90,
        steps=(Step("build", ("echo $GREETING", "test $COUNT = 3")), Step("one-liner", ("echo single",))),
    )


@pytest.mark.parametrize("text, seconds", [("30", 1800), ("45s", 45), ("20m", 1200), ("2h", 7200)])
def test_timeouts_are_minutes_or_durations(text, seconds):
    assert parse(f"timeout: {text}\nsteps:\n  - {{name: a, commands: x}}\n").timeout == seconds


@pytest.mark.parametrize("text, labels", [
    ("labels: [gpu, arch=arm64, gpu]", ("arch=arm64", "gpu")),
    ("labels: {arch: arm64, zone: eu}", ("arch=arm64", "zone=eu")),
    ("labels: gpu", ("gpu",))])
def test_labels_are_a_list_or_names_and_values(text, labels):
    assert parse(f"{text}\nsteps:\n  - {{name: a, commands: x}}\n").labels == labels


@pytest.mark.parametrize("text, line, words", [
    ("labels: []\nsteps:\n  - {name: a, commands: x}\n", 1, "labels must be 1 to 20 labels"),
    ("labels: ['a,b']\nsteps:\n  - {name: a, commands: x}\n", 1, "without commas"),
    ("steps: [\n", 2, "expected"),
    ("image: x\n", 1, "steps are missing"),
    ("steps:\n  - name: a\n", 2, "needs a name and commands"),
    ("steps:\n  - name: a\n    commands: []\n", 3, "commands must be"),
    ("steps:\n  - name: a\n    commands: [x]\n    shell: bash\n", 4, "unknown step key 'shell'"),
    ("steps:\n  - name: a\n    commands: [x]\n    environment: [A=1]\n", 4,
     "environment must be a mapping of NAME: value"),
    ("steps:\n  - name: a\n    commands: [x]\n    environment: {A-B: 1}\n", 4, "environment name 'A-B' must be"),
    ("steps:\n  - name: a\n    commands: [x]\n    secrets: [OK, $BAD]\n", 4,
     "secrets names '$BAD', which is no secret's name"),
    ("cache: /etc\nsteps:\n  - {name: a, commands: x}\n", 1, "cache path '/etc' must be a path inside the workspace"),
    ("steps:\n  - {name: a, commands: x}\ncache:\n  - deps\n  - ../up\n", 5, "cache path '../up'"),
    ("cache: []\nsteps:\n  - {name: a, commands: x}\n", 1, "cache must be a path or a list"),
    ("timeout: forever\nsteps:\n  - {name: a, commands: x}\n", 1, "timeout must be"),
    ("timeout: 0s\nsteps:\n  - {name: a, commands: x}\n", 1, "timeout must be between"),
    ("steps:\n  - {name: a, commands: x}\nrunner: y\n", 3, "unknown key 'runner'"),
    ("env:\n  GOOD: 1\n  1BAD: x\nsteps:\n  - {name: a, commands: x}\n", 3, "env name '1BAD'"),
    ("env:\n  A: [1, 2]\nsteps:\n  - {name: a, commands: x}\n", 2, "env A must be a single value"),
    ("env:\n  A: ok\n  B: \"a\\0b\"\nsteps:\n  - {name: a, commands: x}\n", 3, "env B holds a NUL character"),
    ("steps:\n  - name: a\n    commands: x\n    environment: {C: \"\\0\"}\n", 4, "environment C holds a NUL"),
    ("image: '-rm /'\nsteps:\n  - {name: a, commands: x}\n", 1, "not a Docker image reference"),
    ("steps:\n  - {name: a, commands: x}\n  - {name: b, commands: {x: 1}}\n", 3, "commands must be"),
    ("- a\n- b\n", 1, "must be a mapping"),
    ("", 1, "must be a mapping"),
    ("steps:\n  - {name: a, commands: x}\n---\nsteps: []\n", 3, "single document"),
    ("steps:\n  - {name: a, commands: x, pull: sometimes}\n", 2, "pull must be one of if-missing, always, never"),
    ("steps:\n  - {name: a, commands: x, failure: maybe}\n", 2, "failure must be one of fail, ignore"),
    ("steps:\n  - {name: a, commands: x, when: {status: [done]}}\n", 2, "when.status must be"),
    ("steps:\n  - {name: a, commands: x}\n  - {name: a, commands: y}\n  - {name: b, commands: z, depends_on: a}\n",
     4, "which more than one step is called"),
    ("services: []\nsteps:\n  - {name: a, commands: x}\n", 1, "services must be a list of services"),
    ("services:\n  - {name: Web_1}\nsteps:\n  - {name: a, commands: x}\n", 2, "must be a host name"),
    ("services:\n  - {name: db}\n  - {name: db}\nsteps:\n  - {name: a, commands: x}\n", 3,
     "two services are called 'db'"),
    ("services:\n  - {name: db, ports: [5432]}\nsteps:\n  - {name: a, commands: x}\n", 2,
     "unknown service key 'ports'"),
    ("matrix:\n  PY: []\nsteps:\n  - {name: a, commands: x}\n", 2, "matrix PY must be a list of values"),
    ("matrix:\n  1PY: [a]\nsteps:\n  - {name: a, commands: x}\n", 2, "matrix name '1PY'"),
    ("image: 'python:${PY}'\nsteps:\n  - {name: a, commands: x}\n", 1, "uses ${PY}, which only a matrix gives"),
    ("matrix:\n  include:\n    - {PY: '3.12'}\n    - {GO: '1.23'}\nsteps:\n  - {name: a, commands: x, image: 'py:${PY}'}\n",
     6, "uses ${PY}, which a matrix combination does not give"),
    ("matrix:\n  PY: ['3.12', '3 && rm']\nimage: 'python:${PY}'\nsteps:\n  - {name: a, commands: x}\n", 3,
     "image 'python:3 && rm' is not a Docker image reference"),
    ("matrix:\n  PG: ['16']\nimage: 'pg:${PG}'\nservices:\n  - {name: db}\nsteps:\n  - {name: a, commands: x}\n", 5,
     "service 'db' needs an image of its own"),
    ("matrix:\n  PG: ['16']\nservices:\n  - {name: db, image: 'pg:${PG}'}\nsteps:\n  - {name: a, commands: x}\n",
     4, "a service runs once for every combination: its image cannot use ${PG}"),
    ("steps:\n  - {name: a, commands: x}\nclone:\n  depth: 0\n", 4, "clone.depth must be a whole number"),
    ("steps:\n  - {name: a, commands: x}\nclone: {depth: '5'}\n", 3, "clone.depth must be a whole number"),
    ("steps:\n  - {name: a, commands: x}\nclone: {depth: 1e9}\n", 3, "clone.depth must be a whole number"),
    ("clone:\n  submodules: no-thanks\nsteps:\n  - {name: a, commands: x}\n", 2, "clone.submodules must be true or"),
    ("clone:\n  lfs: 'false'\nsteps:\n  - {name: a, commands: x}\n", 2, "clone.lfs must be true or false"),
    ("clone:\n  shallow: true\nsteps:\n  - {name: a, commands: x}\n", 2, "unknown clone key 'shallow'"),
    ("clone: skip\nsteps:\n  - {name: a, commands: x}\n", 1, "clone must be a mapping of depth, submodules"),
    ("matrix:\n  V: [a, '%s']\nsteps:\n  - {name: test, commands: x}\n" % ("b" * 92), 4,
     "is 101 characters with its matrix combination; at most 100"),
    # Stoker's image builder runs as a plugin alone: nothing of the file's may run in it.
    ("steps:\n  - name: a\n    image: stoker-image-builder\n    commands: [sh]\n", 4,
     "stoker-image-builder runs alone, as a plugin"),
    ("steps:\n  - name: a\n    image: stoker-image-builder:x\n    entrypoint: [sh, -c]\n", 4,
     "stoker-image-builder runs alone, as a plugin"),
    ("image: stoker-image-builder\nsteps:\n  - {name: a, commands: x}\n", 1,
     "stoker-image-builder runs alone, as a plugin"),
    ("services:\n  - {name: db, image: stoker-image-builder}\nsteps:\n  - {name: a, commands: x}\n", 2,
     "stoker-image-builder runs alone, as a plugin"),
    ("steps:\n  - name: a\n    image: stoker-image-builder\n    settings: {repo: r/x}\n"
     "    environment: {PATH: /workspace/bin}\n", 5, "stoker-image-builder takes settings alone, not environment"),
    ("steps:\n  - name: a\n    image: stoker-image-builder\n    settings: {repo: r/x}\n    secrets: [TOKEN]\n", 5,
     "stoker-image-builder takes settings alone, not secrets"),
])
def test_errors_name_the_line_at_fault(text, line, words):
    with pytest.raises(PlanError) as caught:
        parse(text)
    message = str(caught.value)
    assert message.startswith(f".stoker.yml line {line}: "), message
    assert words in message


def test_a_step_script_prints_each_command_and_stops_at_the_first_failure():
    script = Step("s", ("echo 'it''s' \"$0\"", "false", "echo never")).script()
    ran = subprocess.run(["sh", "-c", script], capture_output=True, text=True)
    assert ran.returncode == 1
    assert ran.stdout == "$ echo 'it''s' \"$0\"\nits sh\n$ false\n"


def test_a_file_without_depends_on_runs_in_order_and_depends_on_makes_a_graph():
    plan = parse("steps:\n  - {name: a, commands: x}\n  - {name: b, commands: x}\n"
                 "  - {name: c, commands: x, depends_on: []}\n  - {name: d, commands: x, depends_on: [a, c]}\n")
    assert plan.needs() == {"a": (), "b": ("a",), "c": (), "d": ("a", "c")}


def test_a_matrix_expands_into_one_graph_per_combination():
    plan = parse("matrix:\n  PY: ['3.11', '3.12']\n  include:\n    - {PY: '3.13', EXTRA: 'yes'}\n"
                 "steps:\n  - {name: test, commands: x}\n  - {name: report, commands: y}\n").expanded()
    assert plan.needs() == {
        "test (PY=3.11)": (), "report (PY=3.11)": ("test (PY=3.11)",),
        "test (PY=3.12)": (), "report (PY=3.12)": ("test (PY=3.12)",),
        "test (PY=3.13, EXTRA=yes)": (), "report (PY=3.13, EXTRA=yes)": ("test (PY=3.13, EXTRA=yes)",)}
    assert plan.steps[4].matrix == (("PY", "3.13"), ("EXTRA", "yes"))


def test_a_matrix_value_names_each_combinations_image():
    plan = parse("matrix:\n  PY: ['3.11', '3.12']\nimage: 'python:${PY}-slim'\nsteps:\n  - {name: test, commands: x}\n"
                 "  - {name: lint, commands: y, image: 'ruff:${PY}'}\n  - {name: docs, commands: z, image: sphinx}\n")
    assert [(step.name, step.image) for step in plan.expanded().steps] == [
        ("test (PY=3.11)", "python:3.11-slim"), ("lint (PY=3.11)", "ruff:3.11"), ("docs (PY=3.11)", "sphinx"),
        ("test (PY=3.12)", "python:3.12-slim"), ("lint (PY=3.12)", "ruff:3.12"), ("docs (PY=3.12)", "sphinx")]
    assert parse("matrix:\n  PY: ['3']\nsteps:\n  - {name: a, commands: x}\n").expanded().steps[0].image is None


def test_every_pipeline_file_the_readme_shows_reads():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    examples = re.findall(r"```yaml\n(.*?)```", readme, re.S)
    assert len(examples) >= 5
    for example in examples:
        parse(example)


def test_cache_paths_read_normalised_and_once_each():
    plan = parse("cache: [node_modules, ./node_modules/, .cache/pip]\nsteps:\n  - {name: a, commands: x}\n")
    assert plan.cache == ("node_modules", ".cache/pip")
    assert parse("cache: deps\nsteps:\n  - {name: a, commands: x}\n").cache == ("deps",)


def test_clone_reads_into_how_the_workspace_is_checked_out():
    assert parse("steps:\n  - {name: a, commands: x}\n").clone == Clone()
    plan = parse("clone: {depth: 50, submodules: false, lfs: no}\nsteps:\n  - {name: a, commands: x}\n")
    assert plan.clone == Clone(depth=50, submodules=False, lfs=False)
    assert parse("clone:\n  skip: true\nsteps:\n  - {name: a, commands: x}\n").clone.skip
