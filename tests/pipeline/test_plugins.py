"""Plugin steps and any image in .stoker.yml: `settings:` read into PLUGIN_* variables, `entrypoint:`, and
the CI_* variables every container is told, each error naming the line at fault."""
import json

import pytest

from pipeline.plan import PlanError, parse, run_variable_refused
from pipeline.plugins import SecretMissing, repository, variables
from pipeline.runner import BuildJob

PLUGIN = """\
steps:
  - name: publish
    image: stoker-busybox:latest
    settings:
      repo: team/app
      tags: [latest, "1.2", 3]
      dry-run: True
      verbose: no
      retries: 3
      ratio: 1.50
      labels: {a: 1, b: [x, yes], c: null}
      targets: [{os: linux}, {os: mac}]
      skipped: ~
      token:
        from_secret: DEPLOY_TOKEN
"""


def test_settings_become_plugin_variables_as_woodpecker_gives_them():
    step = parse(PLUGIN).steps[0]
    assert step.commands == () and step.script() is None
    given = variables(step.settings, {"DEPLOY_TOKEN": "the-deploy-token", "OTHER": "x"})
    assert given == {
        "PLUGIN_REPO": "team/app",
        "PLUGIN_TAGS": "latest,1.2,3",
        "PLUGIN_DRY_RUN": "true",
        "PLUGIN_VERBOSE": "false",
        "PLUGIN_RETRIES": "3",
        "PLUGIN_RATIO": "1.50",
        "PLUGIN_LABELS": '{"a":1,"b":["x",true],"c":null}',
        "PLUGIN_TARGETS": '[{"os":"linux"},{"os":"mac"}]',
        "PLUGIN_TOKEN": "the-deploy-token",
    }
    assert json.loads(given["PLUGIN_LABELS"]) == {"a": 1, "b": ["x", True], "c": None}
    # A plugin's image gets no secret as a plain variable unless the step names it.
    assert step.secrets == ()
    assert parse(PLUGIN.replace("    settings:", "    secrets: [OTHER]\n    settings:")).steps[0].secrets == ("OTHER",)


def test_a_secret_the_build_is_not_given_fails_naming_the_setting_not_a_value():
    step = parse(PLUGIN).steps[0]
    with pytest.raises(SecretMissing) as caught:
        variables(step.settings, {"OTHER": "another-value"})
    message = str(caught.value)
    assert message.startswith("setting 'token' (line 14) takes its value from the secret 'DEPLOY_TOKEN', "
                              "which this build is not given"), message
    assert "another-value" not in message


def test_entrypoint_is_a_list_or_a_text_split_as_a_shell_would():
    plan = parse("steps:\n  - {name: own, image: terraform}\n"
                 "  - {name: listed, image: terraform, entrypoint: [/bin/tool, 'two words']}\n"
                 "  - {name: split, image: terraform, entrypoint: \"/bin/tool --flag 'two words'\"}\n"
                 "  - {name: shell, entrypoint: [bash, -c], commands: [echo hi]}\n")
    assert [(step.entrypoint, step.script() is None) for step in plan.steps] == [
        (None, True), (("/bin/tool", "two words"), True), (("/bin/tool", "--flag", "two words"), True),
        (("bash", "-c"), False)]


def test_a_service_may_name_its_entrypoint_too():
    plan = parse("services:\n  - {name: db, image: postgres, entrypoint: [postgres, -F]}\n"
                 "steps:\n  - {name: a, commands: x}\n")
    assert plan.services[0].entrypoint == ("postgres", "-F")


@pytest.mark.parametrize("text, line, words", [
    ("steps:\n  - name: a\n    commands: [make]\n    settings:\n      repo: x\n", 4,
     "a step has commands or settings, not both"),
    ("steps:\n  - name: a\n    image: p\n    settings:\n      repo: x\n      'bad name': y\n", 6,
     "setting name 'bad name' must be letters, digits, '-' and '_'"),
    ("steps:\n  - name: a\n    image: p\n    settings:\n      $(id): y\n", 5, "setting name '$(id)'"),
    ("steps:\n  - name: a\n    image: p\n    settings:\n      -x: y\n", 5, "setting name '-x'"),
    ("steps:\n  - name: a\n    image: p\n    settings:\n      dry-run: 1\n      dry_run: 2\n", 6,
     "settings 'dry-run' and 'dry_run' are both PLUGIN_DRY_RUN"),
    ("steps:\n  - name: a\n    image: p\n    settings: [x]\n", 4, "settings must be a mapping of name: value"),
    ("steps:\n  - name: a\n    image: p\n    settings:\n      token: {from_secret: 'no such'}\n", 5,
     "from_secret must name a secret"),
    ("steps:\n  - name: a\n    image: p\n    settings:\n      token: {from_secret: T, also: x}\n", 5,
     "a value with from_secret has nothing else"),
    ("steps:\n  - name: a\n    image: p\n    settings:\n      tokens:\n        - {from_secret: T}\n", 6,
     "from_secret must be a setting's whole value"),
    ("steps:\n  - name: a\n    image: p\n    settings:\n      big: '%s'\n" % ("x" * 70_000), 5,
     "setting 'big' is 70000 bytes as a variable; at most 65536"),
    ("steps:\n  - name: a\n    image: p\n    settings:\n      nul: \"a\\0b\"\n", 5,
     "setting 'nul' holds a NUL character"),
    ("steps:\n  - name: a\n    image: p\n    entrypoint: []\n", 4, "entrypoint must be a program and its arguments"),
    ("steps:\n  - name: a\n    image: p\n    entrypoint: {x: y}\n", 4, "entrypoint must be a program"),
    ("steps:\n  - name: a\n    image: p\n    entrypoint: [sh, '']\n", 4,
     "each word of entrypoint must be a non-empty text"),
    ("steps:\n  - name: a\n    image: p\n    entrypoint: \"sh -c 'unclosed\"\n", 4,
     "entrypoint cannot be split into words"),
    ("steps:\n  - name: a\n    image: p\n    entrypoint: [sh, [nested]]\n", 4, "each word of entrypoint must be"),
    ("steps:\n  - name: a\n    image: p\n    entrypoint: \"sh\\0x\"\n", 4, "entrypoint must be a program"),
    ("steps:\n  - name: a\n    pull: always\n", 2, "each step needs a name and commands, or an image"),
])
def test_plugin_and_entrypoint_errors_name_the_line_at_fault(text, line, words):
    with pytest.raises(PlanError) as caught:
        parse(text)
    message = str(caught.value)
    assert message.startswith(f".stoker.yml line {line}: "), message
    assert words in message, message


def test_a_run_may_set_neither_ci_nor_plugin_variables():
    for name in ("CI_REPO", "ci_commit_sha", "PLUGIN_TOKEN", "plugin_repo"):
        assert run_variable_refused(name), name
    assert run_variable_refused("DEPLOY_TARGET") is None


@pytest.mark.parametrize("url, owner, name", [
    ("git@github.com:team/app.git", "team", "app"),
    ("https://github.com/team/app.git", "team", "app"),
    ("https://gitlab.example.com/group/sub/app", "group/sub", "app"),
    ("ssh://git@host:2222/team/app.git/", "team", "app"),
    ("/srv/git/app.git", "srv/git", "app"),
])
def test_a_repository_is_named_from_its_urls_path(url, owner, name):
    assert repository(url) == (owner, name)


def job(**fields):
    return BuildJob(**{"build_id": 42, "repo_url": "https://git.example.com/team/app.git", "commit_hash": "a" * 40,
                       "branch": "main", "image": "i", "command": "c", **fields})


def test_the_ci_variables_of_a_tag_and_a_pull_request():
    tag = job(event="tag", ref="refs/tags/v1.2.0", branch="v1.2.0").environment()
    assert tag["CI_COMMIT_TAG"] == "v1.2.0" and tag["CI_COMMIT_REF"] == "refs/tags/v1.2.0"
    assert "CI_COMMIT_BRANCH" not in tag and "CI_COMMIT_PULL_REQUEST" not in tag
    pull = job(event="pull_request", ref="refs/pull/7/head", branch="feature", base_branch="main").environment()
    assert (pull["CI_COMMIT_PULL_REQUEST"], pull["CI_COMMIT_TARGET_BRANCH"], pull["CI_COMMIT_BRANCH"],
            pull["CI_COMMIT_SOURCE_BRANCH"], pull["CI_PIPELINE_EVENT"]) == ("7", "main", "main", "feature",
                                                                            "pull_request")
    assert "CI_COMMIT_TAG" not in pull
    # The commit's message and author from git where the build's record has none (a manual run).
    manual = job(event="manual").environment(("Fix it\n\nBody", "Ada"))
    assert (manual["CI_COMMIT_MESSAGE"], manual["CI_COMMIT_AUTHOR"]) == ("Fix it\n\nBody", "Ada")
    assert "CI_PIPELINE_URL" not in manual
