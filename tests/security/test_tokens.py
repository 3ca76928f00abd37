"""Bearer tokens: every way a token can be bad is a 401 on REST and a refused Socket.IO
connection, and a token that stops being good ends the connections made with it."""
import base64
import json
import time
import uuid
from datetime import timedelta

import jwt
import pytest
import socketio

from app.records.models import RevokedToken, User, utcnow
from tests.support import SECRET, api, login, wait_until

# The HS512 case signs with the test secret, shorter than HS512 would want; it is refused anyway.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def claims(**changes):
    now = int(time.time())
    payload = {"fresh": False, "iat": now, "nbf": now, "jti": str(uuid.uuid4()), "type": "access",
               "sub": "1", "exp": now + 600}
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def signed(payload, key=SECRET, algorithm="HS256"):
    return jwt.encode(payload, key, algorithm=algorithm)


def unsigned(payload):
    """A token with `alg: none` and no signature, as in the classic JWT bypass."""
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


BAD_TOKENS = {
    "alg none": lambda: unsigned(claims()),
    "alg none, signature kept": lambda: unsigned(claims()) + signed(claims()).rsplit(".", 1)[1],
    "wrong key": lambda: signed(claims(), key="not-the-server-secret-but-long-enough-for-hs256"),
    "HS512 with the right key": lambda: signed(claims(), algorithm="HS512"),
    "expired": lambda: signed(claims(exp=int(time.time()) - 5)),
    "not yet valid": lambda: signed(claims(nbf=int(time.time()) + 600)),
    "no sub": lambda: signed(claims(sub=None)),
    "integer sub": lambda: signed(claims(sub=1)),
    "sub of another shape": lambda: signed(claims(sub="1 OR 1=1")),
    "sub of no user": lambda: signed(claims(sub="999")),
    "refresh token": lambda: signed(claims(type="refresh")),
    "garbage": lambda: "not.a.token",
    "empty": lambda: "",
}


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_a_bad_token_is_a_401_on_rest(client, accounts, kind):
    accounts.register("alice")  # user 1 exists: only the token is wrong
    response = client.get("/api/project/projects", headers={"Authorization": f"Bearer {BAD_TOKENS[kind]()}"})
    assert response.status_code == 401
    assert set(response.get_json()) == {"message"}


def test_a_token_of_a_deleted_user_is_a_401(client, accounts):
    headers = accounts.headers("alice")
    assert client.get("/api/project/projects", headers=headers).status_code == 200
    User.delete().where(User.username == "alice").execute()
    assert client.get("/api/project/projects", headers=headers).status_code == 401


def test_logging_out_revokes_that_token_only(client, accounts):
    first, second = accounts.headers("alice", fresh=True), accounts.headers("alice", fresh=True)
    response = client.post("/api/auth/logout", headers=first)
    assert (response.status_code, response.get_json()) == (200, {"message": "Logged out"})
    assert client.get("/api/project/projects", headers=first).status_code == 401
    assert client.post("/api/auth/logout", headers=first).status_code == 401
    assert client.get("/api/project/projects", headers=second).status_code == 200
    assert client.post("/api/auth/logout").status_code == 401


def connect(server, **kwargs):
    client = socketio.Client(reconnection=False)
    client.connect(server.url, transports=["websocket"], wait_timeout=5, **kwargs)
    return client


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_a_bad_token_is_refused_on_socketio(live_server, kind):
    login(live_server, "alice")
    with pytest.raises(socketio.exceptions.ConnectionError):
        connect(live_server, auth={"token": BAD_TOKENS[kind]()})


def test_a_good_token_in_the_query_string_is_refused(live_server):
    token = login(live_server, "alice")
    for url in (f"{live_server.url}?token={token}", f"{live_server.url}?access_token={token}"):
        client = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(url, transports=["websocket"], wait_timeout=5)
    connect(live_server, auth={"token": token}).disconnect()  # the same token, sent properly


def test_logging_out_closes_the_live_connections_of_that_token(live_server):
    token, other = login(live_server, "alice", fresh=True), login(live_server, "alice", fresh=True)
    signed_out, still_in = connect(live_server, auth={"token": token}), connect(live_server, auth={"token": other})
    assert api(live_server, "POST", "/api/auth/logout", token).status_code == 200
    wait_until(lambda: not signed_out.connected, timeout=1, interval=0.05)
    assert still_in.connected
    with pytest.raises(socketio.exceptions.ConnectionError):
        connect(live_server, auth={"token": token})
    still_in.disconnect()


def test_a_token_revoked_elsewhere_or_a_deleted_user_ends_connections(live_server, live_database):
    """What another web process does (or an admin in the database) reaches this one's sockets."""
    from app.live.realtime import TOKEN_CHECK_SECONDS

    revoked_token, deleted_user_token = login(live_server, "alice"), login(live_server, "bob")
    revoked = connect(live_server, auth={"token": revoked_token})
    deleted = connect(live_server, auth={"token": deleted_user_token})
    kept = connect(live_server, auth={"token": login(live_server, "carol")})
    with live_database():
        jti = jwt.decode(revoked_token, options={"verify_signature": False})["jti"]
        RevokedToken.create(jti=jti, expires_at=utcnow() + timedelta(hours=1))
        User.delete().where(User.username == "bob").execute()
    wait_until(lambda: not revoked.connected, timeout=TOKEN_CHECK_SECONDS + 2, interval=0.05)
    wait_until(lambda: not deleted.connected, timeout=1, interval=0.05)
    assert kept.connected
    kept.disconnect()


def test_a_connection_ends_when_its_token_expires(live_server):
    from app.live.realtime import TOKEN_CHECK_SECONDS

    login(live_server, "alice")
    client = connect(live_server, auth={"token": signed(claims(exp=int(time.time()) + 2))})
    assert client.connected
    wait_until(lambda: not client.connected, timeout=2 + TOKEN_CHECK_SECONDS + 2, interval=0.05)


@pytest.mark.both_databases
def test_revocations_are_kept_only_until_their_tokens_expire(client, accounts):
    old = RevokedToken.create(jti="long-expired", expires_at=utcnow() - timedelta(seconds=1))
    client.post("/api/auth/logout", headers=accounts.headers("alice"))
    assert RevokedToken.get_or_none(RevokedToken.id == old.id) is None
    assert RevokedToken.select().count() == 1
