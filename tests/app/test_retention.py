"""Builds that go: past a project's keepBuilds, or deleted by an admin, each with everything of its own."""
from datetime import timedelta

import pytest

from app.background import retention
from app.records.models import Build, BuildLog, BuildStep, Status, StepLog, utcnow
from tests.support import create_project

PLAN = "steps:\n  - {name: one, commands: 'echo first step'}\n  - {name: two, commands: 'echo second step'}\n"


@pytest.mark.both_databases
def test_each_ended_build_deletes_the_finished_builds_past_the_newest_kept(client, accounts, local_repo, drain):
    headers = accounts.headers()
    local_repo.commit({".stoker.yml": PLAN}, message="Two steps")
    made = create_project(client, accounts.token(), local_repo, name="kept")
    project, first = made["project"]["id"], made["build"]["id"]
    drain()
    rebuilt = [client.post(f"/api/build/rebuild/{first}", headers=headers).get_json()["build"]["id"]
               for _ in range(3)]
    drain()
    everything = [first, *rebuilt]
    assert all(client.get(f"/api/build/{b}", headers=headers).status_code == 200 for b in everything)

    settings = client.patch(f"/api/project/projects/{project}", json={"keepBuilds": 2}, headers=headers)
    assert settings.get_json()["project"]["keepBuilds"] == 2
    latest = client.post(f"/api/build/rebuild/{first}", headers=headers).get_json()["build"]["id"]
    drain()

    kept = [b["id"] for b in client.get(f"/api/project/projects/{project}/builds", headers=headers)
            .get_json()["builds"]]
    assert kept == [latest, rebuilt[-1]]
    gone = everything[:-1]
    for build_id in gone:
        assert client.get(f"/api/build/{build_id}", headers=headers).status_code == 404
        assert client.get(f"/api/build/{build_id}/logs", headers=headers).status_code == 404
    for model in (BuildLog, BuildStep, StepLog):
        assert not model.select().where(model.build.in_(gone)).exists(), model
        assert model.select().where(model.build == latest).exists(), model
    log = client.get(f"/api/build/{rebuilt[-1]}/logs?step=two", headers=headers).get_data(as_text=True)
    assert "second step\n" in log


def test_builds_not_yet_finished_are_neither_deleted_nor_counted(app, client, accounts, local_repo, drain):
    headers = accounts.headers()
    made = create_project(client, accounts.token(), local_repo, name="kept", keepBuilds=1)
    first = made["build"]["id"]
    drain()
    second, third = (client.post(f"/api/build/rebuild/{first}", headers=headers).get_json()["build"]["id"]
                     for _ in range(2))
    # The second is still running somewhere (a worker elsewhere took it) when the third ends.
    Build.update(status=Status.RUNNING, worker_id="elsewhere", lease_expires_at=utcnow() + timedelta(hours=1)) \
        .where(Build.id == second).execute()
    drain()
    assert [b.id for b in Build.select().order_by(Build.id)] == [second, third]
    assert retention.prune(made["project"]["id"], app.config) == 0
    assert Build.get_by_id(second).status == Status.RUNNING


@pytest.mark.both_databases
def test_an_admin_deletes_a_finished_build_with_its_log_and_a_rebuild_of_it_stays(
        client, accounts, local_repo, drain):
    alice, writer = accounts.headers("alice"), accounts.headers("writer")
    made = create_project(client, accounts.token("alice"), local_repo, name="tidy")
    project, first = made["project"]["id"], made["build"]["id"]
    client.put(f"/api/project/projects/{project}/members/writer", json={"role": "write"}, headers=alice)
    drain()
    child = client.post(f"/api/build/rebuild/{first}", headers=alice).get_json()["build"]["id"]

    waiting = client.delete(f"/api/build/{child}", headers=alice)
    assert (waiting.status_code, waiting.get_json()) == (
        409, {"message": "Only a finished build can be deleted; cancel it first"})
    assert client.delete(f"/api/build/{first}", headers=writer).status_code == 403
    drain()
    assert client.delete(f"/api/build/{first}", headers=alice).get_json() == {"message": "Build deleted"}

    assert client.get(f"/api/build/{first}", headers=alice).status_code == 404
    assert client.delete(f"/api/build/{first}", headers=alice).status_code == 404
    assert not BuildLog.select().where(BuildLog.build == first).exists()
    rebuilt = client.get(f"/api/build/{child}", headers=alice).get_json()["build"]
    assert (rebuilt["status"], rebuilt["parentId"]) == (Status.PASSED, None)
    trail = client.get(f"/api/project/projects/{project}/audit", headers=alice).get_json()["entries"]
    assert ("alice", "build.delete", str(first)) in [(e["user"], e["action"], e["target"]) for e in trail]
