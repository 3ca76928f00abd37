"""One build run end to end against the real engine, and what it leaves behind: nothing."""
import pytest

from pipeline.engine import Sandbox
from pipeline.runner import BuildJob, Runner
from tests.support import TEST_IMAGE


@pytest.fixture
def runner(tmp_path, docker_client):
    return Runner(tmp_path / "data", sandbox=Sandbox(), allow_local_repos=True, git_timeout=30,
                  pull_registries=("127.0.0.1",))


def job(repo, command, build_id=7, image=TEST_IMAGE):
    return BuildJob(build_id=build_id, repo_url=repo.url, commit_hash=repo.repo.head.commit.hexsha,
                    branch="main", image=image, command=command)


def containers_of(docker_client, build_id):
    return docker_client.containers.list(all=True, filters={"label": f"stoker.build={build_id}"})


def test_the_command_runs_in_the_checkout_and_its_exit_code_is_returned(runner, local_repo, docker_client):
    outcome = runner.run(job(local_repo, 'test "$PWD" = /workspace && test -f ci.sh && '
                                         'test "$CI" = true && test "$STOKER_BUILD_ID" = 7 && exit 5'))
    assert (outcome.exit_code, outcome.error) == (5, None)
    assert (outcome.commit_message, outcome.commit_author) == ("Initial commit", "Ada Lovelace")


def test_nothing_is_left_behind_whether_the_build_passes_or_fails(runner, local_repo, docker_client, tmp_path):
    for build_id, command in ((8, "true"), (9, "exit 1"), (10, "touch made-by-build && exit 0")):
        runner.run(job(local_repo, command, build_id=build_id))
        assert containers_of(docker_client, build_id) == []
    assert list((tmp_path / "data" / "workspaces").iterdir()) == []


def test_the_build_has_no_network(runner, local_repo):
    outcome = runner.run(job(local_repo, "ip link | grep -v ' lo:' | grep -q 'state UP' && exit 9 || exit 0"))
    assert outcome.exit_code == 0


def test_a_missing_image_is_an_error_not_an_exit_code(runner, local_repo, tmp_path):
    outcome = runner.run(job(local_repo, "true", image="stoker-absent:none"))
    assert outcome.exit_code is None
    assert "stoker-absent:none" in outcome.error
    assert list((tmp_path / "data" / "workspaces").iterdir()) == []


def test_lines_of_steps_side_by_side_come_whole_each_with_its_prefix_and_a_long_one_in_pieces():
    from pipeline.runner import LinePrefixer

    given = []
    lines = LinePrefixer(b"[a] ", given.append)
    lines.feed(b"one\ntw")
    lines.feed(b"o\nthr")
    assert given == [b"[a] one\n", b"[a] two\n"]
    lines.flush()
    assert given[-1] == b"[a] thr\n"
    # Printed without a newline, a long line is not held whole.
    lines.feed(b"x" * (LinePrefixer.LONGEST_LINE * 2 + 5))
    assert given[-2:] == [b"[a] " + b"x" * LinePrefixer.LONGEST_LINE + b"\n"] * 2
    assert lines.partial == b"x" * 5


def test_a_gated_container_runs_its_command_only_once_let_past_its_gate(tmp_path, docker_client):
    import time

    from pipeline.docker_engine import DockerEngine
    from pipeline.engine import GATE, ContainerSpec

    engine = DockerEngine()

    def gated(build_id, mark):
        return ContainerSpec(image=TEST_IMAGE, command=("sh", "-c", f"{GATE}touch {mark}; echo ran"),
                             workspace=tmp_path, workdir="/workspace", sandbox=Sandbox(),
                             labels={"stoker.build": str(build_id)}, gated=True)

    spec = gated(21, "opened")
    handle, output, gate = engine.ahead(spec)
    time.sleep(0.5)
    handle.reload()
    assert handle.status == "running" and not (tmp_path / "opened").exists()
    said = []
    assert engine.run(spec, said.append, ahead=(handle, output, gate)).code == 0
    assert (tmp_path / "opened").exists() and b"".join(said) == b"ran\n"
    assert containers_of(docker_client, 21) == []

    # Its input ends without the word (as when Stoker dies): the command never runs.
    handle, output, gate = engine.ahead(gated(22, "never"))
    gate.close()
    assert engine.wait(handle).code == 125
    assert not (tmp_path / "never").exists()
    engine.remove(handle)


def test_a_commit_with_a_plan_never_runs_the_build_command_started_ahead_for_it(runner, local_repo, docker_client):
    # The last build had no plan, so the next one's build command is started ahead, held at its gate.
    assert runner.run(job(local_repo, "touch started-ahead", build_id=23)).exit_code == 0
    local_repo.commit({".stoker.yml": "steps:\n  - name: check\n    commands:\n"
                                      "      - sleep 1\n      - test ! -e started-ahead\n"})
    outcome = runner.run(job(local_repo, "touch started-ahead", build_id=24))
    assert (outcome.exit_code, outcome.error) == (0, None)
    assert containers_of(docker_client, 24) == []


def test_what_a_build_leaves_is_removed_when_its_caller_says(runner, local_repo, docker_client, tmp_path):
    from contextlib import ExitStack

    with ExitStack() as later:
        outcome = runner.run(job(local_repo, "true", build_id=25), later=later)
        assert outcome.exit_code == 0
        # Reported while its (ended) container and its workspace are still there.
        assert [c.status for c in containers_of(docker_client, 25)] == ["exited"]
        assert len(list((tmp_path / "data" / "workspaces").iterdir())) == 1
    assert containers_of(docker_client, 25) == []
    assert list((tmp_path / "data" / "workspaces").iterdir()) == []
