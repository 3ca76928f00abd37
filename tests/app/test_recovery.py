"""Crash recovery: leases on running builds, taken over when a worker is lost."""
import os
import signal
from datetime import timedelta

import pytest

from app.records.jobs import APP_BUILD, BUILD
from app.records.lifecycle import LOST, claim_next, move, queue, queue_build, recover_lost, renew_lease
from app.records.models import AppBuild, AppBuildStatus, AppBundle, Build, Project, Status, User, utcnow
from tests.support import create_project, labelled, start_server, stop_server, wait_until

# Claims, leases and the queue: each database's own locking is under test.
pytestmark = pytest.mark.both_databases


def make_build(app):
    owner = User.create(username="owner", password_hash="x")
    project = Project.create(owner=owner, name="p", repo_url="/r", branch="main", build_command="true",
                             image="i", webhook_secret="s")
    return queue_build(project, commit_hash="a" * 40, branch="main")


def expire(build_id):
    Build.update(lease_expires_at=utcnow() - timedelta(seconds=1)).where(Build.id == build_id).execute()


def test_a_lost_worker_cannot_write_after_its_build_was_taken_over(app):
    with app.app_context():
        build = make_build(app)
        assert claim_next(BUILD, "w1", lease_seconds=60).id == build.id
        assert renew_lease(BUILD, build.id, "w1", lease_seconds=60)
        expire(build.id)

        assert [job.id for job in recover_lost()] == [build.id]
        requeued = Build.get_by_id(build.id)
        assert (requeued.status, requeued.worker_id, requeued.attempts) == (Status.QUEUED, None, 1)
        assert claim_next(BUILD, "w2", lease_seconds=60).id == build.id

        # w1 comes back from the dead: it can neither renew nor report.
        assert not renew_lease(BUILD, build.id, "w1", lease_seconds=60)
        assert move(BUILD, build.id, Status.PASSED, expect=Status.RUNNING, owner="w1", exit_code=0) is None
        assert Build.get_by_id(build.id).worker_id == "w2"
        assert move(BUILD, build.id, Status.PASSED, expect=Status.RUNNING, owner="w2", exit_code=0) is not None


def test_a_live_lease_is_left_alone(app):
    with app.app_context():
        build = make_build(app)
        claim_next(BUILD, "w1", lease_seconds=60)
        assert [job.id for job in recover_lost()] == []
        assert Build.get_by_id(build.id).status == Status.RUNNING


def test_a_build_whose_worker_is_lost_twice_fails_saying_so(app):
    with app.app_context():
        build = make_build(app)
        for worker in ("w1", "w2"):
            assert claim_next(BUILD, worker, lease_seconds=60).id == build.id
            expire(build.id)
            recover_lost()
        lost = Build.get_by_id(build.id)
        assert (lost.status, lost.error, lost.attempts) == (Status.FAILED, LOST, 1)
        assert lost.finished_at is not None


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_a_process_killed_mid_build_is_noticed_and_its_build_runs_again(
        client, accounts, local_repo, database_url, tmp_path, docker_client, command):
    """A worker process killed with SIGKILL, or a server killed and started again."""
    created = create_project(client, accounts.token(), local_repo, "echo start; sleep 3; echo done")
    build_id = created["build"]["id"]
    env = {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "w"),
           "STOKER_POLL_SECONDS": "0.2", "STOKER_LEASE_SECONDS": "3"}

    doomed = start_server(command, env, tmp_path, wait_for_http=command == "serve")
    # Killed once its first line is kept: output not yet saved when a process dies is lost with it.
    wait_until(lambda: "start" in client.get(f"/api/build/{build_id}/logs", headers=accounts.headers())
               .get_data(as_text=True).splitlines(), what=doomed.log)
    assert labelled(docker_client, f"stoker.build={build_id}", running_only=True)
    os.kill(doomed.process.pid, signal.SIGKILL)
    doomed.process.wait(10)
    assert Build.get_by_id(build_id).status == Status.RUNNING  # nobody knows yet

    rescuer = start_server(command, env, tmp_path, wait_for_http=command == "serve")
    try:
        wait_until(lambda: Build.get_by_id(build_id).status == Status.PASSED, timeout=40, what=rescuer.log)
    finally:
        stop_server(rescuer)
    build = Build.get_by_id(build_id)
    assert build.attempts == 1
    assert f":{rescuer.process.pid}:" in build.worker_id
    # The dead worker's container was removed by the worker that took over on the same host.
    dead = f":{doomed.process.pid}:"
    assert not [c for c in labelled(docker_client, "stoker.worker") if dead in c["Labels"]["stoker.worker"]]
    log = client.get(f"/api/build/{build_id}/logs", headers=accounts.headers()).get_data(as_text=True)
    assert "==> The worker running this build was lost; it is queued again" in log
    lines = log.splitlines()
    assert lines.count("start") == 2 and lines.count("done") == 1  # cut short once, then run whole


def test_an_app_build_whose_worker_is_lost_is_queued_again_once_then_fails(app):
    with app.app_context():
        owner = User.create(username="maker", password_hash="x")
        bundle = AppBundle.create(owner=owner, bundle_id="com.example.lost", platform="android")
        build = queue(APP_BUILD, uid="lost-app", owner=owner, bundle_record=bundle, platform="android", name="Lost",
                                bundle_id="com.example.lost", version="1.0.0", url="https://example.com/")
        assert claim_next(APP_BUILD, "w1", lease_seconds=60).id == build.id
        assert claim_next(APP_BUILD, "w2", lease_seconds=60) is None
        AppBuild.update(lease_expires_at=utcnow() - timedelta(seconds=1)).where(AppBuild.id == build.id).execute()
        recover_lost()
        requeued = AppBuild.get_by_id(build.id)
        assert (requeued.status, requeued.worker_id, requeued.attempts) == (AppBuildStatus.QUEUED, None, 1)

        assert claim_next(APP_BUILD, "w2", lease_seconds=60).id == build.id
        # w1 comes back: its report changes nothing.
        assert move(APP_BUILD, build.id, AppBuildStatus.SUCCESS, expect=AppBuildStatus.BUILDING, owner="w1") is None
        AppBuild.update(lease_expires_at=utcnow() - timedelta(seconds=1)).where(AppBuild.id == build.id).execute()
        recover_lost()
        lost = AppBuild.get_by_id(build.id)
        assert (lost.status, lost.error, lost.attempts) == (AppBuildStatus.FAILED, LOST, 1)
        assert lost.completed_at is not None


def test_a_project_with_many_builds_queued_holds_back_no_other_projects_one(app):
    with app.app_context():
        owner = User.create(username="owner", password_hash="x")
        busy, quiet = (Project.create(owner=owner, name=name, repo_url="/r", branch="main", build_command="true",
                                      image="i", webhook_secret="s") for name in ("busy", "quiet"))
        many = [queue_build(busy, commit_hash="a" * 40, branch="main").id for _ in range(50)]
        one = queue_build(quiet, commit_hash="b" * 40, branch="main").id
        claimed = [claim_next(BUILD, f"w{n}", lease_seconds=60).id for n in range(3)]
        # Each free worker takes from the project with the fewest builds running, oldest first.
        assert claimed == [many[0], one, many[1]]
