"""A full disk: a build whose log cannot be kept fails and says so, requests answer 503, and
nothing half-written keeps the disk full afterwards."""
import secrets
import subprocess

import pytest

from app import create_app
from app.records.models import Build, BuildLog, Status, db
from tests.support import create_project, unavailable

FILL_UP = ("i=0; while [ $i -lt 200 ]; do echo \"before $i\"; i=$((i+1)); done; "
           "dd if=/dev/zero of=fill bs=1M count=200 2>/dev/null || true; "
           "i=0; while [ $i -lt 5000 ]; do echo \"after the disk filled, line $i\"; i=$((i+1)); done")


@pytest.fixture
def small_disk(tmp_path):
    """A 48 MB filesystem of its own (tmpfs), for the data dir and the database."""
    where = tmp_path / "small"
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(where)]).returncode != 0:
        unavailable("cannot mount a tmpfs here (needs root)")
    yield where
    subprocess.run(["umount", "-l", str(where)])


@pytest.fixture
def full_app(config, small_disk):
    app = create_app({**config, "STOKER_DATA_DIR": str(small_disk / "data"),
                      "DATABASE_URL": f"sqlite:///{small_disk / 'stoker.db'}"})
    yield app
    if not db.is_closed():
        db.close()


def fill(disk):
    """Fill the disk to the last byte; return the file to remove to make room again."""
    path = disk / "ballast"
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M"], capture_output=True)
    return path


def test_a_build_whose_log_cannot_be_kept_fails_saying_so(full_app, small_disk, local_repo, docker_client):
    from app.worker import Worker

    client = full_app.test_client()
    client.post("/api/auth/register", json={"username": "alice", "password": "password123"})
    token = client.post("/api/auth/login", json={"username": "alice", "password": "password123"}).get_json()
    headers = {"Authorization": f"Bearer {token['accessToken']}"}
    created = create_project(client, token["accessToken"], local_repo, FILL_UP, name="filler")
    worker = Worker(full_app, "test-worker")
    assert worker.run_once()
    worker.tidied()

    build = client.get(f"/api/build/{created['build']['id']}", headers=headers).get_json()["build"]
    assert build["status"] == Status.FAILED
    assert "log could not be kept" in build["error"] and "full" in build["error"]
    log = client.get(f"/api/build/{build['id']}/logs", headers=headers).get_data(as_text=True)
    assert "before 199" in log
    assert log.rstrip().endswith(build["error"]) or "could not be kept" in log.splitlines()[-1]
    # The build's workspace went, and with it the room it took.
    assert not list((small_disk / "data" / "workspaces").glob("build-*"))


def test_requests_answer_503_while_the_disk_is_full_and_work_again_after(full_app, small_disk):
    client = full_app.test_client()
    client.post("/api/auth/register", json={"username": "alice", "password": "password123"})
    ballast = fill(small_disk)
    try:
        with db.connection_context():
            before = BuildLog.select().count(), Build.select().count()
        response = client.post("/api/auth/register", json={"username": "bob", "password": "x" * 1000})
        for _ in range(20):  # until what little room was left is gone too
            if response.status_code == 503:
                break
            response = client.post("/api/auth/register", json={"username": f"b{_}", "password": "x" * 1000})
        assert response.status_code == 503
        assert "disk is full" in response.get_json()["message"]
    finally:
        ballast.unlink()
    response = client.post("/api/auth/register", json={"username": "carol", "password": "password123"})
    assert response.status_code == 201
    with db.connection_context():
        assert (BuildLog.select().count(), Build.select().count()) == before


def test_a_fetch_that_fills_the_disk_leaves_no_half_written_objects(small_disk, tmp_path, local_repo):
    from pipeline.git import GitError
    from pipeline.git.mirror import GitMirror

    # Enough history that its pack does not fit in what is left.
    for n in range(3):
        local_repo.commit({f"blob{n}.txt": secrets.token_hex(2_000_000)}, message=f"Big {n}")
    head = local_repo.repo.head.commit.hexsha
    mirror = GitMirror(small_disk / "mirrors", local_repo.url, allow_local=True, timeout=60)
    ballast = small_disk / "ballast"
    subprocess.run(["dd", "if=/dev/urandom", f"of={ballast}", "bs=1M", "count=46"], capture_output=True)
    with pytest.raises(GitError):
        mirror.fetch(head)
    leftovers = [p.name for p in (mirror.path / "objects").rglob("*") if p.name.startswith(("tmp_", "incoming-"))]
    assert leftovers == []
    ballast.unlink()
    mirror.fetch(head)
    assert mirror.has(head)
