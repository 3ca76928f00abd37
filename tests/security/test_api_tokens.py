"""API tokens for scripts: shown once, kept as a hash, read or write, revoked at once (live
connections too), and never able to manage tokens themselves."""
import re
from datetime import timedelta

import pytest
import socketio

from app.live.realtime import TOKEN_CHECK_SECONDS
from app.records.models import ApiToken, User, utcnow
from tests.support import api, create_project, login, wait_until


def make_token(client, headers, **body):
    answer = client.post("/api/auth/tokens", json={"name": "ci script", "scope": "write", **body}, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["token"]


def bearer(value):
    return {"Authorization": f"Bearer {value}"}


def test_a_token_is_shown_once_kept_as_a_hash_and_works_where_a_login_token_does(client, accounts, local_repo):
    headers = accounts.headers()
    made = create_project(client, accounts.token(), local_repo)
    token = make_token(client, headers, expiresInDays=30)
    assert re.fullmatch(r"stk_[A-Za-z0-9_-]{43,}", token["value"])
    assert set(token) == {"id", "name", "scope", "createdAt", "expiresAt", "lastUsedAt", "value"}
    assert token["value"] not in str(list(ApiToken.select().dicts()))

    assert client.get(f"/api/build/{made['build']['id']}", headers=bearer(token["value"])).status_code == 200
    assert client.get("/api/auth/me", headers=bearer(token["value"])).get_json()["user"]["username"] == "alice"
    rebuilt = client.post(f"/api/build/rebuild/{made['build']['id']}", headers=bearer(token["value"]))
    assert rebuilt.status_code == 201 and rebuilt.get_json()["build"]["triggeredBy"] == "alice"
    listed = client.get("/api/auth/tokens", headers=headers).get_json()["tokens"]
    assert [t["name"] for t in listed] == ["ci script"] and "value" not in listed[0]
    assert listed[0]["lastUsedAt"] is not None


def test_a_read_token_reads_and_nothing_more(client, accounts, local_repo):
    made = create_project(client, accounts.token(), local_repo)
    reader = bearer(make_token(client, accounts.headers(), scope="read")["value"])
    assert client.get("/api/project/projects", headers=reader).status_code == 200
    for method, path in [("POST", f"/api/build/rebuild/{made['build']['id']}"),
                         ("PATCH", f"/api/project/projects/{made['project']['id']}"),
                         ("PUT", f"/api/project/projects/{made['project']['id']}/secrets/X")]:
        answer = client.open(path, method=method, json={"public": True, "value": "v"}, headers=reader)
        assert answer.status_code == 403 and "only read" in answer.get_json()["message"], (method, path)


def test_tokens_are_managed_with_a_login_token_only_and_revoked_at_once(client, accounts):
    headers = accounts.headers()
    token = make_token(client, headers)
    as_token = bearer(token["value"])
    for method, path in [("GET", "/api/auth/tokens"), ("POST", "/api/auth/tokens"),
                         ("DELETE", f"/api/auth/tokens/{token['id']}")]:
        answer = client.open(path, method=method, json={"name": "more", "scope": "write"}, headers=as_token)
        assert answer.status_code == 403 and "login token" in answer.get_json()["message"]
    assert client.delete(f"/api/auth/tokens/{token['id']}", headers=accounts.headers("bob")).status_code == 404
    assert client.delete(f"/api/auth/tokens/{token['id']}", headers=headers).status_code == 200
    assert client.get("/api/project/projects", headers=as_token).status_code == 401
    assert client.delete(f"/api/auth/tokens/{token['id']}", headers=headers).status_code == 404


def test_an_expired_token_or_a_disabled_users_is_a_401(client, accounts):
    token = make_token(client, accounts.headers(), expiresInDays=1)
    ApiToken.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    assert client.get("/api/project/projects", headers=bearer(token["value"])).status_code == 401
    assert client.get("/api/project/projects", headers=bearer("stk_" + "x" * 43)).status_code == 401
    # A user disabled elsewhere (another process, a script on the database): the token is still
    # kept, and the user's state alone refuses it.
    bobs = bearer(make_token(client, accounts.headers("bob"))["value"])
    assert client.get("/api/project/projects", headers=bobs).status_code == 200
    User.update(disabled=True).where(User.username == "bob").execute()
    assert client.get("/api/project/projects", headers=bobs).status_code == 401
    assert ApiToken.select().where(ApiToken.user == User.get(username="bob").id).exists()


@pytest.mark.parametrize("body, field", [({"scope": "write"}, "name"), ({"name": "", "scope": "write"}, "name"),
                                         ({"name": "x" * 101, "scope": "write"}, "name"),
                                         ({"name": "ci", "scope": "admin"}, "scope"),
                                         ({"name": "ci", "scope": "read", "expiresInDays": 0}, "expiresInDays"),
                                         ({"name": "ci", "scope": "read", "expiresInDays": "7"}, "expiresInDays")])
def test_bad_token_requests_are_400s_naming_the_field(client, accounts, body, field):
    answer = client.post("/api/auth/tokens", json=body, headers=accounts.headers())
    assert answer.status_code == 400 and field in answer.get_json()["message"]
    assert ApiToken.select().count() == 0


def test_a_live_connection_made_with_a_token_ends_when_it_is_revoked(live_server):
    login_token = login(live_server, "alice")
    made = api(live_server, "POST", "/api/auth/tokens", login_token, json={"name": "watch", "scope": "read"}).json()
    listener = socketio.Client(reconnection=False)
    listener.connect(live_server.url, auth={"token": made["token"]["value"]}, transports=["websocket"],
                     wait_timeout=5)
    assert listener.connected
    assert api(live_server, "DELETE", f"/api/auth/tokens/{made['token']['id']}", login_token).status_code == 200
    wait_until(lambda: not listener.connected, timeout=3, interval=0.05)


def test_a_live_connection_made_with_a_token_ends_when_its_user_is_disabled_elsewhere(live_server, live_database):
    value = api(live_server, "POST", "/api/auth/tokens", login(live_server, "bob"),
                json={"name": "watch", "scope": "read"}).json()["token"]["value"]
    listener = socketio.Client(reconnection=False)
    listener.connect(live_server.url, auth={"token": value}, transports=["websocket"], wait_timeout=5)
    assert listener.connected and api(live_server, "GET", "/api/project/projects", value).status_code == 200
    with live_database():  # as another process would, without this server's word
        User.update(disabled=True).where(User.username == "bob").execute()
    assert api(live_server, "GET", "/api/project/projects", value).status_code == 401
    wait_until(lambda: not listener.connected, timeout=TOKEN_CHECK_SECONDS + 3, interval=0.05)
    with pytest.raises(socketio.exceptions.ConnectionError):
        socketio.Client(reconnection=False).connect(live_server.url, auth={"token": value}, transports=["websocket"],
                                                    wait_timeout=5)


def test_disabling_a_user_revokes_their_api_tokens_for_good(live_server):
    admin, bob = login(live_server, "alice"), login(live_server, "bob")  # alice, the first, is an admin
    bob_id = api(live_server, "GET", "/api/auth/me", bob).json()["user"]["id"]
    value = api(live_server, "POST", "/api/auth/tokens", bob, json={"name": "ci", "scope": "write"}).json()["token"]["value"]
    listener = socketio.Client(reconnection=False)
    listener.connect(live_server.url, auth={"token": value}, transports=["websocket"], wait_timeout=5)

    def refused_everywhere():
        assert api(live_server, "GET", "/api/project/projects", value).status_code == 401
        with pytest.raises(socketio.exceptions.ConnectionError):
            socketio.Client(reconnection=False).connect(live_server.url, auth={"token": value},
                                                        transports=["websocket"], wait_timeout=5)

    assert api(live_server, "PATCH", f"/api/admin/users/{bob_id}", admin, json={"disabled": True}).status_code == 200
    wait_until(lambda: not listener.connected, timeout=3, interval=0.05)
    refused_everywhere()
    assert api(live_server, "PATCH", f"/api/admin/users/{bob_id}", admin, json={"disabled": False}).status_code == 200
    refused_everywhere()
    assert api(live_server, "GET", "/api/auth/tokens", login(live_server, "bob", fresh=True)).json()["tokens"] == []
