"""Status changes: claims are atomic, and a finished build never moves again."""
import threading

import psycopg2
import pytest
from peewee import IntegrityError

from app.records.db import open_database
from app.records.jobs import BUILD
from app.records.lifecycle import changes, claim_next, move, queue_build
from app.records.models import Build, GithubStatus, Project, Status, User, db
from app.records.vault import seal
from app.services import services

# Claims, leases and the queue: each database's own locking is under test.
pytestmark = pytest.mark.both_databases


def make_project(concurrency=None):
    owner = User.get_or_none(username="owner") or User.create(username="owner", password_hash="x")
    return Project.create(owner=owner, name="p", repo_url="/r", branch="main", build_command="true",
                          image="i", webhook_secret="s", concurrency=concurrency)


def race(workers, target):
    """Run `target(name)` in `workers` real threads at once, and wait for all of them."""
    threads = [threading.Thread(target=target, args=(f"w{i}",)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)


def test_racing_workers_claim_each_build_exactly_once(app):
    with app.app_context():
        project = make_project()
        queued = {queue_build(project, commit_hash=f"{n:040x}", branch="main").id for n in range(40)}
    claims, errors = [], []
    start = threading.Barrier(4)

    def worker(name):
        try:
            with app.app_context():
                start.wait()
                while (build := claim_next(BUILD, name, lease_seconds=60)) is not None:
                    claims.append((build.id, name))
        except Exception as exc:  # surfaced below; a thread's exception is otherwise lost
            errors.append(exc)
        finally:
            db.close()

    race(4, worker)
    assert errors == []
    claimed = [build_id for build_id, _ in claims]
    assert sorted(claimed) == sorted(queued)  # every build claimed, none twice
    assert Build.select().where(Build.status == Status.RUNNING).count() == 40
    owners = {build_id: name for build_id, name in claims}
    assert all(Build.get_by_id(i).worker_id == owners[i] for i in queued)


def test_claims_take_the_oldest_queued_build_first(app):
    with app.app_context():
        project = make_project()
        first, second = (queue_build(project, commit_hash=f"{n:040x}", branch="main") for n in (1, 2))
        assert claim_next(BUILD, "w", lease_seconds=60).id == first.id
        assert claim_next(BUILD, "w", lease_seconds=60).id == second.id
        assert claim_next(BUILD, "w", lease_seconds=60) is None


def test_a_finished_build_cannot_be_moved_again(app):
    with app.app_context():
        build = queue_build(make_project(), commit_hash="a" * 40, branch="main")
        assert move(BUILD, build.id, Status.RUNNING, expect=Status.QUEUED) is not None
        done = move(BUILD, build.id, Status.PASSED, expect=Status.RUNNING, exit_code=0)
        assert done.finished_at is not None
        # A second, late report (say from a worker that lost the build) changes nothing.
        assert move(BUILD, build.id, Status.FAILED, expect=Status.RUNNING, exit_code=1) is None
        assert Build.get_by_id(build.id).status == Status.PASSED


def test_a_projects_limit_holds_under_racing_workers_and_does_not_block_others(app):
    with app.app_context():
        limited, free = make_project(concurrency=1), make_project()
        order = [limited, limited, free, limited, free]
        ids = [queue_build(p, commit_hash=f"{n:040x}", branch="main").id for n, p in enumerate(order)]
    claims = []
    start = threading.Barrier(4)

    def worker(name):
        with app.app_context():
            start.wait()
            while (build := claim_next(BUILD, name, lease_seconds=60)) is not None:
                claims.append(build.id)
            db.close()

    race(4, worker)
    # The limited project's oldest build runs; its others wait, and the free project's run anyway.
    assert sorted(claims) == sorted([ids[0], ids[2], ids[4]])
    assert [Build.get_by_id(i).status for i in ids] == [
        Status.RUNNING, Status.QUEUED, Status.RUNNING, Status.QUEUED, Status.RUNNING]

    with app.app_context():
        move(BUILD, ids[0], Status.PASSED, expect=Status.RUNNING)
        assert claim_next(BUILD, "w", lease_seconds=60).id == ids[1]  # oldest first
        assert claim_next(BUILD, "w", lease_seconds=60) is None


# SKIP LOCKED is PostgreSQL's; SQLite's claims take turns.
@pytest.mark.parametrize("database_kind", ["postgresql"], indirect=True)
def test_a_limited_project_starts_its_oldest_build_even_while_another_worker_holds_it(app, database_url):
    """SKIP LOCKED hides a build another worker is in the middle of claiming; the next one
    of a limited project must not jump the queue meanwhile."""
    with app.app_context():
        project = make_project(concurrency=1)
        oldest, second = (queue_build(project, commit_hash=f"{n:040x}", branch="main").id for n in range(2))
    other_worker = psycopg2.connect(database_url)
    try:
        with other_worker.cursor() as cursor:
            cursor.execute("SELECT id FROM build WHERE id = %s FOR UPDATE", (oldest,))
            with app.app_context():
                assert claim_next(BUILD, "w1", lease_seconds=60) is None
        other_worker.rollback()
    finally:
        other_worker.close()
    with app.app_context():
        assert claim_next(BUILD, "w1", lease_seconds=60).id == oldest
        assert claim_next(BUILD, "w2", lease_seconds=60) is None
    assert Build.get_by_id(second).status == Status.QUEUED


@pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)
def test_a_change_and_the_github_status_it_owes_are_saved_together_or_not_at_all(app):
    with app.app_context():
        project = make_project()
        Project.update(github_repo="octo/demo", github_token_sealed=seal(app.config["SECRET_KEY"], "token")
                       ).where(Project.id == project.id).execute()
        build = queue_build(Project.get_by_id(project.id), commit_hash="a" * 40, branch="main")
        assert GithubStatus.select().where(GithubStatus.build == build.id).count() == 1
        db.execute_sql("CREATE TRIGGER refuse_outbox BEFORE INSERT ON githubstatus "
                       "BEGIN SELECT RAISE(ABORT, 'the outbox refuses'); END")
        with pytest.raises(IntegrityError):
            move(BUILD, build.id, Status.RUNNING, expect=Status.QUEUED)
        assert Build.get_by_id(build.id).status == Status.QUEUED
        assert GithubStatus.select().where(GithubStatus.build == build.id).count() == 1


def test_changes_announce_on_their_own_commit_only(app, database_url):
    """A change rolled back is never announced, and one announced is there for anyone to read (here
    another connection) when its event arrives."""
    other = open_database(database_url)
    heard = []

    def announce(app, user_ids, event, data):
        with other.connection_context():
            row = other.execute_sql(f"SELECT status FROM {Build._meta.table_name} WHERE id = {other.param}",
                                    (data["id"],)).fetchone()
        heard.append((event, data["status"], row[0] if row else "not there"))

    try:
        with app.app_context():
            services(app).announce = announce
            project = make_project()
            with pytest.raises(ZeroDivisionError):
                with changes() as batch:
                    batch.queue(BUILD, project=project, commit_hash="a" * 40, branch="main")
                    1 / 0
            assert heard == [] and not Build.select().exists()
            build = queue_build(project, commit_hash="b" * 40, branch="main")
            move(BUILD, build.id, Status.RUNNING, expect=Status.QUEUED)
            assert heard == [(BUILD.event, Status.QUEUED, Status.QUEUED),
                             (BUILD.event, Status.RUNNING, Status.RUNNING)]
            with db.atomic():
                with pytest.raises(RuntimeError, match="nested"):
                    with changes():
                        pass
    finally:
        other.close_all()

