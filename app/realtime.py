"""Socket.IO: authenticated connections, one room per user, and the one way events leave."""
import logging

import socketio
from flask_jwt_extended import decode_token

from .models import User, db

log = logging.getLogger(__name__)

# Pinned rather than guessed: the web server runs on eventlet (see stoker.py).
ASYNC_MODE = "eventlet"


def user_room(user_id):
    return f"user:{user_id}"


def user_for_token(app, token):
    """Return the User a bearer token names, or None when the token is not good."""
    if not isinstance(token, str) or not token:
        return None
    with app.app_context():
        try:
            subject = decode_token(token)["sub"]
        except Exception:
            return None
    if not isinstance(subject, str) or not subject.isdecimal() or not subject.isascii():
        return None
    with db.connection_context():
        return User.get_or_none(User.id == int(subject))


def create_server(app):
    """Return the Socket.IO server that serves browsers and API clients for this app."""
    url = app.config["REDIS_URL"]
    manager = socketio.RedisManager(url) if url else None
    sio = socketio.Server(async_mode=ASYNC_MODE, client_manager=manager)

    @sio.event
    def connect(sid, environ, auth):
        # Only the auth payload is read: tokens in query strings end up in logs.
        token = auth.get("token") if isinstance(auth, dict) else None
        user = user_for_token(app, token)
        if user is None:
            raise ConnectionRefusedError("authentication failed")
        sio.enter_room(sid, user_room(user.id))

    return sio


def init_app(app, serve_clients=True):
    """Set up where events go: this process's own clients, or Redis for a worker process."""
    if serve_clients:
        sio = create_server(app)
        app.extensions["socketio"] = sio
        app.extensions["stoker.emitter"] = sio
    elif app.config["REDIS_URL"]:
        app.extensions["stoker.emitter"] = socketio.RedisManager(
            app.config["REDIS_URL"], write_only=True
        )
    else:
        log.warning("REDIS_URL is unset: this worker's status changes reach no browser")
        app.extensions["stoker.emitter"] = None


def emit_to_user(app, user_id, event, data):
    """Send one event to every connection of one user, in this or any web process."""
    emitter = app.extensions.get("stoker.emitter")
    if emitter is not None:
        emitter.emit(event, data, room=user_room(user_id))
