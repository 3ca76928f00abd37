"""Signing in through another service: a forge (GitHub, Gitea, Forgejo, GitLab) by OAuth 2.0, or any
OpenID Connect issuer. Authlib makes the authorization-code flow with its state and PKCE; joserfc
checks an ID token. What comes back is an Identity, known by the provider's address and its own id
there; which account it signs in as is the API's business (api/signin.py).

The providers are the admin's (STOKER_OAUTH_<NAME>_*), so their addresses are trusted as the
settings are; every answer they send is still read as hostile."""
import threading
import time
from dataclasses import dataclass

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

# The longest one read from a provider may take, and one request in all; the most of an answer read;
# how long an issuer's published keys and endpoints are trusted before they are read again, and
# how long one that could not be read is not asked again.
TIMEOUT = 10
DEADLINE = 20
MAX_ANSWER = 1024 * 1024
DISCOVERY_SECONDS = 300
FAILURE_SECONDS = 30
# How far a provider's clock may be from ours.
LEEWAY = 60

# Where each forge authorizes, gives tokens, and says who the token is, below its address.
FORGE_PATHS = {
    "github": ("/login/oauth/authorize", "/login/oauth/access_token", "/api/v3/user"),
    "gitea": ("/login/oauth/authorize", "/login/oauth/access_token", "/api/v1/user"),
    "forgejo": ("/login/oauth/authorize", "/login/oauth/access_token", "/api/v1/user"),
    "gitlab": ("/oauth/authorize", "/oauth/token", "/api/v4/user"),
}
GITHUB = "https://github.com"


class SignInError(Exception):
    """The provider refused the sign-in, or answered what a sign-in cannot be made of."""


@dataclass(frozen=True)
class Identity:
    """Who signed in: `subject` is the provider's own, lasting id for them at `issuer`."""

    issuer: str
    subject: str
    login: str
    token: str


@dataclass(frozen=True)
class Started:
    """A sign-in sent to the provider: where to send the browser, and what its callback must match."""

    url: str
    state: str
    verifier: str
    nonce: str


def start(app, provider, redirect_uri):
    endpoints = _endpoints(app, provider)
    verifier, nonce = generate_token(64), generate_token(32)
    extra = {"nonce": nonce} if provider["kind"] == "oidc" else {}
    url, state = _session(provider, redirect_uri).create_authorization_url(
        endpoints["authorization_endpoint"], state=generate_token(32), code_verifier=verifier, **extra)
    return Started(url, state, verifier, nonce)


def finish(app, provider, redirect_uri, code, verifier, nonce):
    """The Identity the authorization `code` is for; SignInError unless every check holds."""
    endpoints = _endpoints(app, provider)
    session = _session(provider, redirect_uri, endpoints.get("token_endpoint_auth_methods_supported"))
    label = provider["label"]
    try:
        token = session.fetch_token(endpoints["token_endpoint"], grant_type="authorization_code", code=code,
                                    code_verifier=verifier)
    except (OAuthError, requests.RequestException, ValueError) as exc:
        raise SignInError(f"{label} did not take the sign-in back: {_reason(exc)}") from None
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise SignInError(f"{label} gave no access token")
    if provider["kind"] == "oidc":
        claims = _id_token_claims(provider, endpoints, token.get("id_token"), nonce)
        login = next((claims[key] for key in ("preferred_username", "email", "sub") if _text(claims.get(key))), "")
        return Identity(provider["url"], claims["sub"], login[:255], access)
    try:
        answer = session.get(endpoints["user_endpoint"])
        answer.raise_for_status()
        user = answer.json()
    except (requests.RequestException, ValueError) as exc:
        raise SignInError(f"{label} did not say who signed in: {_reason(exc)}") from None
    subject = user.get("id") if isinstance(user, dict) else None
    login = user.get("login") or user.get("username") if isinstance(user, dict) else None
    # An id is a number on every forge; a name can be taken by someone else once given up.
    if isinstance(subject, bool) or not isinstance(subject, int) or not _text(login):
        raise SignInError(f"{label} did not say who signed in")
    return Identity(provider["url"], str(subject), login[:255], access)


class Bounded(OAuth2Session):
    """Every request to a provider: no redirect followed, no proxy or .netrc of the environment, and
    an answer larger than MAX_ANSWER or slower than DEADLINE in all cut off (a read timeout alone
    lets a provider that sends a byte at a time take for ever)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trust_env = False

    def request(self, method, url, *args, **kwargs):
        kwargs.update(allow_redirects=False, stream=True, timeout=(5, TIMEOUT))
        deadline = time.monotonic() + DEADLINE
        response = super().request(method, url, *args, **kwargs)
        body = bytearray()
        with response:
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_ANSWER or time.monotonic() > deadline:
                    raise SignInError(f"{url.split('?')[0][:200]} answered more than it may, or too slowly")
        response._content = bytes(body)
        return response


def _session(provider, redirect_uri=None, auth_methods=None):
    # A forge takes the client's secret in the form; an OpenID provider as it says it does, by
    # default (and by the standard's default) in the Authorization header.
    method = "client_secret_post"
    if provider["kind"] == "oidc" and "client_secret_basic" in (auth_methods or ["client_secret_basic"]):
        method = "client_secret_basic"
    return Bounded(provider["client_id"], provider["client_secret"], scope=provider["scopes"] or None,
                   redirect_uri=redirect_uri, code_challenge_method="S256", token_endpoint_auth_method=method)


def _endpoints(app, provider):
    if provider["kind"] == "oidc":
        return _discovered(provider["url"])
    authorize, token, user = FORGE_PATHS[provider["kind"]]
    base = provider["url"]
    user_endpoint = base + user
    if provider["kind"] == "github" and base == GITHUB:
        user_endpoint = app.config["STOKER_GITHUB_API_URL"] + "/user"
    return {"authorization_endpoint": base + authorize, "token_endpoint": base + token, "user_endpoint": user_endpoint}


_discovery = {}
_discovery_lock = threading.Lock()


def _discovered(issuer, fresh=False):
    """The issuer's published endpoints and keys, read at most every DISCOVERY_SECONDS (or now, `fresh`);
    one that could not be read is not asked again for FAILURE_SECONDS."""
    with _discovery_lock:
        known = _discovery.get(issuer)
    if known and not fresh and time.monotonic() - known[0] < (
            DISCOVERY_SECONDS if isinstance(known[1], dict) else FAILURE_SECONDS):
        if isinstance(known[1], SignInError):
            raise known[1]
        return known[1]
    try:
        document = _read_discovery(issuer)
    except SignInError as exc:
        with _discovery_lock:
            _discovery[issuer] = (time.monotonic(), exc)
        raise
    with _discovery_lock:
        _discovery[issuer] = (time.monotonic(), document)
    return document


def _read_discovery(issuer):
    session = Bounded()
    try:
        answer = session.get(issuer.rstrip("/") + "/.well-known/openid-configuration", withhold_token=True)
        answer.raise_for_status()
        document = answer.json()
        if not isinstance(document, dict) or document.get("issuer") != issuer:
            # OpenID Connect Discovery §4.3: the document must be the issuer's own.
            raise SignInError(f"the OpenID configuration at {issuer} is not that issuer's")
        if not all(_text(document.get(key)) for key in ("authorization_endpoint", "token_endpoint", "jwks_uri")):
            raise SignInError(f"the OpenID configuration at {issuer} lacks an endpoint")
        keys = session.get(document["jwks_uri"], withhold_token=True)
        keys.raise_for_status()
        return {**document, "keys": KeySet.import_key_set(keys.json())}
    except (requests.RequestException, ValueError, TypeError, KeyError, JoseError) as exc:
        raise SignInError(f"the OpenID provider at {issuer} cannot be read: {_reason(exc)}") from None


def _id_token_claims(provider, endpoints, id_token, nonce):
    """The ID token's claims once its signature, issuer, audience, expiry and nonce all hold."""
    label = provider["label"]
    # A signed token has three parts; anything else (an encrypted one, none at all) is not taken.
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        raise SignInError(f"{label} gave no signed ID token")
    # Only the public-key algorithms the issuer says it signs with: never "none", and never an
    # HMAC keyed with what is public.
    offered = endpoints.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [alg for alg in offered if isinstance(alg, str) and alg[:2] in ("RS", "PS", "ES", "Ed")]
    if not algorithms:
        # joserfc would take an empty list for any of its own, an HMAC among them.
        raise SignInError(f"{label} signs its ID tokens with no public-key algorithm")
    try:
        try:
            token = jwt.decode(id_token, endpoints["keys"], algorithms=algorithms)
        except JoseError:
            # The issuer may have rotated its keys since they were read.
            token = jwt.decode(id_token, _discovered(provider["url"], fresh=True)["keys"], algorithms=algorithms)
        claims = token.claims
        jwt.JWTClaimsRegistry(
            leeway=LEEWAY,
            iss={"essential": True, "value": provider["url"]},
            aud={"essential": True, "value": provider["client_id"]},
            exp={"essential": True}, iat={"essential": True}, sub={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(claims)
    except (JoseError, ValueError) as exc:
        raise SignInError(f"{label}'s ID token does not hold: {_reason(exc)}") from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != provider["client_id"]:
        raise SignInError(f"{label}'s ID token is for another client")
    if not _text(claims["sub"]) or not isinstance(claims["nonce"], str):
        raise SignInError(f"{label}'s ID token names no one, or not in the words it must")
    return claims


def _text(value):
    return isinstance(value, str) and 0 < len(value) <= 255 and value.isprintable()


def _reason(exc):
    return (getattr(exc, "description", None) or getattr(exc, "error", None) or str(exc) or type(exc).__name__)[:200]
