"""One user can neither read nor change another's projects, builds, logs or secrets, and
hears none of their events, whatever room they ask for."""
import time

from app.models import Build, Project, ProjectSecret, Status
from tests.support import Listener, create_project, login
from tests.security.test_auth_matrix import concrete, routes


def test_every_route_of_alices_things_refuses_bob_and_changes_nothing(app, client, accounts, local_repo):
    alice, bob = accounts.headers("alice"), accounts.headers("bob")
    made = create_project(client, accounts.token("alice"), local_repo)
    assert made["project"]["id"] == 1 and made["build"]["id"] == 1
    client.put("/api/project/projects/1/secrets/API_KEY", json={"value": "hunter2"}, headers=alice)
    before = (list(Build.select().dicts()), list(Project.select().dicts()), list(ProjectSecret.select().dicts()))

    checked = 0
    for rule, method in routes(app):
        if not ({"project_id", "build_id"} & set(rule.arguments)) or not rule.rule.startswith("/api/"):
            continue
        if rule.endpoint == "webhooks.github":
            continue  # signed with the project's secret, not a user's token: see test_webhook_vectors
        if rule.rule.startswith("/api/v1/"):
            continue  # app builds, whose ids are opaque: another's is a 404, see test_mobile
        body = {"value": "stolen"} if method == "PUT" else {"public": True}
        response = client.open(concrete(rule), method=method, json=body, headers=bob)
        assert response.status_code == 403, f"{method} {rule.rule} answered {response.status_code}"
        assert set(response.get_json()) == {"message"}
        assert "hunter2" not in response.get_data(as_text=True)
        checked += 1
    assert checked == 16
    assert (list(Build.select().dicts()), list(Project.select().dicts()),
            list(ProjectSecret.select().dicts())) == before

    # Bob's own lists hold none of it.
    assert client.get("/api/project/projects", headers=bob).get_json()["projects"] == []


def test_bob_hears_none_of_alices_events_whatever_room_he_asks_for(live_server, local_repo):
    alice, bob = login(live_server, "alice"), login(live_server, "bob")
    alice_hears, bob_hears = Listener(live_server, alice), Listener(live_server, bob)
    try:
        for event, data in [("join", "user:1"), ("join", {"room": "user:1"}), ("enter_room", "user:1"),
                            ("subscribe", {"room": "user:1"}), ("joinRoom", "user:1"), ("connect", {"token": alice})]:
            bob_hears.client.emit(event, data)
        build_id = create_project(live_server, alice, local_repo, "echo alice-only-output")["build"]["id"]
        assert alice_hears.statuses_of(build_id, until=Status.PASSED) == [Status.QUEUED, Status.RUNNING, Status.PASSED]
        assert any("alice-only-output" in data for _, data in alice_hears.log_of(build_id))
        time.sleep(0.5)
        assert bob_hears.events.empty() and bob_hears.logs.empty()
    finally:
        alice_hears.close()
        bob_hears.close()


def test_every_admin_route_refuses_a_user_who_is_not_one_and_changes_nothing(app, client, accounts):
    from app.models import Invitation, User

    admin, bob = accounts.headers("root"), accounts.headers("bob")
    assert client.get("/api/auth/me", headers=admin).get_json()["user"]["admin"] is True
    before = (list(User.select().dicts()), Invitation.select().count())
    checked = 0
    for rule, method in routes(app):
        if not rule.rule.startswith("/api/admin/"):
            continue
        for body in ({}, {"admin": True}, {"disabled": True}, {"expiresInHours": 720}):
            response = client.open(concrete(rule).replace("/1", "/2"), method=method, json=body, headers=bob)
            assert response.status_code == 403, f"{method} {rule.rule} answered {response.status_code}"
            assert set(response.get_json()) == {"message"}
        checked += 1
    assert checked == 3
    assert (list(User.select().dicts()), Invitation.select().count()) == before
