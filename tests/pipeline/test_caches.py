"""A project's cache archives: what goes in, what comes back out, and what never crosses the
workspace's edge either way."""
import os
import tarfile

import pytest

from pipeline.caches import CacheAccess, CacheError, archive_of, check_path, restore, save


def access(tmp_path, branch="main", write=True, max_bytes=2**20):
    return CacheAccess(folder=tmp_path / "caches", branch=branch, fallback="main", write=write, max_bytes=max_bytes)


def workspace(tmp_path, name="ws"):
    folder = tmp_path / name
    folder.mkdir()
    return folder


def test_what_a_build_saves_the_next_build_gets_back_and_nothing_else(tmp_path):
    first = workspace(tmp_path, "first")
    (first / "deps" / "pkg").mkdir(parents=True)
    (first / "deps" / "pkg" / "index.js").write_text("module.exports = 1\n")
    os.symlink("pkg/index.js", first / "deps" / "main.js")
    (first / "build.log").write_text("not cached\n")
    size = save(access(tmp_path), first, ("deps", "missing"))
    assert size == archive_of(tmp_path / "caches", "main").stat().st_size > 0

    second = workspace(tmp_path, "second")
    assert restore(access(tmp_path), second, ("deps",)) == "main"
    assert (second / "deps" / "main.js").read_text() == "module.exports = 1\n"
    assert not (second / "build.log").exists()
    # A new branch starts from the default branch's; a path no longer listed stays out.
    third = workspace(tmp_path, "third")
    assert restore(access(tmp_path, "feature"), third, ("other",)) == "main"
    assert list(third.iterdir()) == []
    assert restore(CacheAccess(tmp_path / "none", "x", None, True, 1), third, ("deps",)) is None


def test_links_out_of_the_workspace_never_bring_the_hosts_files_in(tmp_path):
    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "secret").write_text("the host's own\n")
    ws = workspace(tmp_path)
    (ws / "deps").mkdir()
    os.symlink(outside, ws / "deps" / "escape")
    os.symlink("../../host/secret", ws / "deps" / "sneaky")
    os.symlink(outside, ws / "through")
    save(access(tmp_path), ws, ("deps",))
    with tarfile.open(archive_of(tmp_path / "caches", "main")) as tar:
        assert tar.getnames() == ["deps"]
    with pytest.raises(CacheError, match="passes through a link"):
        save(access(tmp_path), ws, ("through/secret",))
    assert [p.name for p in (tmp_path / "caches").iterdir()] == [archive_of(tmp_path / "caches", "main").name]


def test_an_archive_never_writes_through_a_link_the_checkout_holds(tmp_path):
    made = workspace(tmp_path, "made")
    (made / "deps").mkdir()
    (made / "deps" / "planted").write_text("x\n")
    save(access(tmp_path), made, ("deps",))
    outside = tmp_path / "host"
    outside.mkdir()
    checkout = workspace(tmp_path, "checkout")
    os.symlink(outside, checkout / "deps")  # a repository may hold such a link
    with pytest.raises(CacheError, match="could not be restored"):
        restore(access(tmp_path), checkout, ("deps",))
    assert list(outside.iterdir()) == []


def test_a_cache_over_the_limit_is_not_kept_and_the_one_before_stays(tmp_path):
    ws = workspace(tmp_path)
    (ws / "deps").mkdir()
    (ws / "deps" / "small").write_bytes(b"x" * 100)
    save(access(tmp_path), ws, ("deps",))
    (ws / "deps" / "big").write_bytes(b"x" * 2048)
    with pytest.raises(CacheError, match="larger than"):
        save(access(tmp_path, max_bytes=1024), ws, ("deps",))
    with tarfile.open(archive_of(tmp_path / "caches", "main")) as tar:
        assert sorted(tar.getnames()) == ["deps", "deps/small"]
    assert [p.suffix for p in (tmp_path / "caches").iterdir()] == [".tar"]


@pytest.mark.parametrize("path", ["/etc", "../up", "a/../../b", ".", "", "a\nb", "a\\b", "x" * 256])
def test_a_cache_path_must_stay_inside_the_workspace(path):
    with pytest.raises(ValueError, match="cache path"):
        check_path(path)


def test_cache_paths_are_kept_normalised():
    assert check_path("./node_modules/") == "node_modules"
    assert check_path(".cache/pip") == ".cache/pip"


def test_the_limit_counts_the_archive_as_written_not_the_files_bytes(tmp_path):
    ws = workspace(tmp_path)
    (ws / "deps").mkdir()
    # No byte of content, and an archive many times the limit: each name has a header of its own.
    for n in range(2000):
        (ws / "deps" / (f"{n:05d}-" + "n" * 200)).touch()
    with pytest.raises(CacheError, match="larger than 1 MB"):
        save(access(tmp_path), ws, ("deps",))
    assert list((tmp_path / "caches").iterdir()) == []
    kept = save(access(tmp_path, max_bytes=16 * 2**20), ws, ("deps",))
    assert kept > 2**20
