"""One user can neither read nor change another's projects, builds, logs or secrets, and
hears none of their events, whatever room they ask for."""
from app.records.models import AuditEntry, Build, Member, Project, ProjectHook, ProjectSecret, Schedule, Status, User
from tests.support import Listener, concrete, create_project, login, routes, sentinel_build

# The least role each project or build route needs; a route missing here fails the matrix.
NEEDS = {
    "projects.get_project": "read", "projects.list_builds": "read", "builds.get_build": "read",
    "builds.logs": "read", "members.list_members": "read", "schedules.list_schedules": "read",
    "projects.run_build": "write", "builds.rebuild": "write", "builds.cancel": "write",
    "builds.approve": "write", "builds.decline": "write",
    "projects.update_project": "admin", "projects.delete_project": "admin", "projects.make_deploy_key": "admin",
    "projects.rotate_webhook_secret": "admin", "projects.forget_host_key": "admin",
    "builds.delete_build": "admin",
    "secrets.list_secrets": "admin",
    "secrets.put_secret": "admin", "secrets.delete_secret": "admin", "members.put_member": "admin",
    "members.delete_member": "admin", "members.list_audit": "admin", "schedules.put_schedule": "admin",
    "schedules.delete_schedule": "admin", "registries.list_registries": "admin",
    "registries.put_registry": "admin", "registries.delete_registry": "admin",
    "hooks.list_hooks": "admin", "hooks.add_hook": "admin", "hooks.change_hook": "admin",
    "hooks.delete_hook": "admin", "hooks.list_deliveries": "admin", "hooks.test_hook": "admin",
}
ROLES = ("read", "write", "admin")


def project_routes(app):
    for rule, method in routes(app):
        if not ({"project_id", "build_id"} & set(rule.arguments)) or not rule.rule.startswith("/api/"):
            continue
        if rule.endpoint == "webhooks.deliver":
            continue  # signed with the project's secret, not a user's token: see test_webhook_vectors
        if rule.rule.startswith("/api/v1/"):
            continue  # app builds, whose ids are opaque: another's is a 404, see test_app_builds
        yield rule, method


def snapshot():
    return [list(model.select().order_by(model.id).dicts())
            for model in (Project, Build, ProjectSecret, Schedule, Member, AuditEntry, ProjectHook)]


def test_every_route_by_every_kind_of_caller_allows_what_their_role_allows_and_refuses_the_rest(
        app, client, accounts, local_repo):
    admin = accounts.headers("root")  # the first account: Stoker's admin, no member of the project
    alice = accounts.headers("alice")
    create_project(client, accounts.token("alice"), local_repo)
    assert client.put("/api/project/projects/1/secrets/API_KEY", json={"value": "hunter2"},
                      headers=alice).status_code == 201
    assert client.put("/api/project/projects/1/schedules/nightly", json={"cron": "0 3 * * *"},
                      headers=alice).status_code == 201
    for username, role in (("reader", "read"), ("writer", "write"), ("boss", "admin"), ("gone", "read")):
        accounts.token(username)
        assert client.put(f"/api/project/projects/1/members/{username}", json={"role": role},
                          headers=alice).status_code == 201
    gone = accounts.headers("gone")
    gone_id = User.get(User.username == "gone").id
    assert client.patch(f"/api/admin/users/{gone_id}", json={"disabled": True}, headers=admin).status_code == 200
    boss_token = {scope: client.post("/api/auth/tokens", json={"name": scope, "scope": scope},
                                     headers=accounts.headers("boss")).get_json()["token"]["value"]
                  for scope in ("read", "write")}

    def bearer(value):
        return {"Authorization": f"Bearer {value}"}

    # caller: (headers, role in the project or None, whether it may only read, whether it is disabled)
    callers = {
        "no membership": (accounts.headers("bob"), None, False),
        "read": (accounts.headers("reader"), "read", False),
        "write": (accounts.headers("writer"), "write", False),
        "admin": (accounts.headers("boss"), "admin", False),
        "read token": (bearer(boss_token["read"]), "admin", True),
        "write token": (bearer(boss_token["write"]), "admin", False),
        "disabled user": (gone, "read", False),
        "Stoker's admin": (admin, None, False),
    }
    seen = set()
    for rule, method in project_routes(app):
        seen.add(rule.endpoint)
        needed = NEEDS[rule.endpoint]
        for caller, (headers, role, reads_only) in callers.items():
            if caller == "disabled user":
                expected = 401
            elif role is None or ROLES.index(role) < ROLES.index(needed):
                expected = 403
            elif reads_only and method != "GET":
                expected = 403
            else:
                expected = None
            if expected is None:
                if rule.endpoint in ("projects.delete_project", "builds.delete_build"):
                    continue  # allowed, it would end the test: see test_members and test_retention
                # Allowed: a request the route turns down for its content, or one that changes
                # nothing lasting, shows the caller got past the guard.
                path = (concrete(rule).replace("/API_KEY", "/NO_SUCH").replace("/bob", "/nobody")
                        .replace("/schedules/API_KEY", "/schedules/none"))
                body = {"value": "x", "cron": "not cron", "role": "owner", "bogus": 1, "branch": "-x"}
                response = client.open(path, method=method, json=body, headers=headers)
                assert response.status_code not in (401, 403), \
                    f"{caller}: {method} {rule.rule} answered {response.status_code} {response.get_json()}"
                continue
            before = snapshot()
            body = {"value": "stolen", "cron": "* * * * *", "role": "admin"} if method == "PUT" else {"public": True}
            response = client.open(concrete(rule), method=method, json=body, headers=headers)
            assert response.status_code == expected, \
                f"{caller}: {method} {rule.rule} answered {response.status_code}, not {expected}"
            assert set(response.get_json()) == {"message"}
            assert "hunter2" not in response.get_data(as_text=True)
            assert snapshot() == before, f"{caller}: {method} {rule.rule} changed something"
    assert seen == set(NEEDS)

    # The lists hold only the caller's own projects, each with their role.
    assert client.get("/api/project/projects", headers=accounts.headers("bob")).get_json()["projects"] == []
    listed = client.get("/api/project/projects", headers=accounts.headers("writer")).get_json()["projects"]
    assert [(p["id"], p["role"]) for p in listed] == [(1, "write")]


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
        own = sentinel_build(live_server, bob, bob_hears, local_repo)
        assert {event["id"] for event in bob_hears.heard} == {own}
        assert {piece["buildId"] for piece in list(bob_hears.logs.queue)} <= {own}
    finally:
        alice_hears.close()
        bob_hears.close()


def test_every_admin_route_refuses_a_user_who_is_not_one_and_changes_nothing(app, client, accounts):
    from app.records.models import Agent, Invitation, User

    admin, bob = accounts.headers("root"), accounts.headers("bob")
    assert client.get("/api/auth/me", headers=admin).get_json()["user"]["admin"] is True
    client.post("/api/admin/agents", json={"name": "builder"}, headers=admin)
    client.post("/api/admin/agents", json={"name": "other"}, headers=admin)
    before = (list(User.select().dicts()), Invitation.select().count(), list(Agent.select().dicts()))
    checked = 0
    for rule, method in routes(app):
        if not rule.rule.startswith("/api/admin/"):
            continue
        for body in ({}, {"admin": True}, {"disabled": True}, {"expiresInHours": 720}, {"name": "mine"},
                     {"paused": True}):
            response = client.open(concrete(rule).replace("/1", "/2"), method=method, json=body, headers=bob)
            assert response.status_code == 403, f"{method} {rule.rule} answered {response.status_code}"
            assert set(response.get_json()) == {"message"}
        checked += 1
    assert checked == 7
    assert (list(User.select().dicts()), Invitation.select().count(), list(Agent.select().dicts())) == before
