"""What Stoker hands to git, and the bare mirror each repository is built from."""
import os
import shutil
import subprocess
import time

import pytest

from pipeline.git import GitError
from pipeline.git.checkout import Clone, Head, check_out
from pipeline.git.command import NO_ACCESS, Access, ls_remote_branch
from pipeline.git.inputs import check_branch, check_commit_hash, check_repo_url
from pipeline.git.mirror import GitMirror, ObjectReader, mirror_path, remove_mirrors_except


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


def test_the_checkout_writes_exactly_the_commits_tree(local_repo, tmp_path):
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
    check_out(mirror, Head(sha, "main"), dest, Clone(), None)

    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if ".git" not in p.parts)
    assert files == [".gitattributes", "ci.sh", "docs", "docs/guide.md", "link", "run.sh"]
    assert (dest / "docs/guide.md").read_text() == "# Guide\n"  # export-ignore does not drop it
    assert os.readlink(dest / "link") == "run.sh"
    assert os.access(dest / "run.sh", os.X_OK)
    assert mirror.top_level(sha)["run.sh"][0] == "100755" and mirror.top_level(sha)["link"][0] == "120000"


def test_the_mirror_fetches_only_when_the_commit_is_new(local_repo, tmp_path):
    mirror = mirror_of(local_repo, tmp_path)
    first = local_repo.repo.head.commit.hexsha
    mirror.fetch(first)
    newer = local_repo.commit({"b.txt": "b\n"})
    assert not mirror.has(newer)
    mirror.fetch(newer)
    assert mirror.has(newer) and mirror.has(first)
    assert mirror.describe(newer) == ("A commit", "Ada Lovelace")


def test_a_pull_requests_ref_is_fetched_even_when_its_commit_is_there_already(local_repo, tmp_path):
    """Its branch was pushed and built first: the mirror has the commit, not yet the ref a mirror
    served on to an agent is asked for by name."""
    mirror = mirror_of(local_repo, tmp_path)
    head = local_repo.repo.head.commit.hexsha
    mirror.fetch(head)
    local_repo.git("update-ref", "refs/pull/7/head", head)
    assert not mirror.has("refs/pull/7/head")
    assert mirror.fetch(head, "refs/pull/7/head") is True
    assert mirror.has("refs/pull/7/head") and mirror.fetch(head, "refs/pull/7/head") is False


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


def read_mirror_of(repo, tmp_path):
    """A mirror that asks its long-lived `git cat-file` first, as builds' mirrors do."""
    return GitMirror(tmp_path / "mirrors", repo.url, allow_local=True, timeout=30,
                     reader=ObjectReader(mirror_path(tmp_path / "mirrors", repo.url)))


def test_a_long_lived_reader_says_what_a_new_git_process_says(local_repo, tmp_path):
    message = "Caf\xe9 au lait\n\nA body line\n  indented\n"
    path = tmp_path / "message"
    path.write_bytes(message.encode("latin-1"))
    # A commit in Latin-1, its author's name too, as an old repository may hold.
    who = {b"GIT_AUTHOR_NAME": "Zo\xeb".encode("latin-1"), b"GIT_AUTHOR_EMAIL": b"zoe@example.com",
           b"GIT_COMMITTER_NAME": b"Zoe", b"GIT_COMMITTER_EMAIL": b"zoe@example.com"}
    subprocess.run(["git", "-C", local_repo.url, "-c", "i18n.commitEncoding=ISO-8859-1",
                    "commit", "-q", "--allow-empty", "-F", str(path)], check=True, env={**os.environb, **who})
    latin = local_repo.repo.head.commit.hexsha
    plain = local_repo.commit({"b.txt": "b\n"}, message="Plain\n\nwith a body")
    reading, fresh = read_mirror_of(local_repo, tmp_path), mirror_of(local_repo, tmp_path)
    assert not reading.has(plain)
    reading.fetch(plain)
    for sha in (latin, plain):
        assert reading.has(sha)
        assert reading.describe(sha) == fresh.describe(sha)
    assert reading.describe(latin) == ("Caf\xe9 au lait\n\nA body line\n  indented", "Zo\xeb")
    assert not reading.has("1" * 40)

    # A commit may name any encoding, one Python has but cannot decode with (idna) or none at all.
    for encoding in ("idna", "no-such-encoding"):
        subprocess.run(["git", "-C", local_repo.url, "-c", f"i18n.commitEncoding={encoding}", "-c", "user.name=Ed",
                        "-c", "user.email=ed@example.com", "commit", "-q", "--allow-empty", "-m",
                        f"Named {encoding}"], check=True)
        odd = local_repo.repo.head.commit.hexsha
        reading.fetch(odd)
        assert reading.describe(odd) == fresh.describe(odd) == (f"Named {encoding}", "Ed")


def test_a_reader_on_a_mirror_removed_and_made_again_or_killed_still_answers_right(local_repo, tmp_path):
    mirror = read_mirror_of(local_repo, tmp_path)
    first = local_repo.repo.head.commit.hexsha
    mirror.fetch(first)
    assert mirror.has(first)
    shutil.rmtree(mirror.path)
    assert not mirror.has(first)
    second = local_repo.commit({"b.txt": "b\n"}, message="After the mirror went")
    mirror.fetch(second)
    assert mirror.has(second) and mirror.describe(second) == ("After the mirror went", "Ada Lovelace")
    mirror.reader.process.kill()
    third = local_repo.commit({"c.txt": "c\n"}, message="After the reader died")
    mirror.fetch(third)
    assert mirror.has(third) and mirror.describe(third) == ("After the reader died", "Ada Lovelace")


def test_a_fetch_leaves_packing_to_maintain_which_packs_once_there_is_enough_to_pack(local_repo, tmp_path):
    mirror = mirror_of(local_repo, tmp_path)
    assert mirror.fetch(local_repo.repo.head.commit.hexsha)
    assert mirror.fetch(local_repo.repo.head.commit.hexsha) is False  # nothing new: nothing owed
    # Each fetch keeps a pack of its own; more than three packs is enough for git to pack them into one.
    for key, value in (("fetch.unpackLimit", "1"), ("gc.autoPackLimit", "3")):
        subprocess.run(["git", "--git-dir", str(mirror.path), "config", key, value], check=True)

    def packs():
        return list((mirror.path / "objects" / "pack").glob("*.pack"))

    for n in range(5):
        assert mirror.fetch(local_repo.commit({f"f{n}.txt": f"{n}\n"}))
    assert len(packs()) > 3  # the fetches packed nothing on their way
    mirror.maintain()
    assert len(packs()) == 1
    assert mirror.has(local_repo.repo.head.commit.hexsha)


def test_a_remote_has_one_mirror_per_credential_and_the_sweep_keeps_every_one_of_a_kept_remote(tmp_path):
    root = tmp_path / "mirrors"
    keyed, tokened = Access(ssh_key="key one"), Access(token="token one")
    paths = {mirror_path(root, url, access) for url in ("/a", "/b") for access in (NO_ACCESS, keyed, tokened)}
    assert len(paths) == 6 and all("token one" not in p.name and "key" not in p.name for p in paths)
    assert mirror_path(root, "/a", Access(token="token one")) == mirror_path(root, "/a", tokened)
    older_form = root / f"{mirror_path(root, '/a').name.partition('-')[0]}.git"
    for path in (*paths, older_form):
        path.mkdir(parents=True)
    assert remove_mirrors_except(root, ["/a"], older_than=time.time() + 1) == 4
    assert set(root.glob("*.git")) == {mirror_path(root, "/a", access) for access in (NO_ACCESS, keyed, tokened)}
