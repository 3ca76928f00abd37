"""Signing in through a forge or an OpenID Connect provider (app/signin.py speaks to them), and the
providers linked to one's account.

A sign-in is started by the browser that will finish it: the attempt is kept with the hash of a
cookie set on that browser, and a callback from any other browser, or a second one with the same
state, finds nothing to finish. A provider's account becomes a Stoker account only as a password
registration would (the first account, an invitation, or sign-up left open), and is linked to an
existing account only from that account's own session: never by a matching name or e-mail address.
"""
import hashlib
import re
import secrets
from datetime import timedelta
from urllib.parse import quote

from flask import Blueprint, current_app, jsonify, redirect, request
from flask_jwt_extended import create_access_token
from peewee import fn

from .. import signin
from ..config import OAUTH_NAME
from ..records import vault
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
from .callers import USERNAME, current_user, invitation_hash, require_login, require_login_token
from .errors import ApiError
from .parsing import json_body, path_id

bp = Blueprint("signin", __name__, url_prefix="/api/auth")

COOKIE = "stoker_sign_in"
COOKIE_PATH = "/api/auth/oauth/"
# Long enough to sign in at the provider, short enough that a stolen state is soon worth nothing.
ATTEMPT_MINUTES = 10
# Attempts are made before anyone is known: this many pending from one address, and in all, is
# what the table holds.
MOST_ATTEMPTS_PER_ADDRESS = 50
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


def _hash(value):
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


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
    """Where to send the browser to link the provider to the signed-in account."""
    require_login_token()
    json_body()
    return _start(_provider(name), None, current_user.id)


def _start(provider, invitation, link_user):
    started = signin_call(signin.start, current_app, provider, _redirect_uri(provider["name"]))
    # One browser keeps one value, so that two sign-ins begun in two tabs both finish.
    browser = request.cookies.get(COOKIE, "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{43}", browser):
        browser = secrets.token_urlsafe(32)
    now = utcnow()
    with db.atomic():
        SignInAttempt.delete().where(SignInAttempt.expires_at <= now).execute()
        address = request.remote_addr or "unknown"
        if (SignInAttempt.select().where(SignInAttempt.address == address).count() >= MOST_ATTEMPTS_PER_ADDRESS
                or SignInAttempt.select().count() >= MOST_ATTEMPTS):
            raise ApiError(503, "Too many sign-ins are under way; try again in a few minutes",
                           headers={"Retry-After": "60"})
        SignInAttempt.create(state_hash=_hash(started.state), browser_hash=_hash(browser), provider=provider["name"],
                             verifier=started.verifier, nonce=started.nonce, invitation_hash=invitation,
                             link_user=link_user, address=address, expires_at=now + timedelta(minutes=ATTEMPT_MINUTES))
    response = jsonify(message=f"Continue at {provider['label']}", authorizeUrl=started.url)
    response.set_cookie(COOKIE, browser, max_age=ATTEMPT_MINUTES * 60, path=COOKIE_PATH, httponly=True,
                        samesite="Lax", secure=current_app.config["STOKER_PUBLIC_URL"].startswith("https:"))
    return response


def signin_call(work, *args):
    try:
        return work(*args)
    except signin.SignInError as exc:
        raise ApiError(502, str(exc)) from None


class Refused(Exception):
    """The sign-in ends here, and the browser is told why."""


@bp.get("/oauth/<name>/callback")
def callback(name):
    """Where the provider sends the browser back: the attempt its state names is used up, and the
    browser lands on the dashboard signed in (a login token in the address's fragment, which is
    never sent to a server), or told why not."""
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
        try:
            identity = signin.finish(current_app, provider, _redirect_uri(name), code, attempt.verifier, attempt.nonce)
        except signin.SignInError as exc:
            raise Refused(str(exc)) from None
        user = _account_for(provider, identity, attempt)
    except Refused as refusal:
        response = redirect(f"{back}#signInError={quote(str(refusal))}")
    else:
        _keep_forge_token(provider, identity, user)
        fragment = "linked=" + quote(provider["label"]) if attempt.link_user_id else \
            "signedIn=" + create_access_token(identity=str(user.id))
        response = redirect(f"{back}#{fragment}")
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


def _take_attempt(name):
    """The unexpired attempt the callback's state names, begun by this browser for this provider,
    taken so that no other callback can use it; None if there is none."""
    state, browser = request.args.get("state", ""), request.cookies.get(COOKIE, "")
    if not state or not browser or len(state) > 200:
        return None
    attempt = SignInAttempt.get_or_none(SignInAttempt.state_hash == _hash(state))
    if (attempt is None or attempt.provider != name or attempt.expires_at <= utcnow()
            or not secrets.compare_digest(attempt.browser_hash, _hash(browser))):
        return None
    # Whoever deletes it owns it: of two callbacks with one state, one finishes.
    return attempt if SignInAttempt.delete().where(SignInAttempt.id == attempt.id).execute() else None


def _account_for(provider, identity, attempt):
    """The user the identity signs in as (or was linked to), made if sign-up allows; Refused if none."""
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
            return user
        if known:
            if known.user.disabled:
                raise Refused("This account is disabled")
            SignInIdentity.update(last_used_at=utcnow(), login=identity.login).where(
                SignInIdentity.id == known.id).execute()
            return known.user
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
        return user


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
    """A forge's sign-in token connects the user's account on that forge, unless one is connected
    already (a token the user pasted may reach more than sign-in asked for)."""
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
