"""Git LFS files by Stoker's own client (pipeline/git/lfs.py), from LFS servers on loopback that
answer as LFS says, and as a hostile repository's owner would have them answer."""
import hashlib
import json
import os
import time

import pytest

from pipeline.git import GitError
from pipeline.git.lfs import fetch_objects, stored
from tests.support import Site

CONTENT = os.urandom(2000)
OID = hashlib.sha256(CONTENT).hexdigest()
WANTED = [{"oid": OID, "size": len(CONTENT)}]


@pytest.fixture(scope="module")
def site():
    served = Site()
    yield served
    served.close()


def answer(site, objects):
    site.page("/repo.git/info/lfs/objects/batch", json.dumps({"transfer": "basic", "objects": objects}).encode(),
              "application/vnd.git-lfs+json")


def download(href, header=None):
    return [{"oid": OID, "size": len(CONTENT), "actions": {"download": {"href": href, "header": header or {}}}}]


def fetch(site, folder, most_bytes=2**20, seconds=10):
    return fetch_objects(f"{site.url}/repo.git/info/lfs", {}, WANTED, folder, allow_private=True,
                         most_bytes=most_bytes, seconds=seconds)


def left_in(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def test_an_object_arrives_whole_where_git_lfs_keeps_it(site, tmp_path):
    site.page("/objects/one", CONTENT, "application/octet-stream")
    answer(site, download(f"{site.url}/objects/one"))
    assert fetch(site, tmp_path) == {OID}
    assert stored(tmp_path, OID).read_bytes() == CONTENT
    assert left_in(tmp_path) == [f"{OID[:2]}/{OID[2:4]}/{OID}"]


@pytest.mark.parametrize("objects", [
    "not a list",
    [{"oid": [], "size": 1, "actions": {"download": {"href": "http://x"}}}],
    [{"oid": OID, "size": len(CONTENT), "actions": "x"}],
    [{"oid": OID, "size": len(CONTENT), "actions": {"download": 1}}],
    [{"oid": OID, "size": len(CONTENT), "error": {"code": 404, "message": "no"}}],
    # Headers http.client would refuse to send, or send as something else.
    "header name",
    "header value",
], ids=["objects", "oid", "actions", "download", "error", "header-name", "header-value"])
def test_an_answer_that_is_not_lfss_fetches_nothing_and_leaves_nothing(site, tmp_path, objects):
    site.page("/objects/one", CONTENT, "application/octet-stream")
    if objects == "header name":
        objects = download(f"{site.url}/objects/one", {"X: y": "1"})
    elif objects == "header value":
        objects = download(f"{site.url}/objects/one", {"X-Token": "\u2603"})
    answer(site, objects)
    assert fetch(site, tmp_path) == set()
    assert left_in(tmp_path) == []


@pytest.mark.parametrize("href, said", [
    ("http://169.254.169.254/latest/meta-data/x", "link-local"),
    ("file:///etc/passwd", r"not http\(s\)"),
    ("http://127.0.0.1:99999/x", "cannot ask for"),
    ("{site}/objects/other", "sent something else"),
    ("{site}/objects/longer", "more than the object's size"),
])
def test_a_download_anywhere_else_or_of_anything_else_fails_and_leaves_nothing(site, tmp_path, href, said):
    site.page("/objects/other", os.urandom(len(CONTENT)), "application/octet-stream")
    site.page("/objects/longer", CONTENT + b"!", "application/octet-stream")
    answer(site, download(href.format(site=site.url)))
    with pytest.raises(GitError, match=said):
        fetch(site, tmp_path)
    assert left_in(tmp_path) == []


def test_a_slow_lfs_server_is_cut_off_when_the_fetchs_time_is_up(site, tmp_path):
    # A byte every 50 ms: 100 s for the object; the fetch has 1 s for everything.
    site.page("/objects/slow", CONTENT, "application/octet-stream", drip=0.05)
    answer(site, download(f"{site.url}/objects/slow"))
    started = time.monotonic()
    with pytest.raises(GitError, match="too slowly|longer than"):
        fetch(site, tmp_path, seconds=1)
    assert time.monotonic() - started < 5
    assert left_in(tmp_path) == []


def test_files_that_come_to_more_than_a_fetch_may_bring_are_not_asked_for(site, tmp_path):
    answer(site, download(f"{site.url}/objects/one"))
    with pytest.raises(GitError, match="more than the 0 MB"):
        fetch(site, tmp_path, most_bytes=len(CONTENT) - 1)
    assert left_in(tmp_path) == []
