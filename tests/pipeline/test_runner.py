"""One build run end to end against the real engine, and what it leaves behind: nothing."""
import pytest

from pipeline.backend import BuildSpec, Sandbox, StepSpec, named
from pipeline.runner import BuildJob, Runner
from tests.support import TEST_IMAGE, labelled


@pytest.fixture
def runner(tmp_path, docker_client):
    return Runner(tmp_path / "data", backend=named("docker"), sandbox=Sandbox(), allow_local_repos=True,
                  git_timeout=30, pull_registries=("127.0.0.1",))


def job(repo, command, build_id=7, image=TEST_IMAGE):
    return BuildJob(build_id=build_id, repo_url=repo.url, commit_hash=repo.repo.head.commit.hexsha,
                    branch="main", image=image, command=command)


def containers_of(docker_client, build_id):
    return labelled(docker_client, f"stoker.build={build_id}")


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


def test_a_containers_line_starting_as_stokers_own_is_marked_however_its_pieces_fall():
    from pipeline.lines import NoOwnLines

    given = []
    output = NoOwnLines(given.append)
    for piece in (b"==> one\n", b"a ==> b\n=", b"=", b"> two\r==", b"x\n", b"==> three\n==>", b" four\n="):
        output(piece)
    output.flush()
    assert b"".join(given) == b"\\==> one\na ==> b\n\\==> two\r==x\n\\==> three\n\\==> four\n="

    # What a page draws as nothing before it does not hide it: colour codes, other controls, zero widths.
    given.clear()
    output = NoOwnLines(given.append)
    for piece in (b"\x1b[0m==> five\n\xe2\x80\x8b==> six\n\x1b", b"[31m==> seven\n\x07==> eight\n"):
        output(piece)
    output.flush()
    assert b"".join(given) == (b"\x1b[0m\\==> five\n\xe2\x80\x8b\\==> six\n\x1b[31m\\==> seven\n"
                               b"\x07\\==> eight\n")


def test_lines_of_steps_side_by_side_come_whole_each_with_its_prefix_and_a_long_one_in_pieces():
    from pipeline.lines import LinePrefixer

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

    backend = named("docker")

    def gated(build_id, script):
        return (BuildSpec(name=f"build-{build_id}", workspace=tmp_path, sandbox=Sandbox(),
                          labels={"stoker.build": str(build_id)}), StepSpec(image=TEST_IMAGE, script=script))

    spec, step = gated(21, "touch opened; echo ran")
    build = backend.setup_build(spec)
    ahead = backend.start_ahead(build, step)
    time.sleep(0.5)
    ahead.handle.reload()
    assert ahead.handle.status == "running" and not (tmp_path / "opened").exists()
    said = []
    assert backend.run_step(build, step, said.append, ahead=ahead).code == 0
    assert (tmp_path / "opened").exists() and b"".join(said) == b"ran\n"
    assert containers_of(docker_client, 21) == []

    # Its input ends without the word (as when Stoker dies): the command never runs.
    spec, step = gated(22, "touch never")
    ahead = backend.start_ahead(backend.setup_build(spec), step)
    ahead.gate.close()
    assert backend.wait_step(ahead).code == 125
    assert not (tmp_path / "never").exists()
    backend.destroy_step(ahead)


def test_a_script_runs_in_a_shell_whatever_the_images_entrypoint_started_ahead_or_in_its_turn(
        runner, local_repo, tmp_path, entrypoint_image):
    backend = named("docker")
    spec = BuildSpec(name="build-27", workspace=tmp_path, sandbox=Sandbox(), labels={"stoker.build": "27"})
    step = StepSpec(image=entrypoint_image, script='echo "ran in $CI_WORKSPACE"')
    build = backend.setup_build(spec)
    said = []
    assert backend.run_step(build, step, said.append, ahead=backend.start_ahead(build, step)).code == 0
    assert b"".join(said) == b"ran in /workspace\n"
    said.clear()
    assert backend.run_step(build, step, said.append).code == 0
    assert b"".join(said) == b"ran in /workspace\n"

    # The whole build, its command made ready while git fetches.
    said.clear()
    outcome = runner.run(job(local_repo, 'echo "ran in $PWD"', build_id=28, image=entrypoint_image),
                         on_output=said.append)
    assert outcome.exit_code == 0 and b"\nran in /workspace\n" in b"".join(said)


@pytest.mark.parametrize("script, shown, code", [
    # No newline at the end, and a line that looks like an exit line but has another word.
    ("printf 'no newline'; printf 'abc0\\n'; exit 3", b"no newlineabc0\n", 3),
    ("echo out; echo err >&2; false", b"out\nerr\n", 1),
    # An exit inside the script is the script's exit, not the wrapper's.
    ("echo before; exit 0; echo after", b"before\n", 0),
    # What the script leaves running in the background prints after its end: not shown.
    ("(sleep 0.3; echo late) & echo now", b"now\n", 0),
])
def test_a_gated_script_ends_with_its_own_exit_code_and_exactly_its_output(tmp_path, docker_client, script,
                                                                             shown, code):
    backend = named("docker")
    spec = BuildSpec(name="build-26", workspace=tmp_path, sandbox=Sandbox(), labels={"stoker.build": "26"})
    step = StepSpec(image=TEST_IMAGE, script=script)
    said = []
    build = backend.setup_build(spec)
    ahead = backend.start_ahead(build, step)
    assert backend.run_step(build, step, said.append, ahead=ahead).code == code
    assert b"".join(said) == shown


def test_an_exit_line_split_anywhere_is_found_and_nothing_else_is_held_back():
    from pipeline.backend.docker.containers import ExitLine

    output = b"compiling\npartial ab" + b"f00d" * 8 + b"12\nlate\n"
    report = b"f00d" * 8
    for cut in range(1, len(output)):
        lines = ExitLine(report)
        first, code = lines.feed(output[:cut])
        if code is None:
            second, code = lines.feed(output[cut:])
            first += second
        assert (first, code) == (b"compiling\npartial ab", 12)
    lines = ExitLine(report)
    assert lines.feed(b"ends with f0") == (b"ends with ", None)  # may be the line's start: held
    assert lines.feed(b"x\n") == (b"f0x\n", None)  # was not
    assert lines.feed(b"plain\n") == (b"plain\n", None)


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
        # Reported while its container (its command ended; the engine may still be ending it) and its
        # workspace are still there.
        assert len(containers_of(docker_client, 25)) == 1
        assert len(list((tmp_path / "data" / "workspaces").iterdir())) == 1
    assert containers_of(docker_client, 25) == []
    assert list((tmp_path / "data" / "workspaces").iterdir()) == []
