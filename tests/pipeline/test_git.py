"""What Stoker hands to git, and the bare mirror each repository is built from."""
import os

import pytest

from pipeline.git import (
    GitError,
    GitMirror,
    check_branch,
    check_commit_hash,
    check_repo_url,
    ls_remote_branch,
)


@pytest.mark.parametrize("url", [
    "https://github.com/octo/demo.git",
    "https://github.com/octo/demo",
    "https://git.example.com:8443/team/repo.git",
    "git@github.com:octo/demo.git",
    "ssh://git@github.com/octo/demo.git",
    "ssh://git@ssh.github.com:443/octo/demo.git",
])
def test_remote_urls_people_use_are_accepted(url):
    assert check_repo_url(url, allow_local=False) == url


@pytest.mark.parametrize("url, allow_local, allow_private", [
    ("ext::sh -c id", True, True),
    ("-uhello", True, True),
    ("--upload-pack=id", True, True),
    ("https://github.com/octo/demo --upload-pack=id", True, True),
    ("file:///srv/repo", False, False),
    ("/srv/repo", False, False),
    ("relative/repo", True, True),
    ("http://github.com/octo/demo", True, True),
    ("ssh://github.com/octo/demo", True, True),
    ("ssh://git:password@github.com/octo/demo", True, True),
    ("ssh://git@github.com/", True, True),
    ("ssh://git@github.com/octo/demo?x=1", True, True),
    ("ssh://git@-oProxyCommand=id/repo", True, True),
    ("ssh://-oProxyCommand=id@github.com/repo", True, True),
    ("ssh://git@github.com:99999/repo", True, True),
    ("ssh://git@127.0.0.1:2222/repo", True, False),
    ("ssh://git@169.254.169.254/repo", True, True),
    ("https://169.254.169.254/latest", True, True),
    ("https://[fe80::1]/repo", True, True),
    ("https://0.0.0.0/repo", True, True),
    ("https://127.0.0.1/repo", True, False),
    ("https://localhost/repo", True, False),
    ("https://192.168.1.5/repo", True, False),
    ("git@10.0.0.7:team/repo", True, False),
    ("https://github.com/", True, True),
    ("https://github.com/octo/demo?x=1", True, True),
    ("https://exa mple.com/repo", True, True),
    ("https://github.com/octo/demo\n", True, True),
    ("git@-oProxyCommand=id:repo", True, True),
])
def test_urls_git_must_never_see_are_refused(url, allow_local, allow_private):
    with pytest.raises(ValueError):
        check_repo_url(url, allow_local=allow_local, allow_private_hosts=allow_private)


def test_private_hosts_need_their_own_permission():
    assert check_repo_url("https://10.0.0.7/team/repo.git", False, allow_private_hosts=True)
    assert check_repo_url("/srv/repo", allow_local=True, allow_private_hosts=False)


@pytest.mark.parametrize("name", ["main", "release/1.x", "feature/JIRA-12_fix", "v1.2.3"])
def test_valid_branch_names_pass(name):
    assert check_branch(name) == name


@pytest.mark.parametrize("name", ["-f", "--upload-pack=x", "a..b", "a b", "a~1", "a^", "a:b", "a?", "a*",
                                  "a[", "a\\b", "a/", "/a", "a.lock", "a/.b", "a@{1}", "@", "a//b", "a.",
                                  "", "x" * 256, "tab\there", None])
def test_invalid_branch_names_are_refused(name):
    with pytest.raises(ValueError):
        check_branch(name)


@pytest.mark.parametrize("value", ["abc", "A" * 40, "g" * 40, "a" * 39, "a" * 41, None, "a" * 40 + "\n"])
def test_commit_hashes_must_be_full_lowercase_hex(value):
    with pytest.raises(ValueError):
        check_commit_hash(value)


def test_ls_remote_finds_the_branch_head_or_says_the_branch_is_missing(local_repo):
    head = local_repo.repo.head.commit.hexsha
    assert ls_remote_branch(local_repo.url, "main", allow_local=True, timeout=30) == head
    with pytest.raises(GitError, match="does not exist"):
        ls_remote_branch(local_repo.url, "nope", allow_local=True, timeout=30)


def test_git_itself_refuses_local_repositories_when_they_are_not_allowed(local_repo):
    with pytest.raises(GitError, match="not allowed"):
        ls_remote_branch(local_repo.url, "main", allow_local=False, timeout=30)


def mirror_of(repo, tmp_path):
    return GitMirror(tmp_path / "mirrors", repo.url, allow_local=True, timeout=30)


def test_export_writes_exactly_the_commits_tree(local_repo, tmp_path):
    local_repo.commit({".gitattributes": "docs export-ignore\n", "docs/guide.md": "# Guide\n",
                       "run.sh": "echo run\n"}, message="Tree with attributes")
    (local_repo.path / "link").symlink_to("run.sh")
    os.chmod(local_repo.path / "run.sh", 0o755)
    local_repo.repo.git.add("link", "run.sh")
    sha = local_repo.commit({}, message="Link and mode")
    (local_repo.path / "untracked.txt").write_text("not committed\n")

    mirror = mirror_of(local_repo, tmp_path)
    mirror.fetch(sha)
    dest = tmp_path / "ws"
    dest.mkdir()
    mirror.export(sha, dest)

    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*"))
    assert files == [".gitattributes", "ci.sh", "docs", "docs/guide.md", "link", "run.sh"]
    assert (dest / "docs/guide.md").read_text() == "# Guide\n"  # export-ignore does not drop it
    assert os.readlink(dest / "link") == "run.sh"
    assert os.access(dest / "run.sh", os.X_OK)
    assert not list(tmp_path.glob("*.index"))


def test_an_older_commit_exports_its_own_tree(local_repo, tmp_path):
    old = local_repo.repo.head.commit.hexsha
    local_repo.commit({"ci.sh": "changed\n"})
    mirror = mirror_of(local_repo, tmp_path)
    mirror.fetch(old)
    dest = tmp_path / "ws"
    dest.mkdir()
    mirror.export(old, dest)
    assert (dest / "ci.sh").read_text() == "echo building\ntest -f ci.sh\n"


def test_the_mirror_fetches_only_when_the_commit_is_new(local_repo, tmp_path):
    mirror = mirror_of(local_repo, tmp_path)
    first = local_repo.repo.head.commit.hexsha
    mirror.fetch(first)
    newer = local_repo.commit({"b.txt": "b\n"})
    assert not mirror.has(newer)
    mirror.fetch(newer)
    assert mirror.has(newer) and mirror.has(first)
    assert mirror.describe(newer) == ("A commit", "Ada Lovelace")


def test_a_commit_left_on_no_branch_is_still_fetched(local_repo, tmp_path):
    mirror = mirror_of(local_repo, tmp_path)
    mirror.fetch(local_repo.repo.head.commit.hexsha)
    orphan = local_repo.commit({"o.txt": "o\n"}, message="Soon force-pushed away")
    local_repo.repo.git.reset("--hard", "HEAD~1")
    mirror.fetch(orphan)
    assert mirror.has(orphan)


def test_a_commit_the_remote_does_not_have_is_a_clear_error(local_repo, tmp_path):
    mirror = mirror_of(local_repo, tmp_path)
    with pytest.raises(GitError, match="not in the repository"):
        mirror.fetch("1" * 40)
