"""Who is calling: the bearer-token guard every API route uses (a login token or an API token of an
enabled user), the caller it finds, and the names and hashes accounts are kept by."""
import re
from datetime import timedelta
from functools import cache

from flask import g, request
from flask_jwt_extended import current_user as _jwt_user
from flask_jwt_extended import verify_jwt_in_request
from werkzeug.local import LocalProxy
from werkzeug.security import generate_password_hash

from ..records.base import secret_hash
from ..records.models import ApiToken, RevokedToken, User, utcnow
from ..records.words import Scope
from .errors import ApiError

USERNAME = re.compile(r"[A-Za-z0-9_.-]{3,40}")
# Hashing is slow on purpose; an unbounded password would make it a denial of service.
PASSWORD_LENGTHS = range(8, 1025)
# PBKDF2-SHA256 at OWASP's 600,000 rounds: as slow as Werkzeug's default scrypt here (~140 ms
# against ~100), without scrypt's 32 MB per hash, which was a third of a small server's memory.
PASSWORD_METHOD = "pbkdf2:sha256:600000"


def hash_password(password):
    return generate_password_hash(password, method=PASSWORD_METHOD)


@cache
def dummy_hash():
    """A real hash to check against for unknown users, so both failures take as long."""
    return hash_password("not-a-password-anyone-has")


# What is kept of an invitation code: enough to recognise it, not to use it.
invitation_hash = secret_hash


def is_revoked(header, payload):
    """flask-jwt-extended's blocklist check: True for a token that was logged out."""
    return RevokedToken.covers(payload.get("jti"))


API_TOKEN_PREFIX = ApiToken.PREFIX
# How long a login token counts as fresh: long enough to link a sign-in provider after signing in,
# too short for a token found later (in a history, a log) to do it.
FRESH = timedelta(minutes=15)
# Methods a read-only API token may use.
READS = ("GET", "HEAD", "OPTIONS")
# How often a token's lastUsedAt is written: a script polling every second writes once a minute.
LAST_USED_EVERY = timedelta(minutes=1)


def _bearer():
    header = request.headers.get("Authorization", "")
    return header[len("Bearer "):].strip() if header.startswith("Bearer ") else None


def require_login():
    """A before_request guard: a valid login token or API token of an existing, enabled user, or a
    401; a read-only API token gets 403 on anything but reads."""
    # As flask-jwt-extended does: OPTIONS serves nothing and needs no token.
    if request.method == "OPTIONS":
        return
    value = _bearer()
    if value and value.startswith(API_TOKEN_PREFIX):
        row = ApiToken.of_value(value)
        if row is None:
            raise ApiError(401, "Invalid or expired API token")
        if row.scope == Scope.READ and request.method not in READS:
            raise ApiError(403, "This API token may only read")
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
            ApiToken.update(last_used_at=now).where(ApiToken.id == row.id).execute()
        g.caller, g.api_token = row.user, row
        return
    verify_jwt_in_request()
    g.caller, g.api_token = _jwt_user._get_current_object(), None


def by_api_token():
    """Whether this request was made with an API token (require_login ran), not a login token."""
    return g.get("api_token") is not None


def _caller():
    return g.get("caller") or _jwt_user._get_current_object()


# The user the request is made for, by a login token or an API token.
current_user = LocalProxy(_caller)


def require_admin():
    """A before_request guard: require_login, and the user must be an admin (else 403)."""
    if request.method == "OPTIONS":
        return
    require_login()
    if not current_user.admin:
        raise ApiError(403, "Only an admin may do this")


def require_login_token():
    """Tokens are managed with a login token: a leaked API token cannot mint or keep others."""
    if (_bearer() or "").startswith(API_TOKEN_PREFIX):
        raise ApiError(403, "API tokens are managed with a login token, not an API token")
    require_login()


def load_user(header, payload):
    """flask-jwt-extended's user loader: the token's enabled user, or None (which is a 401)."""
    subject = payload.get("sub")
    if not isinstance(subject, str) or not subject.isdecimal() or not subject.isascii():
        return None
    return User.get_or_none((User.id == int(subject)) & ~User.disabled)
