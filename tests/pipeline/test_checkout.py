"""The workspace as a git repository: checked out from the mirror with its history, tags, submodules
and LFS files, its submodules' URLs held to a project's rules, and nothing in it that reaches back.

The build image (a static busybox) has no git. So the build's own steps check what a shell can see
(`.git/HEAD`, a submodule's file, an LFS file's bytes), and the host runs real git on the very
workspace the build ran in: Runner.run given `later` keeps the workspace until the caller closes it,
as the worker does to report a result first.
"""
import hashlib
import os
import subprocess
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline.backend import Sandbox, named
from pipeline.git import GitError
from pipeline.git.checkout import Clone, Head, _Checkout, check_out
from pipeline.git.command import NO_ACCESS, Access
from pipeline.git.mirror import GitMirror, ObjectReader, mirror_path
from pipeline.runner import BuildJob, Runner
from tests.support import TEST_IMAGE, LocalRepo, processes_started


def git(path, *args):
    """git as a build image's would be: with no config of this host's (whose git-lfs filter it may lack)."""
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, check=True,
                          env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}).stdout.strip()


def mirrors_at(root, allow_local=True, allow_private_hosts=False):
    """`mirror_of(url, access)` as a Runner's: a GitMirror with a reader under `root`."""
    def mirror_of(url, access=NO_ACCESS):
        return GitMirror(root, url, allow_local=allow_local, timeout=30, allow_private_hosts=allow_private_hosts,
                         access=access, reader=ObjectReader(mirror_path(root, url, access)))
    return mirror_of


def checked_out(repo, tmp_path, head=None, clone=Clone(), **rules):
    """The repository's head (or `head`) checked out into a new folder, as a build's workspace is."""
    mirror_of = mirrors_at(tmp_path / "mirrors", **rules)
    mirror = mirror_of(repo.url)
    head = head or Head(repo.repo.head.commit.hexsha, "main")
    mirror.fetch(head.commit)
    dest = tmp_path / "ws"
    dest.mkdir()
    check_out(mirror, head, dest, clone, mirror_of)
    return dest


@pytest.fixture
def tagged(local_repo):
    """A Python package whose version comes from `git describe`: a tag v1.2.3 and a commit after it."""
    local_repo.commit({"setup.py": (
        "import subprocess\nfrom setuptools import setup\n"
        "described = subprocess.run(['git', 'describe', '--tags'], capture_output=True, text=True, check=True)\n"
        "tag, ahead, sha = described.stdout.strip().lstrip('v').split('-')\n"
        "setup(name='demo', version=f'{tag}.post{ahead}+{sha}')\n")}, message="Versioned by git")
    local_repo.tag("v1.2.3", "Release 1.2.3")
    local_repo.commit({"news.txt": "after the release\n"}, message="After the release")
    return local_repo


def test_the_checkout_is_a_repository_at_the_commit_on_its_branch_with_history_and_tags(tagged, tmp_path):
    ws = checked_out(tagged, tmp_path)
    head = tagged.repo.head.commit.hexsha
    assert git(ws, "rev-parse", "HEAD") == head and git(ws, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert git(ws, "describe", "--tags") == f"v1.2.3-1-g{head[:7]}"
    assert git(ws, "rev-list", "--count", "HEAD") == "3"
    assert git(ws, "status", "--porcelain") == ""
    assert git(ws, "remote", "get-url", "origin") == tagged.url
    version = subprocess.run(["python3", "setup.py", "--version"], cwd=ws, capture_output=True, text=True, check=True)
    assert version.stdout.strip().splitlines()[-1] == f"1.2.3.post1+g{head[:7]}"
    assert sorted(p.name for p in ws.iterdir()) == [".git", "ci.sh", "news.txt", "setup.py"]


def test_an_older_commit_checks_out_its_own_tree(local_repo, tmp_path):
    old = local_repo.repo.head.commit.hexsha
    local_repo.commit({"ci.sh": "changed\n"})
    ws = checked_out(local_repo, tmp_path, Head(old, "main"))
    assert (ws / "ci.sh").read_text() == "echo building\ntest -f ci.sh\n"
    assert git(ws, "rev-parse", "main") == old


def test_a_pull_request_stands_at_its_head_with_its_base_branch_beside_it(local_repo, tmp_path):
    base = local_repo.repo.head.commit.hexsha
    local_repo.branch("feature")
    pr_head = local_repo.commit({"feature.txt": "new\n"}, message="The change")
    local_repo.git("update-ref", "refs/pull/4/head", pr_head)
    local_repo.git("checkout", "-q", "main")
    main_now = local_repo.commit({"main.txt": "meanwhile\n"}, message="Meanwhile on main")
    job = BuildJob(build_id=1, repo_url=local_repo.url, commit_hash=pr_head, branch="feature", image=TEST_IMAGE,
                   command="true", event="pull_request", ref="refs/pull/4/head", base_branch="main")
    ws = checked_out(local_repo, tmp_path, job.head())
    assert git(ws, "rev-parse", "HEAD") == pr_head
    assert subprocess.run(["git", "-C", str(ws), "symbolic-ref", "-q", "HEAD"]).returncode == 1  # detached
    assert git(ws, "rev-parse", "refs/remotes/origin/main") == main_now
    assert git(ws, "merge-base", "HEAD", "origin/main") == base


def test_a_tag_pushed_after_its_commit_was_fetched_is_checked_out_as_the_tag(local_repo, tmp_path):
    commit = local_repo.repo.head.commit.hexsha
    mirror = mirrors_at(tmp_path / "mirrors")(local_repo.url)
    mirror.fetch(commit)
    local_repo.tag("v2.0.0")
    assert mirror.fetch(commit, "refs/tags/v2.0.0")  # it has the commit, but not yet the tag
    job = BuildJob(build_id=1, repo_url=local_repo.url, commit_hash=commit, branch="main", image=TEST_IMAGE,
                   command="true", event="tag", ref="refs/tags/v2.0.0")
    ws = checked_out(local_repo, tmp_path, job.head())
    assert git(ws, "describe", "--exact-match", "--tags") == "v2.0.0"


def test_a_base_branch_or_tag_the_remote_no_longer_has_is_left_out(local_repo, tmp_path):
    commit = local_repo.repo.head.commit.hexsha
    gone = Head(commit, also=(("refs/heads/deleted", "refs/remotes/origin/deleted"), ("refs/tags/v9", "refs/tags/v9")))
    ws = checked_out(local_repo, tmp_path, gone)
    assert git(ws, "rev-parse", "HEAD") == commit
    assert git(ws, "for-each-ref") == ""


def test_a_depth_makes_a_shallow_repository(tagged, tmp_path):
    ws = checked_out(tagged, tmp_path, clone=Clone(depth=1))
    assert (ws / ".git" / "shallow").read_text().strip() == tagged.repo.head.commit.hexsha
    assert git(ws, "rev-list", "--count", "HEAD") == "1"


@pytest.fixture
def with_submodule_and_lfs(tmp_path, local_repo):
    """The project's repository with an LFS file and, at vendor/lib, a submodule given by a relative
    URL, which has a submodule of its own."""
    inner = LocalRepo(tmp_path / "inner")
    inner_head = inner.commit({"inner.txt": "deepest\n"})
    lib = LocalRepo(tmp_path / "lib")
    lib.commit({"lib.txt": "from the submodule\n"})
    lib_head = lib.link_submodule("third_party/inner", str(inner.path), inner_head)
    content = os.urandom(3000)
    local_repo.commit_lfs({"big.bin": content})
    local_repo.link_submodule("vendor/lib", "../lib", lib_head)
    return local_repo, content


def test_submodules_come_recursively_and_lfs_files_are_smudged(with_submodule_and_lfs, tmp_path):
    repo, content = with_submodule_and_lfs
    ws = checked_out(repo, tmp_path)
    assert (ws / "big.bin").read_bytes() == content
    assert (ws / "vendor/lib/lib.txt").read_text() == "from the submodule\n"
    assert (ws / "vendor/lib/third_party/inner/inner.txt").read_text() == "deepest\n"
    assert git(ws, "status", "--porcelain") == ""
    assert git(ws, "config", "submodule.vendor/lib.url") == str(tmp_path / "lib")
    assert git(ws / "vendor/lib", "rev-parse", "HEAD") == repo.repo.head.commit.tree["vendor/lib"].hexsha


def test_submodules_and_lfs_can_each_be_left_out(with_submodule_and_lfs, tmp_path):
    repo, content = with_submodule_and_lfs
    ws = checked_out(repo, tmp_path, clone=Clone(submodules=False, lfs=False))
    assert (ws / "big.bin").read_bytes().startswith(b"version https://git-lfs.github.com/spec/v1")
    assert list((ws / "vendor/lib").iterdir()) == []


def test_a_repository_with_lfs_files_fails_clearly_without_git_lfs(with_submodule_and_lfs, tmp_path, monkeypatch):
    repo, _ = with_submodule_and_lfs
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(GitError, match="git-lfs is not installed"):
        checked_out(repo, tmp_path)


MARKER = "/tmp/stoker-submodule-ran"
HOSTILE_SUBMODULE_URLS = [
    f"ext::sh -c touch% {MARKER}",
    f"--upload-pack=touch {MARKER}",
    f"-u touch {MARKER}",
    f"ssh://-oProxyCommand=touch%20{MARKER}/repo",
    "https://10.0.0.7/team/private.git",
    "https://169.254.169.254/latest/meta-data",
    "http://example.com/plain-http.git",
]


@pytest.mark.parametrize("url", HOSTILE_SUBMODULE_URLS)
def test_a_hostile_submodule_url_is_refused_naming_the_submodule_and_nothing_runs(local_repo, tmp_path, url):
    Path(MARKER).unlink(missing_ok=True)
    local_repo.link_submodule("vendor/evil", url, "1" * 40, name="evil")
    with processes_started() as spawned, pytest.raises(GitError) as refused:
        checked_out(local_repo, tmp_path)
    assert "submodule 'evil' (vendor/evil)" in str(refused.value) and "refused" in str(refused.value)
    assert not Path(MARKER).exists()
    # Nothing was started for it: no mirror of it, no git given its URL.
    assert not [args for _, args in spawned if any(url in str(arg) for arg in args)]
    assert len(list((tmp_path / "mirrors").glob("*.git"))) == 1


def test_a_local_submodule_is_refused_where_local_repositories_are_not_allowed(local_repo, tmp_path):
    # The project's own repository is reached as a local one here (allowed for the mirror it is
    # fetched into); its submodule is held to the server's rule, which refuses local paths.
    other = LocalRepo(tmp_path / "other")
    local_repo.link_submodule("vendor/other", f"file://{other.path}", other.commit({"o.txt": "o\n"}))
    mirror = mirrors_at(tmp_path / "mirrors")(local_repo.url)
    mirror.fetch(local_repo.repo.head.commit.hexsha)
    dest = tmp_path / "ws"
    dest.mkdir()
    mirror.allow_local = False
    with pytest.raises(GitError, match="submodule 'vendor/other' .* is refused"):
        check_out(mirror, Head(local_repo.repo.head.commit.hexsha, "main"), dest, Clone(),
                  mirrors_at(tmp_path / "mirrors", allow_local=False))


@pytest.mark.parametrize("url, credentialed", [
    ("../lib.git", True),
    ("https://127.0.0.1:8443/other/lib.git", True),
    ("https://127.0.0.1/other/lib.git", False),       # another port: another server
    ("https://127.0.0.2:8443/other/lib.git", False),  # another host
    ("ssh://git@127.0.0.1:8443/other/lib.git", False),
])
def test_the_projects_token_goes_to_a_submodule_on_its_own_host_alone(tmp_path, url, credentialed):
    token = Access(token="glpat-only-for-its-own-host")
    project = SimpleNamespace(url="https://127.0.0.1:8443/team/app.git", access=token, allow_local=False,
                              allow_private_hosts=True, timeout=30)
    asked = []

    def mirror_of(resolved, access):
        asked.append((resolved, access))
        raise GitError("not fetched in this test")

    (tmp_path / "vendor/lib").mkdir(parents=True)
    with pytest.raises(GitError, match="not fetched in this test"):
        _Checkout(project, Clone(), mirror_of)._submodule(project, "lib", "vendor/lib", url, "1" * 40, tmp_path, 1)
    [(resolved, access)] = asked
    assert resolved == ("https://127.0.0.1:8443/team/lib.git" if url == "../lib.git" else url)
    assert access == (token if credentialed else NO_ACCESS)


def test_the_checkout_shares_no_file_with_the_mirror(local_repo, tmp_path):
    ws = checked_out(local_repo, tmp_path)
    assert not (ws / ".git/objects/info/alternates").exists()
    files = [p for p in (ws / ".git").rglob("*") if p.is_file()]
    assert files and all(p.stat().st_nlink == 1 for p in files)


# --- builds, end to end with the real engine -----------------------------------------------

@pytest.fixture
def runner(tmp_path, docker_client):
    return Runner(tmp_path / "data", backend=named("docker"), sandbox=Sandbox(), allow_local_repos=True,
                  git_timeout=30, pull_registries=("127.0.0.1",))


@contextmanager
def build_of(runner, repo, command, **fields):
    """Run a build of the repository's head; yields its outcome and its workspace, kept until the block ends."""
    job = BuildJob(build_id=41, repo_url=repo.url, commit_hash=repo.repo.head.commit.hexsha, branch="main",
                   image=TEST_IMAGE, command=command, **fields)
    with ExitStack() as later:
        outcome = runner.run(job, later=later)
        yield outcome, next(runner.workspaces.glob("build-41-*"))


def test_a_build_runs_in_a_repository_whose_version_git_describes(runner, tagged):
    check = 'test "$(cat .git/HEAD)" = "ref: refs/heads/main" && test -f .git/index && test -f setup.py'
    with build_of(runner, tagged, check) as (outcome, ws):
        assert (outcome.exit_code, outcome.error) == (0, None)
        assert git(ws, "describe", "--tags") == f"v1.2.3-1-g{tagged.repo.head.commit.hexsha[:7]}"


def test_a_build_sees_its_submodules_and_its_lfs_files(runner, with_submodule_and_lfs):
    repo, content = with_submodule_and_lfs
    digest = hashlib.md5(content).hexdigest()
    check = (f'test "$(md5sum big.bin | cut -d" " -f1)" = {digest} && '
             'test "$(cat vendor/lib/third_party/inner/inner.txt)" = deepest')
    with build_of(runner, repo, check) as (outcome, ws):
        assert (outcome.exit_code, outcome.error) == (0, None)


def test_a_build_with_a_hostile_submodule_fails_naming_it(runner, local_repo):
    Path(MARKER).unlink(missing_ok=True)
    local_repo.link_submodule("vendor/evil", f"ext::sh -c touch% {MARKER}", "1" * 40, name="evil")
    with build_of(runner, local_repo, "true") as (outcome, ws):
        assert outcome.exit_code is None
        assert outcome.error.startswith("checkout failed: submodule 'evil' (vendor/evil): its URL")
    assert not Path(MARKER).exists()


def test_what_a_build_does_to_its_git_objects_never_reaches_the_mirror(runner, local_repo, tmp_path):
    head = local_repo.commit({"more.txt": "more\n"})
    runner.mirror(local_repo.url).fetch(head)
    mirror = next((tmp_path / "data" / "mirrors").glob("*.git"))

    def mirror_files():
        return {p: p.read_bytes() for p in mirror.rglob("*") if p.is_file()}

    before = mirror_files()
    # Root in the container, with no capability to override modes, is still the files' owner.
    vandal = ('test ! -e .git/objects/info/alternates && find .git/objects -type f -exec chmod u+w {} + && '
              'find .git/objects -type f | while read f; do echo vandalised > "$f"; done')
    with build_of(runner, local_repo, vandal) as (outcome, ws):
        assert (outcome.exit_code, outcome.error) == (0, None)
        assert (ws / ".git/objects/pack").exists() or list((ws / ".git/objects").iterdir())
    assert mirror_files() == before
    subprocess.run(["git", "--git-dir", str(mirror), "fsck", "--strict"], check=True, capture_output=True)


def test_clone_depth_and_skip_reach_the_build_and_a_bad_value_fails_naming_its_line(build_with, local_repo):
    local_repo.commit({"second.txt": "2\n"})
    build, log = build_with("clone: {depth: 1}\nsteps:\n  - name: shallow\n    commands: test -f .git/shallow\n")
    assert build["status"] == "passed", log

    build, log = build_with('clone:\n  skip: true\nsteps:\n  - name: empty\n    commands: test -z "$(ls -A)"\n')
    assert build["status"] == "passed", log
    assert "No checkout" in log

    build, log = build_with("steps:\n  - name: a\n    commands: true\nclone:\n  depth: many\n")
    assert build["status"] == "failed"
    assert build["error"] == ".stoker.yml line 5: clone.depth must be a whole number of commits, 1 or more"
