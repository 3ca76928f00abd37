"""Socket.IO: authenticated connections, one room per user, and the one way events leave."""
import logging
import time
from dataclasses import dataclass
from datetime import timezone

import socketio
from flask_jwt_extended import decode_token

from ..records.models import ApiToken, RevokedToken, User, db
from ..runtime import SOCKETIO_MODE, Periodic
from ..services import services

log = logging.getLogger(__name__)

# How soon a connection ends after its token is revoked in another process, or expires.
TOKEN_CHECK_SECONDS = 2


def user_room(user_id):
    return f"user:{user_id}"


def claims_for_token(app, token):
    """Return the claims of a good access token (its user exists, it is not revoked), or None."""
    if not isinstance(token, str) or not token:
        return None
    if token.startswith(ApiToken.PREFIX):
        return _api_token_claims(token)
    with app.app_context():
        try:
            claims = decode_token(token)
        except Exception:
            return None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.isdecimal() or not subject.isascii():
        return None
    # decode_token checks less than a REST request does: the token must be an access token.
    if claims.get("type") != "access":
        return None
    with db.connection_context():
        if RevokedToken.covers(claims.get("jti")):
            return None
        if not User.select().where((User.id == int(subject)) & ~User.disabled).exists():
            return None
    return claims


def _api_token_claims(token):
    """An API token as the claims a connection keeps: its id as the jti, and its expiry (if any)."""
    with db.connection_context():
        row = ApiToken.of_value(token)
    if row is None:
        return None
    expires = row.expires_at.replace(tzinfo=timezone.utc).timestamp() if row.expires_at else float("inf")
    return {"sub": str(row.user_id), "jti": f"{API_JTI}{row.id}", "exp": expires}


# The jti a connection made with API token N keeps: "api:N".
API_JTI = "api:"


@dataclass(frozen=True)
class Connection:
    """What a live connection was authenticated with, to end it when that stops being good."""

    user_id: int
    jti: str
    expires: float


def create_server(app):
    """Return the Socket.IO server that serves browsers and API clients for this app."""
    url = app.config["REDIS_URL"]
    manager = socketio.RedisManager(url) if url else None
    sio = socketio.Server(async_mode=SOCKETIO_MODE, client_manager=manager)
    connections = services(app).connections

    @sio.event
    def connect(sid, environ, auth):
        # Only the auth payload is read: tokens in query strings end up in logs.
        claims = claims_for_token(app, auth.get("token") if isinstance(auth, dict) else None)
        if claims is None:
            raise ConnectionRefusedError("authentication failed")
        connections[sid] = Connection(int(claims["sub"]), str(claims["jti"]), claims["exp"])
        sio.enter_room(sid, user_room(connections[sid].user_id))

    @sio.event
    def disconnect(sid, *reason):
        connections.pop(sid, None)

    return sio


def close_sockets_of_token(app, jti):
    """Disconnect this process's connections made with one token (the others notice within
    TOKEN_CHECK_SECONDS: see close_stale_sockets)."""
    _close_sockets(app, lambda connection: connection.jti == jti)


def close_sockets_of_user(app, user_id):
    """Disconnect this process's connections of one user, as close_sockets_of_token does."""
    _close_sockets(app, lambda connection: connection.user_id == user_id)


def _close_sockets(app, matches):
    sio = services(app).socketio
    for sid, connection in list(services(app).connections.items()):
        if matches(connection):
            sio.disconnect(sid)


def close_stale_sockets(app):
    """Disconnect this process's connections whose token expired or was revoked (by any
    process), or whose user is gone or disabled; return how many."""
    sio, connections = services(app).socketio, list(services(app).connections.items())
    if not connections:
        return 0
    jtis = {c.jti for _, c in connections}
    user_ids = {c.user_id for _, c in connections}
    api_ids = {int(jti[len(API_JTI):]) for jti in jtis if jti.startswith(API_JTI)}
    with db.connection_context():
        revoked = {jti for (jti,) in RevokedToken.select(RevokedToken.jti)
                   .where(RevokedToken.jti.in_(jtis)).tuples()}
        kept = {token_id for (token_id,) in ApiToken.select(ApiToken.id).where(ApiToken.id.in_(api_ids)).tuples()}
        revoked |= {f"{API_JTI}{token_id}" for token_id in api_ids - kept}
        users = {uid for (uid,) in User.select(User.id).where(User.id.in_(user_ids) & ~User.disabled).tuples()}
    now, closed = time.time(), 0
    for sid, connection in connections:
        if connection.expires <= now or connection.jti in revoked or connection.user_id not in users:
            sio.disconnect(sid)
            closed += 1
    return closed


CLOSE_STALE_SOCKETS = Periodic("checking the tokens of live connections", close_stale_sockets,
                               every=TOKEN_CHECK_SECONDS, role="clients")


def init_app(app, serve_clients=True):
    """Set up where events go: this process's own clients, or Redis for a worker process."""
    if serve_clients:
        services(app).socketio = services(app).emitter = create_server(app)
    elif app.config["REDIS_URL"]:
        services(app).emitter = socketio.RedisManager(app.config["REDIS_URL"], write_only=True)
    else:
        log.warning("REDIS_URL is unset: this worker's status changes reach no browser")


def emit_to_users(app, user_ids, event, data):
    """Send one event to every connection of these users, in this or any web process."""
    emitter = services(app).emitter
    if emitter is None:
        return
    for user_id in user_ids:
        try:
            emitter.emit(event, data, room=user_room(user_id))
        except Exception:
            # What the event tells is saved; a client that missed it reads it on its next request.
            log.exception("could not send %s to user %s", event, user_id)
