"""Signing in through a forge or an OpenID Connect provider (app/signin.py speaks to them), and the
providers linked to one's account.

A sign-in is started by the browser that will finish it: the attempt is kept with the hash of a
cookie set on that browser, and a callback from any other browser, or a second one with the same
state, finds nothing to finish. A provider's account becomes a Stoker account only as a password
registration would (the first account, an invitation, or sign-up left open), and is linked to an
existing account only from that account's own session: never by a matching name or e-mail address.
"""
import ipaddress
import re
import secrets
from datetime import timedelta
from urllib.parse import quote

from flask import Blueprint, current_app, jsonify, redirect, request
from flask_jwt_extended import create_access_token, verify_jwt_in_request
from peewee import fn

from .. import signin
from ..config import OAUTH_NAME
from ..records import vault
from ..records.base import secret_hash
from ..records.db import take_turns
from ..records.models import (
    AuditEntry,
    Forge,
    ForgeAccount,
    Invitation,
    SignInAttempt,
    SignInIdentity,
    User,
    db,
    utcnow,
)
from .callers import FRESH, USERNAME, current_user, invitation_hash, require_login, require_login_token
from .errors import ApiError
from .parsing import json_body, path_id

bp = Blueprint("signin", __name__, url_prefix="/api/auth")

# The cookie that ties an attempt to its browser: over https a __Host- cookie, which nothing on
# another host (a sibling subdomain) or on plain http can set in its place.
COOKIE, SECURE_COOKIE = "stoker_sign_in", "__Host-stoker_sign_in"
# Long enough to sign in at the provider, short enough that a stolen state is soon worth nothing.
ATTEMPT_MINUTES = 10
# How long the code a finished sign-in lands with may be exchanged for a login token.
CODE_SECONDS = 60
# Attempts are made before anyone is known: the table holds at most this many, the oldest going
# first; an address may have as many pending as it may fail logins (STOKER_LOGIN_FAILURES_PER_ADDRESS).
MOST_ATTEMPTS = 10_000
# An account made by signing in has no password until its user sets one; no hash has this form.
NO_PASSWORD = "!sign-in"


def _providers():
    return current_app.config["STOKER_OAUTH"]


def _provider(name):
    if not OAUTH_NAME.fullmatch(name):
        raise ApiError(400, "name must be a sign-in provider's name: a letter, then up to 29 letters or digits")
    provider = _providers().get(name)
    if provider is None:
        raise ApiError(404, "No such sign-in provider")
    return provider


def _redirect_uri(name):
    return f"{current_app.config['STOKER_PUBLIC_URL']}/api/auth/oauth/{name}/callback"


def _sign_up_open(provider):
    return current_app.config["STOKER_REGISTRATION"] == "open" or provider["signup"] == "open"


@bp.get("/providers")
def list_providers():
    """The providers one may sign in with, for the sign-in page's buttons."""
    return jsonify(message="Sign-in providers fetched", providers=[
        {"name": p["name"], "label": p["label"], "kind": p["kind"],
         "signUp": "open" if _sign_up_open(p) else "invitation"} for p in _providers().values()])


@bp.post("/oauth/<name>/start")
def start_sign_in(name):
    """Where to send the browser to sign in with the provider; `invitation` makes an account if
    none is linked yet."""
    code = json_body().get("invitation")
    provider = _provider(name)
    if code is not None and (not isinstance(code, str) or not code):
        raise ApiError(400, "invitation must be a non-empty string")
    if code is not None and not Invitation.usable(invitation_hash(code)).exists():
        raise ApiError(403, "invitation is not a usable invitation code")
    return _start(provider, invitation_hash(code) if code else None, None)


@bp.post("/oauth/<name>/link")
def start_link(name):
    """Where to send the browser to link the provider to the signed-in account: with a login token
    from a sign-in of the last FRESH minutes, so that a token stolen later cannot link its thief."""
    require_login_token()
    verify_jwt_in_request(fresh=True)
    json_body()
    return _start(_provider(name), None, current_user.id)


def _cookie():
    """The sign-in cookie's name and path, and whether it is sent over https alone."""
    secure = current_app.config["STOKER_PUBLIC_URL"].startswith("https:")
    return (SECURE_COOKIE, "/", True) if secure else (COOKIE, "/api/auth/oauth/", False)


def _browser():
    return request.cookies.get(_cookie()[0], "")


def _address():
    """Who is asking, for counting: an IPv6 client has a /64 to itself, so the /64 is counted."""
    address = request.remote_addr or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False)) if parsed.version == 6 else address


def _start(provider, invitation, link_user):
    now, address = utcnow(), _address()
    with db.atomic():
        SignInAttempt.delete().where(SignInAttempt.expires_at <= now).execute()
        pending = SignInAttempt.select().where(SignInAttempt.address == address).count()
        if pending >= current_app.config["STOKER_LOGIN_FAILURES_PER_ADDRESS"]:
            raise ApiError(429, "Too many sign-ins are under way from here; try again in a few minutes",
                           headers={"Retry-After": "60"})
    # The provider may be slow to answer (an OpenID issuer's keys are read first): no connection
    # to the database is held meanwhile.
    db.close()
    try:
        started = signin.start(current_app, provider, _redirect_uri(provider["name"]))
    except signin.SignInError as exc:
        raise ApiError(502, str(exc)) from None
    # One browser keeps one value, so that two sign-ins begun in two tabs both finish.
    browser = _browser()
    if not re.fullmatch(r"[A-Za-z0-9_-]{43}", browser):
        browser = secrets.token_urlsafe(32)
    with db.atomic():
        # A full table makes room by dropping the oldest attempts, never by refusing everyone.
        excess = SignInAttempt.select().count() - MOST_ATTEMPTS + 1
        if excess > 0:
            oldest = SignInAttempt.select(SignInAttempt.id).order_by(SignInAttempt.id).limit(excess)
            SignInAttempt.delete().where(SignInAttempt.id.in_(oldest)).execute()
        SignInAttempt.create(state_hash=secret_hash(started.state), browser_hash=secret_hash(browser), provider=provider["name"],
                             verifier=started.verifier, nonce=started.nonce, invitation_hash=invitation,
                             link_user=link_user, address=address, expires_at=now + timedelta(minutes=ATTEMPT_MINUTES))
    response = jsonify(message=f"Continue at {provider['label']}", authorizeUrl=started.url)
    name, path, secure = _cookie()
    response.set_cookie(name, browser, max_age=ATTEMPT_MINUTES * 60, path=path, httponly=True, samesite="Lax",
                        secure=secure)
    return response


class Refused(Exception):
    """The sign-in ends here, and the browser is told why."""


@bp.get("/oauth/<name>/callback")
def callback(name):
    """Where the provider sends the browser back. The attempt its state names is used up, and the
    browser lands on the dashboard with a code good for one minute, which only this browser (its
    cookie) can exchange for a login token; or told why not."""
    provider = _provider(name)
    attempt = _take_attempt(name)
    back = "/tokens" if attempt and attempt.link_user_id else "/"
    try:
        if attempt is None:
            raise Refused("This sign-in is not one this browser started, or it was already used or expired; "
                          "start again")
        if request.args.get("error"):
            raise Refused(f"{provider['label']} did not sign you in: {request.args['error'][:100]}")
        code = request.args.get("code", "")
        if not code or len(code) > 2000:
            raise Refused(f"{provider['label']} sent no authorization code")
        db.close()
        try:
            identity = signin.finish(current_app, provider, _redirect_uri(name), code, attempt.verifier, attempt.nonce)
        except signin.SignInError as exc:
            raise Refused(str(exc)) from None
        user, made = _account_for(provider, identity, attempt)
    except Refused as refusal:
        if attempt is not None:
            SignInAttempt.delete().where(SignInAttempt.id == attempt.id).execute()
        return redirect(f"{back}#signInError={quote(str(refusal))}")
    if made:
        _keep_forge_token(provider, identity, user)
    if attempt.link_user_id:
        SignInAttempt.delete().where(SignInAttempt.id == attempt.id).execute()
        return redirect(f"{back}#linked={quote(provider['label'])}")
    handed = secrets.token_urlsafe(32)
    SignInAttempt.update(code_hash=secret_hash(handed), signed_in=user.id,
                         expires_at=utcnow() + timedelta(seconds=CODE_SECONDS)).where(
        SignInAttempt.id == attempt.id).execute()
    return redirect(f"{back}#signInCode={handed}")


@bp.post("/oauth/exchange")
def exchange():
    """The login token a finished sign-in's code stands for, to the browser that began it, once."""
    code = json_body().get("code")
    if not isinstance(code, str) or not 1 <= len(code) <= 100:
        raise ApiError(400, "code must be the code the sign-in landed with")
    attempt = SignInAttempt.get_or_none(SignInAttempt.code_hash == secret_hash(code))
    browser = _browser()
    if (attempt is None or attempt.expires_at <= utcnow() or not browser
            or not secrets.compare_digest(attempt.browser_hash, secret_hash(browser))
            or not SignInAttempt.delete().where(SignInAttempt.id == attempt.id).execute()):
        raise ApiError(401, "This sign-in code is not good (it is used, expired, or from another browser)")
    user = User.get_or_none((User.id == attempt.signed_in_id) & ~User.disabled)
    if user is None:
        raise ApiError(403, "This account is disabled")
    response = jsonify(message="Signed in", accessToken=create_access_token(identity=str(user.id), fresh=FRESH))
    name, path, _ = _cookie()
    response.delete_cookie(name, path=path)
    return response


def _take_attempt(name):
    """The unexpired attempt the callback's state names, begun by this browser for this provider,
    marked used so that no other callback can use it; None if there is none."""
    state, browser = request.args.get("state", ""), _browser()
    if not state or not browser or len(state) > 200:
        return None
    attempt = SignInAttempt.get_or_none(SignInAttempt.state_hash == secret_hash(state))
    if (attempt is None or attempt.provider != name or attempt.used or attempt.expires_at <= utcnow()
            or not secrets.compare_digest(attempt.browser_hash, secret_hash(browser))):
        return None
    # Whoever marks it owns it: of two callbacks with one state, one finishes.
    taken = SignInAttempt.update(used=True).where((SignInAttempt.id == attempt.id) & ~SignInAttempt.used).execute()
    return attempt if taken else None


def _account_for(provider, identity, attempt):
    """The user the identity signs in as (or was linked to), made if sign-up allows, and whether the
    identity is new to it; Refused if none."""
    label = provider["label"]
    with db.atomic():
        take_turns("accounts")
        known = SignInIdentity.get_or_none((SignInIdentity.issuer == identity.issuer)
                                           & (SignInIdentity.subject == identity.subject))
        if attempt.link_user_id:
            user = User.get_or_none((User.id == attempt.link_user_id) & ~User.disabled)
            if user is None:
                raise Refused("This account is disabled")
            if known and known.user_id != user.id:
                raise Refused(f"This {label} account signs in to another Stoker account")
            if not known:
                SignInIdentity.create(user=user, provider=provider["name"], issuer=identity.issuer,
                                      subject=identity.subject, login=identity.login)
                AuditEntry.note(None, user, "signin.link", f"{provider['name']} as {identity.login}")
            return user, not known
        if known:
            if known.user.disabled:
                raise Refused("This account is disabled")
            SignInIdentity.update(last_used_at=utcnow(), login=identity.login).where(
                SignInIdentity.id == known.id).execute()
            return known.user, False
        first = not User.select().exists()
        if not first and not _sign_up_open(provider) and attempt.invitation_hash is None:
            raise Refused(f"No Stoker account signs in with this {label} account, and registration is by invitation: sign up "
                          f"with an invitation code, or sign in with your password and link {label} to your account")
        user = User.create(username=_free_name(identity.login), password_hash=NO_PASSWORD, admin=first)
        if not first and not _sign_up_open(provider) and not Invitation.use(attempt.invitation_hash, user):
            # Raised out of the transaction, which takes the account back with it.
            raise Refused("Registration is by invitation, and that invitation is no longer usable")
        SignInIdentity.create(user=user, provider=provider["name"], issuer=identity.issuer, subject=identity.subject,
                              login=identity.login, last_used_at=utcnow())
        AuditEntry.note(None, user, "signin.register", f"{provider['name']} as {identity.login}")
        return user, True


def _free_name(login):
    """A username like the provider's login that no account has, in any case."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", login).strip("-.")[:36] or "user"
    base = base if USERNAME.fullmatch(base) else f"{base}-user"[:36]
    for suffix in ["", *(f"-{n}" for n in range(2, 100))]:
        name = base + suffix
        if not User.select().where(fn.LOWER(User.username) == name.lower()).exists():
            return name
    return f"{base[:27]}-{secrets.token_hex(4)}"


def _keep_forge_token(provider, identity, user):
    """When a forge's account is first linked (or signs up), its sign-in token connects the user's
    account on that forge, unless one is connected already (a token the user pasted may reach more
    than sign-in asked for); a later sign-in does not connect again what the user disconnected."""
    forge = provider["kind"]
    if forge not in Forge.ALL or (forge == Forge.GITHUB and provider["url"] != signin.GITHUB):
        return  # a GitHub Enterprise account would need the server's STOKER_GITHUB_API_URL to be there
    url = None if forge == Forge.GITHUB else provider["url"]
    sealed = vault.seal(current_app.config["SECRET_KEY"], identity.token)
    with db.atomic():
        if not ForgeAccount.select().where((ForgeAccount.user == user.id) & (ForgeAccount.forge == forge)).exists():
            ForgeAccount.create(user=user.id, forge=forge, url=url, login=identity.login, token_sealed=sealed)


@bp.get("/identities")
def list_identities():
    require_login()
    rows = SignInIdentity.select().where(SignInIdentity.user == current_user.id).order_by(SignInIdentity.id)
    return jsonify(message="Linked sign-ins fetched", identities=[row.to_json() for row in rows])


@bp.delete("/identities/<identity_id>")
def unlink_identity(identity_id):
    """Unlink a provider; the last way into an account without a password stays (409)."""
    require_login_token()
    identity_id = path_id(identity_id, "identityId", "Linked sign-in")
    with db.atomic():
        take_turns("accounts")
        row = SignInIdentity.get_or_none((SignInIdentity.id == identity_id) & (SignInIdentity.user == current_user.id))
        if row is None:
            raise ApiError(404, "Linked sign-in not found")
        others = SignInIdentity.select().where((SignInIdentity.user == current_user.id)
                                               & (SignInIdentity.id != row.id)).exists()
        if current_user.password_hash == NO_PASSWORD and not others:
            raise ApiError(409, "This is the only way into this account, which has no password")
        row.delete_instance()
        AuditEntry.note(None, current_user, "signin.unlink", f"{row.provider} as {row.login}")
    return jsonify(message="Sign-in unlinked")
