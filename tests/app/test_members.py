"""A team shares a project: members and roles, the last admin kept, live events to members only,
the audit trail, and deleting a project with everything of it."""
from pathlib import Path

import pytest

from app.records.models import (
    AuditEntry,
    Build,
    BuildLog,
    BuildStep,
    GithubStatus,
    Member,
    Project,
    ProjectSecret,
    Schedule,
    Status,
)
from tests.support import (
    Listener,
    api,
    create_project,
    delivery,
    labelled,
    login,
    push_payload,
    sentinel_build,
    wait_until,
)


def members_of(client, headers, project_id=1):
    answer = client.get(f"/api/project/projects/{project_id}/members", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return [(m["username"], m["role"]) for m in answer.get_json()["members"]]


def put_member(client, headers, username, role, project_id=1):
    return client.put(f"/api/project/projects/{project_id}/members/{username}", json={"role": role},
                      headers=headers)


def test_an_admin_adds_changes_and_removes_members_and_the_last_admin_stays(client, accounts, local_repo):
    alice = accounts.headers("alice")
    bob = accounts.headers("bob")
    create_project(client, accounts.token("alice"), local_repo)
    assert members_of(client, alice) == [("alice", "admin")]

    added = put_member(client, alice, "bob", "read")
    assert added.status_code == 201 and added.get_json()["member"]["role"] == "read"
    assert put_member(client, alice, "bob", "write").status_code == 200
    assert members_of(client, bob) == [("alice", "admin"), ("bob", "write")]
    assert [p["role"] for p in client.get("/api/project/projects", headers=bob).get_json()["projects"]] == ["write"]

    for username, role, status, says in [("nobody", "read", 404, "User not found"),
                                         ("bob", "owner", 400, "role must be one of read, write, admin"),
                                         ("b", "read", 400, "username must be")]:
        answer = put_member(client, alice, username, role)
        assert answer.status_code == status and says in answer.get_json()["message"]

    # The only admin can neither step down nor leave; once bob is an admin too, she can.
    for answer in (put_member(client, alice, "alice", "write"),
                   client.delete("/api/project/projects/1/members/alice", headers=alice)):
        assert answer.status_code == 409 and "at least one admin" in answer.get_json()["message"]
    assert members_of(client, alice) == [("alice", "admin"), ("bob", "write")]
    assert put_member(client, alice, "bob", "admin").status_code == 200
    assert client.delete("/api/project/projects/1/members/alice", headers=alice).status_code == 200
    assert client.get("/api/project/projects/1", headers=alice).status_code == 403
    assert client.get("/api/project/projects", headers=alice).get_json()["projects"] == []

    # A member may leave without being an admin; removing someone else takes one.
    assert put_member(client, bob, "carol", "read").status_code == 404  # carol has no account yet
    accounts.token("carol")
    assert put_member(client, bob, "carol", "read").status_code == 201
    carol = accounts.headers("carol")
    assert client.delete("/api/project/projects/1/members/bob", headers=carol).status_code == 403
    assert client.delete("/api/project/projects/1/members/carol", headers=carol).status_code == 200
    assert members_of(client, bob) == [("bob", "admin")]


def test_the_audit_trail_says_who_did_what_and_only_admins_read_it(client, accounts, local_repo):
    alice = accounts.headers("alice")
    create_project(client, accounts.token("alice"), local_repo)
    client.patch("/api/project/projects/1", json={"autoCancel": True, "concurrency": 2}, headers=alice)
    client.put("/api/project/projects/1/secrets/API_KEY", json={"value": "hunter22"}, headers=alice)
    client.put("/api/project/projects/1/secrets/API_KEY", json={"value": "hunter23"}, headers=alice)
    accounts.token("bob")
    put_member(client, alice, "bob", "write")
    bob = accounts.headers("bob")
    assert client.post("/api/build/1/cancel", headers=bob).status_code == 200
    assert client.post("/api/build/rebuild/1", headers=bob).status_code == 201
    client.delete("/api/project/projects/1/secrets/API_KEY", headers=alice)

    answer = client.get("/api/project/projects/1/audit?limit=100", headers=alice).get_json()
    trail = [(e["user"], e["action"], e["target"]) for e in reversed(answer["entries"])]
    assert trail == [("alice", "project.create", "demo"), ("alice", "setting.change", "autoCancel"),
                     ("alice", "setting.change", "concurrency"), ("alice", "secret.create", "API_KEY"),
                     ("alice", "secret.change", "API_KEY"), ("alice", "member.add", "bob: write"),
                     ("bob", "build.cancel", "1"), ("bob", "build.rebuild", "1"),
                     ("alice", "secret.delete", "API_KEY")]
    assert answer["total"] == 9
    assert "hunter2" not in str(answer)
    assert client.get("/api/project/projects/1/audit", headers=bob).status_code == 403
    page = client.get("/api/project/projects/1/audit?limit=2&offset=1", headers=alice).get_json()
    assert [e["action"] for e in page["entries"]] == ["build.rebuild", "build.cancel"]


def test_live_events_reach_every_member_and_stop_the_moment_one_is_removed(live_server, local_repo):
    alice, bob = login(live_server, "alice"), login(live_server, "bob")
    alice_hears, bob_hears = Listener(live_server, alice), Listener(live_server, bob)
    try:
        first = create_project(live_server, alice, local_repo, "echo shared-output")["build"]["id"]
        assert alice_hears.statuses_of(first, until=Status.PASSED)[-1] == Status.PASSED
        assert api(live_server, "PUT", "/api/project/projects/1/members/bob", alice,
                   json={"role": "read"}).status_code == 201

        second = api(live_server, "POST", "/api/project/projects/1/builds", alice, json={}).json()["build"]["id"]
        assert bob_hears.statuses_of(second, until=Status.PASSED) == [Status.QUEUED, Status.RUNNING, Status.PASSED]
        assert any("shared-output" in data for _, data in bob_hears.log_of(second))

        assert api(live_server, "DELETE", "/api/project/projects/1/members/bob", alice).status_code == 200
        third = api(live_server, "POST", "/api/project/projects/1/builds", alice, json={}).json()["build"]["id"]
        assert alice_hears.statuses_of(third, until=Status.PASSED)[-1] == Status.PASSED
        sentinel_build(live_server, bob, bob_hears, local_repo)
        assert [event for event in bob_hears.heard if event["id"] == third] == [] and bob_hears.log_of(third) == []
        assert api(live_server, "GET", f"/api/build/{third}", bob).status_code == 403
    finally:
        alice_hears.close()
        bob_hears.close()


def project_rows(project_id):
    builds = Build.select(Build.id).where(Build.project == project_id)
    return {
        "project": Project.select().where(Project.id == project_id).count(),
        "builds": builds.count(),
        "logs": BuildLog.select().where(BuildLog.build.in_(builds)).count(),
        "steps": BuildStep.select().where(BuildStep.build.in_(builds)).count(),
        "statuses": GithubStatus.select().where(GithubStatus.build.in_(builds)).count(),
        "secrets": ProjectSecret.select().where(ProjectSecret.project == project_id).count(),
        "schedules": Schedule.select().where(Schedule.project == project_id).count(),
        "members": Member.select().where(Member.project == project_id).count(),
        "audit": AuditEntry.select().where(AuditEntry.project == project_id).count(),
    }


@pytest.mark.both_databases
def test_deleting_a_project_stops_its_build_and_leaves_no_row_mirror_or_container(
        live_server, local_repo, database_url, tmp_path, docker_client):
    from app.records.db import open_database
    from app.records.models import db

    alice = login(live_server, "alice")
    local_repo.commit({".stoker.yml": "steps:\n  - name: first\n    commands: [echo one]\n"
                                      "  - name: long\n    commands: [sleep 120]\n"}, message="Slow")
    made = create_project(live_server, alice, local_repo)
    project_id, build_id = made["project"]["id"], made["build"]["id"]
    api(live_server, "PUT", f"/api/project/projects/{project_id}/secrets/API_KEY", alice, json={"value": "hunter22"})
    api(live_server, "PUT", f"/api/project/projects/{project_id}/schedules/nightly", alice, json={"cron": "0 3 * * *"})
    other = create_project(live_server, alice, local_repo, "true", name="other")["project"]["id"]

    def running_containers():
        return labelled(docker_client, f"stoker.build={build_id}", running_only=True)

    wait_until(running_containers, timeout=60, what="the build's container to start")
    mirrors = Path(tmp_path / "live-data" / "mirrors")
    assert list(mirrors.glob("*.git"))
    answer = api(live_server, "DELETE", f"/api/project/projects/{project_id}", alice)
    assert answer.status_code == 200, answer.text
    wait_until(lambda: not labelled(docker_client, f"stoker.build={build_id}"),
               timeout=15, what="the deleted project's container to go")

    db.initialize(open_database(database_url))
    with db.connection_context():
        assert project_rows(project_id) == dict.fromkeys(project_rows(project_id), 0)
        assert Project.select().where(Project.id == other).count() == 1
    # The other project shares the repository, so the mirror stays until it goes too.
    assert list(mirrors.glob("*.git"))
    assert api(live_server, "DELETE", f"/api/project/projects/{other}", alice).status_code == 200
    assert not list(mirrors.glob("*.git"))

    payload, headers = delivery(made["project"]["webhookSecret"], push_payload(made["build"]["commitHash"]), "push")
    hook = api(live_server, "POST", f"/api/webhooks/github/{project_id}", data=payload, headers=headers)
    assert hook.status_code == 404
    assert api(live_server, "GET", f"/api/project/projects/{project_id}", alice).status_code == 404
