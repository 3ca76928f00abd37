"""Accounts: register, log in and out, and the bearer-token guard every other API route uses."""
import re
from datetime import datetime, timezone
from functools import cache

from flask import Blueprint, current_app, jsonify
from flask_jwt_extended import create_access_token, get_jwt, verify_jwt_in_request
from peewee import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from . import realtime
from .errors import ApiError, json_body
from .models import RevokedToken, User, db, utcnow

bp = Blueprint("auth", __name__, url_prefix="/api/auth")

USERNAME = re.compile(r"[A-Za-z0-9_.-]{3,40}")
# Hashing is slow on purpose; an unbounded password would make it a denial of service.
PASSWORD_LENGTHS = range(8, 1025)


@cache
def _dummy_hash():
    """A real hash to check against for unknown users, so both failures take as long."""
    return generate_password_hash("not-a-password-anyone-has")


def off_the_hub(function, *args):
    """Run slow hashing where it stalls no other request: on an OS thread when the server
    provides one (`stoker serve` sets "stoker.offload" to eventlet's thread pool)."""
    offload = current_app.extensions.get("stoker.offload")
    return offload(function, *args) if offload else function(*args)


def _credentials():
    data = json_body()
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        raise ApiError(400, "username must be 3-40 characters of letters, digits, '_', '.' or '-'")
    if not isinstance(password, str) or len(password) not in PASSWORD_LENGTHS:
        raise ApiError(400, "password must be 8 to 1024 characters")
    return username, password


@bp.post("/register")
def register():
    username, password = _credentials()
    try:
        with db.atomic():
            user = User.create(username=username, password_hash=off_the_hub(generate_password_hash, password))
    except IntegrityError:
        raise ApiError(409, "Username is already taken") from None
    return jsonify(message="User registered", user=user.to_json()), 201


@bp.post("/login")
def login():
    data = json_body()
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ApiError(400, "username and password are required")
    user = User.get_or_none(User.username == username)
    stored = user.password_hash if user else _dummy_hash()
    if not off_the_hub(check_password_hash, stored, password[:PASSWORD_LENGTHS.stop]) or user is None:
        raise ApiError(401, "Invalid username or password")
    return jsonify(message="Logged in", accessToken=create_access_token(identity=str(user.id)))


@bp.post("/logout")
def logout():
    """Revoke the token this request carries, and close the live connections made with it."""
    verify_jwt_in_request()
    claims = get_jwt()
    expires = datetime.fromtimestamp(claims["exp"], timezone.utc).replace(tzinfo=None)
    with db.atomic():
        RevokedToken.insert(jti=claims["jti"], expires_at=expires).on_conflict_ignore().execute()
        # Tokens past their expiry are refused anyway: their revocations need not be kept.
        RevokedToken.delete().where(RevokedToken.expires_at < utcnow()).execute()
    realtime.close_sockets_of_token(current_app, claims["jti"])
    return jsonify(message="Logged out")


def is_revoked(header, payload):
    """flask-jwt-extended's blocklist check: True for a token that was logged out."""
    return RevokedToken.covers(payload.get("jti"))


def require_login():
    """A before_request guard: a valid bearer token for an existing user, or a 401."""
    verify_jwt_in_request()


def load_user(header, payload):
    """flask-jwt-extended's user loader: the token's user, or None (which is a 401)."""
    subject = payload.get("sub")
    if not isinstance(subject, str) or not subject.isdecimal() or not subject.isascii():
        return None
    return User.get_or_none(User.id == int(subject))
