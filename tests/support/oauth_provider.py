"""An OAuth 2.0 and OpenID Connect provider on 127.0.0.1, built on Authlib's authorization server,
for tests to sign users in to Stoker. One port answers as Keycloak (discovery, JWKS, ID tokens,
/userinfo), Gitea and Forgejo, GitHub and GitLab do for the authorization-code flow and "who am I"."""
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector, current_token
from authlib.oauth2.rfc6749 import AuthorizationCodeGrant, ClientMixin, InvalidRequestError, OAuth2Error, TokenMixin
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, OpenIDCode, UserInfo, UserInfoEndpoint
from flask import Flask, request
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

KID = "stoker-test-key"
TAMPERS = ("nonce", "audience", "issuer", "expired", "signature")
AUTHORIZE_PATHS = ("/authorize", "/login/oauth/authorize", "/oauth/authorize")
TOKEN_PATHS = ("/token", "/login/oauth/access_token", "/oauth/token")


@dataclass
class User:
    sub: str
    login: str
    email: str
    name: str
    auth_time: int

    def claims(self):
        """Its OpenID Connect claims; an empty email or name is left out, as Keycloak leaves it."""
        claims = {"sub": self.sub, "preferred_username": self.login, "email": self.email, "name": self.name}
        return UserInfo({key: value for key, value in claims.items() if value})


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list | None
    # Authlib's UserInfoEndpoint reads it; empty, /userinfo answers plain JSON.
    client_metadata: dict = field(default_factory=dict)

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope):
        # Whatever each forge calls its scopes, they are granted as asked.
        return scope or ""

    def check_redirect_uri(self, redirect_uri):
        if self.redirect_uris is not None:
            return redirect_uri in self.redirect_uris
        url = urlsplit(redirect_uri)
        return url.scheme == "http" and url.hostname in ("127.0.0.1", "localhost")

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    client_id: str
    redirect_uri: str | None
    scope: str
    user: User
    nonce: str | None
    code_challenge: str
    code_challenge_method: str

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.user.auth_time


@dataclass
class Token(TokenMixin):
    client: Client
    user: User
    scope: str
    expires_at: float

    def get_scope(self):
        return self.scope

    def is_expired(self):
        return time.time() >= self.expires_at

    def is_revoked(self):
        return False

    def get_user(self):
        return self.user

    def get_client(self):
        return self.client


class CodeGrant(AuthorizationCodeGrant):
    """Authlib's authorization-code grant, its codes in the provider's memory."""

    def save_authorization_code(self, code, request):
        provider, data = self.server.provider, request.payload.data
        nonce = data.get("nonce")
        with provider.lock:
            provider.codes[code] = AuthorizationCode(
                request.client.client_id, request.payload.redirect_uri, request.scope, request.user,
                nonce, data["code_challenge"], data["code_challenge_method"])
            if nonce:
                provider.nonces.add(nonce)

    def query_authorization_code(self, code, client):
        # Taken on first presentation, as Keycloak does: an exchange that fails spends the code
        # too, and two exchanges racing cannot both succeed.
        with self.server.provider.lock:
            found = self.server.provider.codes.pop(code, None)
        return found if found and found.client_id == client.client_id else None

    def delete_authorization_code(self, authorization_code):
        """Nothing is left to delete: query_authorization_code took the code."""

    def authenticate_user(self, authorization_code):
        return authorization_code.user


class S256Challenge(CodeChallenge):
    """PKCE on every authorization request, with S256 only."""

    def validate_code_challenge(self, grant, redirect_uri):
        # Authlib's `required` binds public clients only: it lets a confidential client's request
        # without a challenge through, and one without a method falls back to "plain".
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with code_challenge_method S256 is required.")
        super().validate_code_challenge(grant, redirect_uri)


class IDTokens(OpenIDCode):
    """Authlib's OpenID Connect code flow, signing with the provider's key and spoiling each
    ID token in the way `provider.tamper` says."""

    def __init__(self, provider):
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce, request):
        with self.provider.lock:
            return nonce in self.provider.nonces

    def get_client_claims(self, client):
        tamper, now = self.provider.tamper, int(time.time())
        claims = {"iss": "http://127.0.0.1:1/other" if tamper == "issuer" else self.provider.issuer,
                  "aud": "someone-else" if tamper == "audience" else client.client_id}
        if tamper == "expired":
            claims.update(iat=now - 7200, exp=now - 3600)
        return claims

    def get_authorization_code_claims(self, authorization_code):
        claims = super().get_authorization_code_claims(authorization_code)
        if self.provider.tamper == "nonce":
            claims["nonce"] = f"not-{claims['nonce']}"
        return claims

    def get_encode_header(self, client):
        return {"alg": "RS256", "kid": KID}

    def resolve_client_private_key(self, client):
        return self.provider.forged_key if self.provider.tamper == "signature" else self.provider.key

    def generate_user_info(self, user, scope):
        return user.claims()


class UserInfoAnswer(UserInfoEndpoint):
    """Authlib's /userinfo, for a token whose scope has openid."""

    def generate_user_info(self, user, scope):
        return user.claims()


class Tokens(BearerTokenValidator):
    """The provider's own access tokens, as Bearer tokens."""

    def __init__(self, provider):
        super().__init__()
        self.provider = provider

    def authenticate_token(self, token_string):
        with self.provider.lock:
            return self.provider.tokens.get(token_string)


class Server(AuthorizationServer):
    """Authlib's Flask authorization server, keeping everything in one OAuthProvider's memory."""

    def __init__(self, app, provider):
        self.provider = provider
        super().__init__(app)

    def query_client(self, client_id):
        client = self.provider.client
        return client if client_id == client.client_id else None

    def save_token(self, token, request):
        with self.provider.lock:
            self.provider.tokens[token["access_token"]] = Token(
                request.client, request.user, token.get("scope", ""), time.time() + token["expires_in"])


class OAuthProvider:
    """A provider for one client, `client_id` with `client_secret`, allowed to redirect to
    `redirect_uris` (None: to any http://127.0.0.1 or http://localhost address). There is no
    consent page: each authorization is approved for the user last given to `sign_in()`."""

    def __init__(self, client_id="stoker-ci", client_secret="provider-secret", redirect_uris=None):
        self.client_id, self.client_secret = client_id, client_secret
        self.client = Client(client_id, client_secret, None if redirect_uris is None else list(redirect_uris))
        self.url = self.issuer = None
        self.tamper = None
        self.token_requests = []
        self.lock = threading.Lock()
        self.user = None
        self.codes, self.tokens, self.nonces = {}, {}, set()
        self.key = RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"})
        # Under the same kid, so that a token it signs names the published key and fails only its check.
        self.forged_key = RSAKey.generate_key(2048, parameters={"kid": KID})
        self.app = self._create_app()
        self._http = self._thread = None

    @property
    def tamper(self):
        return self._tamper

    @tamper.setter
    def tamper(self, value):
        # A misspelt mode would otherwise pass silently as an honest token.
        if value is not None and value not in TAMPERS:
            raise ValueError(f"tamper must be None or one of {TAMPERS}, not {value!r}")
        self._tamper = value

    def sign_in(self, sub, login, email="", name=""):
        """Every later authorization is approved for this user; `sub` is a number, as forges' ids are."""
        with self.lock:
            self.user = User(str(sub), login, email, name, int(time.time()))

    def sign_out(self):
        """Every later authorization is refused with access_denied."""
        with self.lock:
            self.user = None

    def start(self):
        self._http = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = self.issuer = f"http://127.0.0.1:{self._http.server_port}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def _create_app(self):
        app = Flask(__name__)
        server = Server(app, self)
        server.register_grant(CodeGrant, [S256Challenge(required=True), IDTokens(self)])
        require_token = ResourceProtector()
        require_token.register_token_validator(Tokens(self))
        server.register_endpoint(UserInfoAnswer(resource_protector=require_token))

        def authorize():
            with self.lock:
                user = self.user
            try:
                grant = server.get_consent_grant(end_user=user)
            except OAuth2Error as error:
                return server.handle_error_response(request, error)
            return server.create_authorization_response(grant_user=user, grant=grant)

        def issue_token():
            with self.lock:
                self.token_requests.append(request.form.to_dict())
            return server.create_token_response()

        for path in AUTHORIZE_PATHS:
            app.add_url_rule(path, view_func=authorize, endpoint=path)
        for path in TOKEN_PATHS:
            app.add_url_rule(path, view_func=issue_token, endpoint=path, methods=["POST"])

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token",
                "jwks_uri": f"{self.url}/jwks",
                "userinfo_endpoint": f"{self.url}/userinfo",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code"],
                "code_challenge_methods_supported": ["S256"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "subject_types_supported": ["public"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "scopes_supported": ["openid", "profile", "email"],
            }

        @app.get("/jwks")
        def jwks():
            return {"keys": [self.key.as_dict(private=False)]}

        @app.route("/userinfo", methods=["GET", "POST"])
        def userinfo():
            return server.create_endpoint_response("userinfo")

        @app.get("/api/v1/user")
        @require_token()
        def gitea_user():
            user = current_token.user
            return {"id": int(user.sub), "login": user.login, "email": user.email, "full_name": user.name}

        @app.get("/api/v3/user")
        @require_token()
        def github_user():
            user = current_token.user
            return {"id": int(user.sub), "login": user.login, "email": user.email, "name": user.name}

        @app.get("/api/v4/user")
        @require_token()
        def gitlab_user():
            user = current_token.user
            return {"id": int(user.sub), "username": user.login, "email": user.email, "name": user.name}

        return app
