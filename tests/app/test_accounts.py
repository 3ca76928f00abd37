"""Accounts on a server that faces the internet: the first is an admin, the rest come by
invitation, admins disable and promote, and passwords cannot be guessed at speed."""
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import redis

from app import create_app
from app.api.callers import hash_password
from app.api.throttle import WINDOW_SECONDS
from app.records.db import create_schema
from app.records.models import Invitation, User, db, utcnow
from tests.support import api, start_server, stop_server

PASSWORD = "password123"


@pytest.fixture
def closed(config):
    """An app with Stoker's default: registration by invitation."""
    config = {**config, "STOKER_REGISTRATION": "invitation"}
    app = create_app(config)
    yield app.test_client()
    if not db.is_closed():
        db.close()


def register(client, username, **extra):
    return client.post("/api/auth/register", json={"username": username, "password": PASSWORD, **extra})


def token_of(client, username):
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['accessToken']}"}


def invite(client, headers, **body):
    response = client.post("/api/admin/invitations", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["invitation"]


def admin_and_invited(client):
    """The first account (root, an admin) and one it invited (bob): their auth headers."""
    register(client, "root")
    admin = token_of(client, "root")
    register(client, "bob", invitation=invite(client, admin)["code"])
    return admin, token_of(client, "bob")


def counts():
    with db.connection_context():
        return User.select().count(), Invitation.select().where(Invitation.used_at.is_null(False)).count()


def test_the_first_account_is_an_admin_and_the_next_needs_an_invitation(closed):
    assert register(closed, "root").status_code == 201
    admin = token_of(closed, "root")
    assert closed.get("/api/auth/me", headers=admin).get_json()["user"] == {
        "id": 1, "username": "root", "admin": True}

    for extra in ({}, {"invitation": "made-up"}, {"invitation": ""}):
        response = register(closed, "mallory", **extra)
        assert (response.status_code, response.get_json()) == (403, {"message": "Registration is by invitation"})
    assert register(closed, "mallory", invitation=7).status_code == 400
    assert counts() == (1, 0)

    code = invite(closed, admin)["code"]
    # A taken username uses up nothing: the invitation still works afterwards.
    assert register(closed, "root", invitation=code).status_code == 409
    assert register(closed, "bob", invitation=code).status_code == 201
    assert register(closed, "carol", invitation=code).status_code == 403
    assert counts() == (2, 1)
    bob = token_of(closed, "bob")
    assert closed.get("/api/auth/me", headers=bob).get_json()["user"]["admin"] is False


def test_an_expired_invitation_registers_no_one(closed):
    register(closed, "root")
    admin = token_of(closed, "root")
    code = invite(closed, admin, expiresInHours=1)["code"]
    with db.connection_context():
        Invitation.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    assert register(closed, "bob", invitation=code).status_code == 403
    for hours in (0, 721, "12", True, None):
        response = closed.post("/api/admin/invitations", json={"expiresInHours": hours}, headers=admin)
        assert response.status_code == 400 and "expiresInHours" in response.get_json()["message"]


def test_only_admins_invite_and_manage_users(closed):
    admin, bob = admin_and_invited(closed)
    for method, path, body in (("POST", "/api/admin/invitations", {}), ("GET", "/api/admin/users", None),
                               ("PATCH", "/api/admin/users/1", {"disabled": True})):
        response = closed.open(path, method=method, json=body, headers=bob)
        assert response.status_code == 403, path
        assert closed.open(path, method=method, json=body).status_code == 401, path
    assert counts() == (2, 1)
    assert closed.get("/api/admin/users", headers=admin).get_json()["users"] == [
        {"id": 1, "username": "root", "admin": True, "disabled": False},
        {"id": 2, "username": "bob", "admin": False, "disabled": False}]


def test_a_disabled_users_tokens_stop_at_once_and_the_last_admin_stays(closed):
    admin, bob = admin_and_invited(closed)
    assert closed.get("/api/project/projects", headers=bob).status_code == 200

    response = closed.patch("/api/admin/users/2", json={"disabled": True}, headers=admin)
    assert response.get_json()["user"] == {"id": 2, "username": "bob", "admin": False, "disabled": True}
    assert closed.get("/api/project/projects", headers=bob).status_code == 401
    response = closed.post("/api/auth/login", json={"username": "bob", "password": PASSWORD})
    assert response.status_code == 403

    assert closed.patch("/api/admin/users/1", json={"admin": False}, headers=admin).status_code == 409
    assert closed.patch("/api/admin/users/1", json={"disabled": True}, headers=admin).status_code == 409
    # With a second admin, the first may step down.
    closed.patch("/api/admin/users/2", json={"disabled": False, "admin": True}, headers=admin)
    assert closed.get("/api/project/projects", headers=token_of(closed, "bob")).status_code == 200
    assert closed.patch("/api/admin/users/1", json={"admin": False}, headers=admin).status_code == 200
    assert closed.post("/api/admin/invitations", json={}, headers=admin).status_code == 403

    for body, field in (({"admin": "yes"}, "admin"), ({"username": "x"}, "username"), ([], "JSON object")):
        response = closed.patch("/api/admin/users/2", json=body, headers=token_of(closed, "bob"))
        assert response.status_code == 400 and field in response.get_json()["message"]
    assert closed.patch("/api/admin/users/99", json={}, headers=token_of(closed, "bob")).status_code == 404


def test_the_invitations_of_an_admin_since_disabled_register_no_one(closed):
    admin, bob = admin_and_invited(closed)
    closed.patch("/api/admin/users/2", json={"admin": True}, headers=admin)
    code = invite(closed, bob)["code"]
    assert closed.patch("/api/admin/users/2", json={"disabled": True}, headers=admin).status_code == 200
    response = register(closed, "carol", invitation=code)
    assert (response.status_code, response.get_json()) == (403, {"message": "Registration is by invitation"})
    # For good: enabling bob again brings back none of them.
    closed.patch("/api/admin/users/2", json={"disabled": False}, headers=admin)
    assert register(closed, "carol", invitation=code).status_code == 403
    assert register(closed, "carol", invitation=invite(closed, admin)["code"]).status_code == 201

    # An admin disabled before disabling revoked anything (in the database alone) invites no one either.
    code = invite(closed, bob)["code"]
    with db.connection_context():
        User.update(disabled=True).where(User.username == "bob").execute()
    assert register(closed, "dave", invitation=code).status_code == 403
    assert counts() == (3, 2)


def test_a_name_is_taken_in_any_case_and_logs_in_in_any_case(closed):
    register(closed, "alice")
    code = invite(closed, token_of(closed, "alice"))["code"]
    for name in ("Alice", "ALICE"):
        response = register(closed, name, invitation=code)
        assert (response.status_code, response.get_json()) == (409, {"message": "Username is already taken"})
    assert counts() == (1, 0)
    for spelling in ("alice", "Alice", "aLiCe"):
        assert closed.get("/api/auth/me", headers=token_of(closed, spelling)).get_json()["user"] == {
            "id": 1, "username": "alice", "admin": True}


@pytest.mark.both_databases
def test_names_that_differ_in_case_alone_from_before_still_log_in_by_their_own_spelling(closed):
    register(closed, "root")
    with db.connection_context():
        # What a database made before names were unique in any case may hold.
        db.execute_sql('DROP INDEX "user_username_lower"')
        User.insert_many([{"username": name, "password_hash": hash_password(PASSWORD)}
                          for name in ("Bob", "bob")]).execute()
    create_schema()  # the upgrade, which makes the index of lower-case names over them
    me = [closed.get("/api/auth/me", headers=token_of(closed, name)).get_json()["user"] for name in ("Bob", "bob")]
    assert [user["username"] for user in me] == ["Bob", "bob"]
    # Either could be meant: neither logs in.
    assert closed.post("/api/auth/login", json={"username": "BOB", "password": PASSWORD}).status_code == 401
    code = invite(closed, token_of(closed, "root"))["code"]
    assert register(closed, "BOB", invitation=code).status_code == 409


@pytest.mark.both_databases
def test_eight_first_registrations_at_once_make_one_admin_and_let_no_one_else_in(database_url, tmp_path):
    """Eight people race to be first on a new server (on each database): one admin, the rest refused."""
    import concurrent.futures

    server = start_server("serve", {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "data"),
                                    "STOKER_WORKER_CONCURRENCY": "0", "STOKER_REGISTRATION": "invitation"}, tmp_path)
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda n: api(server, "POST", "/api/auth/register", json={
                "username": f"first{n}", "password": PASSWORD}), range(8)))
    finally:
        stop_server(server)
    assert sorted(a.status_code for a in answers) == [201] + [403] * 7
    assert [a.json()["user"]["admin"] for a in answers if a.status_code == 201] == [True]


def test_ten_wrong_passwords_for_one_user_and_the_right_one_waits(client, accounts):
    accounts.register("alice")
    for _ in range(10):
        assert client.post("/api/auth/login", json={"username": "alice", "password": "wrong-one"}).status_code == 401
    response = client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    assert "try again" in response.get_json()["message"]
    # Another user, from the same address, is not locked out.
    accounts.register("bob")
    assert client.post("/api/auth/login", json={"username": "bob", "password": PASSWORD}).status_code == 200


def test_fifty_failures_from_one_address_stop_that_address(client, accounts):
    accounts.register("alice")
    for n in range(50):
        response = client.post("/api/auth/login", json={"username": f"guess{n % 7}", "password": "wrong-one"})
        assert response.status_code == 401
    assert client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 429
    elsewhere = {"REMOTE_ADDR": "127.0.0.9"}
    response = client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD},
                           environ_base=elsewhere)
    assert response.status_code == 200


@pytest.mark.parametrize("database_kind", ["postgresql"])
def test_failures_count_across_web_processes_sharing_redis(database_url, redis_url, tmp_path, docker_client):
    username = f"victim{int(time.time() * 1000) % 10**9}"
    redis.Redis.from_url(redis_url).delete(*redis.Redis.from_url(redis_url).keys("stoker*login*") or ["none"])
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "STOKER_WORKER_CONCURRENCY": "0"}
    servers = [start_server("serve", {**env, "STOKER_DATA_DIR": str(tmp_path / f"d{n}")}, tmp_path)
               for n in range(2)]
    try:
        api(servers[0], "POST", "/api/auth/register", json={"username": username, "password": PASSWORD})
        for n in range(10):
            response = api(servers[n % 2], "POST", "/api/auth/login", json={"username": username, "password": "nope-nope"})
            assert response.status_code == 401
        for server in servers:
            response = api(server, "POST", "/api/auth/login", json={"username": username, "password": PASSWORD})
            assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    finally:
        for server in servers:
            stop_server(server)


@pytest.fixture
def strict(config):
    """An app that lets 3 failed logins count per username, and 5 per address."""
    app = create_app({**config, "STOKER_LOGIN_FAILURES_PER_USER": 3, "STOKER_LOGIN_FAILURES_PER_ADDRESS": 5})
    yield app.test_client()
    if not db.is_closed():
        db.close()


def test_a_login_that_succeeds_is_forgiven_and_a_name_counts_in_any_case(strict):
    def login_as(username, password=PASSWORD):
        return strict.post("/api/auth/login", json={"username": username, "password": password}).status_code

    register(strict, "alice"), register(strict, "bob")
    assert [login_as("alice", "wrong-one"), login_as("ALICE", "wrong-one")] == [401, 401]
    assert [login_as("alice") for _ in range(3)] == [200] * 3
    assert [login_as("Alice", "wrong-one"), login_as("alice", "wrong-one"), login_as("alice")] == [401, 429, 429]
    # The address holds alice's three failures; bob's logins are forgiven, his failures are not.
    assert [login_as("bob") for _ in range(3)] == [200] * 3
    assert [login_as("bob", "wrong-one"), login_as("bob", "wrong-one"), login_as("bob")] == [401, 401, 429]


LIMIT = 10


def forget_login_counts(redis_url):
    """Counts in Redis outlive the servers that made them."""
    client = redis.Redis.from_url(redis_url)
    client.delete(*client.keys("stoker*login*") or ["none"])


@pytest.mark.parametrize("store", ["memory", "redis"])
@pytest.mark.parametrize("counted_by", ["username", "address"])
def test_logins_sent_all_at_once_are_tried_no_more_than_the_limit(store, counted_by, database_url, tmp_path, request):
    """40 wrong passwords and the right one at once, for one name (or from one address): at most
    the limit are tried, the rest wait, and once the limit is reached the right one waits too."""
    env = {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "data"), "STOKER_WORKER_CONCURRENCY": "0",
           "STOKER_LOGIN_FAILURES_PER_USER": str(LIMIT),
           "STOKER_LOGIN_FAILURES_PER_ADDRESS": str(LIMIT if counted_by == "address" else 1000)}
    if store == "redis":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
        forget_login_counts(env["REDIS_URL"])
    server = start_server("serve", env, tmp_path)
    try:
        victim = f"victim{uuid.uuid4().hex[:12]}"
        assert api(server, "POST", "/api/auth/register", json={"username": victim, "password": PASSWORD}).ok

        def guess(n, password="wrong-password"):
            username = victim if counted_by == "username" else f"guess{n}"
            return api(server, "POST", "/api/auth/login", json={"username": username, "password": password})

        def right(_=None):
            return api(server, "POST", "/api/auth/login", json={"username": victim, "password": PASSWORD})

        with ThreadPoolExecutor(41) as pool:
            wrong_ones = [pool.submit(guess, n) for n in range(20)]
            right_one = pool.submit(right)
            wrong_ones += [pool.submit(guess, n) for n in range(20, 40)]
            answers, right_answer = [f.result() for f in wrong_ones], right_one.result()
        tried = [a for a in answers if a.status_code == 401]
        waiting = [a for a in answers if a.status_code == 429]
        assert len(tried) <= LIMIT and len(tried) + len(waiting) == 40, sorted(a.status_code for a in answers)
        assert all(0 < int(a.headers["Retry-After"]) <= WINDOW_SECONDS for a in waiting)
        assert right_answer.status_code in (200, 429)

        # Had the right one taken a turn meanwhile, fewer than the limit were tried: the rest now.
        for n in range(LIMIT - len(tried)):
            assert guess(100 + n).status_code == 401
        assert guess(200).status_code == 429
        response = right()
        assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    finally:
        stop_server(server)
