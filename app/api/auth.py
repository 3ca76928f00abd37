"""Accounts: register (by invitation), log in and out, and API tokens (the guard is in callers.py)."""
import secrets
from datetime import datetime, timedelta, timezone

from flask import Blueprint, current_app, jsonify, request
from flask_jwt_extended import create_access_token, get_jwt, verify_jwt_in_request
from peewee import IntegrityError, fn
from werkzeug.security import check_password_hash

from .. import runtime
from ..live import realtime
from ..records.db import take_turns
from ..records.models import ApiToken, AuditEntry, Invitation, RevokedToken, User, db, utcnow
from ..records.words import Scope
from ..services import services
from .callers import (
    API_TOKEN_PREFIX,
    FRESH,
    PASSWORD_LENGTHS,
    PASSWORD_METHOD,
    USERNAME,
    current_user,
    dummy_hash,
    hash_password,
    invitation_hash,
    require_login,
    require_login_token,
)
from .errors import ApiError
from .parsing import json_body, path_id, whole_number

bp = Blueprint("auth", __name__, url_prefix="/api/auth")


def _credentials(data):
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        raise ApiError(400, "username must be 3-40 characters of letters, digits, '_', '.' or '-'")
    if not isinstance(password, str) or len(password) not in PASSWORD_LENGTHS:
        raise ApiError(400, "password must be 8 to 1024 characters")
    return username, password


BY_INVITATION = "Registration is by invitation"
TAKEN = "Username is already taken"


def _usable_invitation(code):
    if not Invitation.usable(invitation_hash(code)).exists():
        raise ApiError(403, BY_INVITATION)


@bp.post("/register")
def register():
    """The first account becomes an admin; after it, each account needs an admin's invitation
    (unless STOKER_REGISTRATION=open), which it uses up."""
    # 1. Check the fields and the invitation before the slow hashing, so a refusal costs nothing.
    data = json_body()
    username, password = _credentials(data)
    code = data.get("invitation")
    if code is not None and not isinstance(code, str):
        raise ApiError(400, "invitation must be a string")
    closed = current_app.config["STOKER_REGISTRATION"] != "open"
    if closed and User.select().exists():
        _usable_invitation(code or "")
    password_hash = runtime.off_the_hub(hash_password, password)
    # 2. Check again and write, one registration at a time: two first accounts, or two uses of one
    #    invitation, cannot both get through.
    try:
        with db.atomic():
            take_turns("accounts")
            first = not User.select().exists()
            # Names are unique in any case: "Alice" is taken once "alice" is.
            if User.select().where(fn.LOWER(User.username) == username.lower()).exists():
                raise ApiError(409, TAKEN)
            user = User.create(username=username, password_hash=password_hash, admin=first)
            # Someone else may have become the first meanwhile: then this one needs an invitation too.
            if closed and not first and not Invitation.use(invitation_hash(code or ""), user):
                raise ApiError(403, BY_INVITATION)
    except IntegrityError:
        raise ApiError(409, TAKEN) from None
    return jsonify(message="User registered", user=user.to_json()), 201


@bp.post("/login")
def login():
    """A login token for the account registered under this name, in any case; each attempt counts
    against the name and the address until its password turns out right."""
    data = json_body()
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ApiError(400, "username and password are required")
    # 1. Count the attempt before the slow check, in one step with the look at the count: however
    #    many arrive at once, no more than the limit are tried. Only a name an account could have is
    #    counted (others would fill the counters with junk), in lower case as names are unique.
    counted_as = username.lower() if USERNAME.fullmatch(username) else None
    throttle, address = services(current_app).login_throttle, request.remote_addr or "unknown"
    tickets, wait = throttle.take(counted_as, address)
    if wait:
        raise ApiError(429, f"Too many failed logins; try again in {wait} s", headers={"Retry-After": str(wait)})
    # 2. Check the password; a wrong one stays counted.
    user = account_named(username) if counted_as else None
    stored = user.password_hash if user else dummy_hash()
    # Past the longest password an account can have, nothing more is hashed.
    password = password[:PASSWORD_LENGTHS.stop]
    if not runtime.off_the_hub(check_password_hash, stored, password) or user is None:
        raise ApiError(401, "Invalid username or password")
    throttle.forgive(tickets)
    # 3. The right password of a disabled account still opens nothing.
    if user.disabled:
        raise ApiError(403, "This account is disabled")
    if not stored.startswith(PASSWORD_METHOD + "$"):
        # A hash made the older way is made again now that the password is at hand.
        fresh = runtime.off_the_hub(hash_password, password)
        User.update(password_hash=fresh).where(User.id == user.id).execute()
    return jsonify(message="Logged in", accessToken=create_access_token(identity=str(user.id), fresh=FRESH))


def account_named(username):
    """The account registered under `username` in any case: its own spelling first, else the one
    account that differs from it in case alone (a database made before names were unique in any
    case may hold several, and then only their own spellings log in)."""
    exact = User.get_or_none(User.username == username)
    if exact is not None:
        return exact
    alike = list(User.select().where(fn.LOWER(User.username) == username.lower()).limit(2))
    return alike[0] if len(alike) == 1 else None


@bp.get("/me")
def me():
    require_login()
    return jsonify(message="User fetched", user=current_user.to_json())


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


@bp.post("/tokens")
def create_token():
    require_login_token()
    data = json_body()
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100 or not name.isprintable():
        raise ApiError(400, "name must be 1 to 100 printable characters")
    if data.get("scope") not in Scope.ALL:
        raise ApiError(400, f"scope must be {' or '.join(Scope.ALL)}")
    days = data.get("expiresInDays")
    expires = None if days is None else utcnow() + timedelta(days=whole_number(data, "expiresInDays", 1, 3650))
    value = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.atomic():
        row = ApiToken.create(user=current_user.id, name=name.strip(), scope=data["scope"], expires_at=expires,
                              token_hash=ApiToken.hash_of(value))
        AuditEntry.note(None, current_user, "token.create", f"{row.name} ({row.scope})")
    return jsonify(message="Token created; its value is shown this once", token={**row.to_json(), "value": value}), 201


@bp.get("/tokens")
def list_tokens():
    require_login_token()
    rows = ApiToken.select().where(ApiToken.user == current_user.id).order_by(ApiToken.id)
    return jsonify(message="Tokens fetched", tokens=[row.to_json() for row in rows])


@bp.delete("/tokens/<token_id>")
def delete_token(token_id):
    """Revoke an API token at once, on every process, live connections included."""
    require_login_token()
    token_id = path_id(token_id, "tokenId", "Token")
    with db.atomic():
        deleted = ApiToken.delete().where((ApiToken.id == token_id) & (ApiToken.user == current_user.id)).execute()
        if not deleted:
            raise ApiError(404, "Token not found")
        AuditEntry.note(None, current_user, "token.revoke", token_id)
    realtime.close_sockets_of_token(current_app, f"{realtime.API_JTI}{token_id}")
    return jsonify(message="Token revoked")


