"""Signing in through a forge or an OpenID Connect provider, against a real authorization server on
loopback (Authlib's, tests/support/oauth_provider.py) that answers as each kind of provider does."""
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from app.config import sign_in_providers
from app.records.models import ForgeAccount, SignInAttempt, SignInIdentity, User
from tests.support.oauth_provider import OAuthProvider

KINDS = {"keycloak": "oidc", "gitea": "gitea", "forgejo": "forgejo", "gitlab": "gitlab", "ghe": "github"}


@pytest.fixture(scope="module")
def provider():
    with OAuthProvider(redirect_uris=[f"http://stoker.test/api/auth/oauth/{name}/callback" for name in KINDS]) as server:
        yield server


@pytest.fixture
def signin_app(config, provider):
    """Stoker with each kind of provider at the test server, sign-up by invitation (but `forgejo`'s, open)."""
    from app import create_app
    from app.records.models import db

    env = {"STOKER_OAUTH_FORGEJO_SIGNUP": "open"}
    for name, kind in KINDS.items():
        prefix = f"STOKER_OAUTH_{name.upper()}_"
        env |= {prefix + "KIND": kind, prefix + ("ISSUER" if kind == "oidc" else "URL"): provider.url,
                prefix + "CLIENT_ID": provider.client_id, prefix + "CLIENT_SECRET": provider.client_secret}
    provider.tamper = None
    provider.sign_in(4242, "carol", "carol@example.com", "Carol")
    app = create_app({**config, "STOKER_REGISTRATION": "invitation", "STOKER_OAUTH": sign_in_providers(env)})
    yield app
    if not db.is_closed():
        db.close()


@pytest.fixture
def browser(signin_app):
    """A browser: it keeps Stoker's cookies between requests, as one would."""
    return signin_app.test_client()


@pytest.fixture
def alice(signin_app):
    """The first account, an admin, made with a password; her headers."""
    client = signin_app.test_client()
    client.post("/api/auth/register", json={"username": "alice", "password": "password123"})
    token = client.post("/api/auth/login", json={"username": "alice", "password": "password123"}).get_json()
    return {"Authorization": f"Bearer {token['accessToken']}"}


def go_to_provider(browser, name, action="start", body=None, headers=None):
    """Begin a sign-in as the dashboard does; the address the provider sends the browser back to."""
    started = browser.post(f"/api/auth/oauth/{name}/{action}", json=body or {}, headers=headers)
    assert started.status_code == 200, started.get_json()
    at_provider = requests.get(started.get_json()["authorizeUrl"], allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    assert f"{back.scheme}://{back.netloc}" == "http://stoker.test"
    return f"{back.path}?{back.query}"


def landed(response):
    """Where the callback sent the browser: (path, what its fragment says)."""
    assert response.status_code == 302
    where = urlsplit(response.headers["Location"])
    return where.path, {key: values[0] for key, values in parse_qs(where.fragment).items()}


def sign_in(browser, name, **kwargs):
    return landed(browser.get(go_to_provider(browser, name, **kwargs)))


def token_of(browser, said):
    """The login token a landing's code is exchanged for, by the browser that landed."""
    answer = browser.post("/api/auth/oauth/exchange", json={"code": said["signInCode"]})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["accessToken"]


def who(browser, said):
    """The account a landing signs in as."""
    answer = browser.get("/api/auth/me", headers={"Authorization": f"Bearer {token_of(browser, said)}"})
    assert answer.status_code == 200
    return answer.get_json()["user"]


def invitation(browser, headers):
    return browser.post("/api/admin/invitations", json={}, headers=headers).get_json()["invitation"]["code"]


@pytest.mark.parametrize("name", ["keycloak", "gitea", "gitlab", "ghe"])
def test_an_invited_user_signs_up_once_and_signs_in_again_an_uninvited_one_gets_nothing(
        name, signin_app, browser, alice, provider):
    # Uninvited: told so, and nothing is made.
    path, said = sign_in(browser, name)
    assert path == "/" and "invitation" in said["signInError"] and "signInCode" not in said
    assert User.select().count() == 1 and SignInIdentity.select().count() == 0

    code = invitation(browser, alice)
    path, said = sign_in(browser, name, body={"invitation": code})
    carol = who(browser, said)
    assert path == "/" and carol["username"] == "carol" and carol["admin"] is False
    # The invitation is used up: it makes no second account.
    assert browser.post("/api/auth/register", json={"username": "dave", "password": "password123",
                                                     "invitation": code}).status_code == 403
    # The token sent to the provider's token endpoint carried the PKCE verifier.
    assert all(request.get("code_verifier") for request in provider.token_requests)

    # Again, without an invitation: the same account.
    _, said = sign_in(browser, name)
    assert who(browser, said)["id"] == carol["id"] and User.select().count() == 2

    # The password door stays shut for an account made this way.
    assert browser.post("/api/auth/login", json={"username": "carol", "password": "!sign-in"}).status_code == 401
    # A forge's sign-in connects the user's account there, for the repository list.
    connected = [(row.forge, row.login) for row in ForgeAccount.select()]
    assert connected == ([] if KINDS[name] in ("oidc", "github") else [(KINDS[name], "carol")])


def test_a_provider_open_to_sign_up_makes_accounts_without_an_invitation(browser, alice):
    _, said = sign_in(browser, "forgejo")
    assert who(browser, said)["username"] == "carol"


def test_a_same_named_account_elsewhere_never_signs_in_as_a_local_one(browser, alice, provider):
    """The provider's "alice", with any e-mail address, is not Stoker's alice: she gets an account of her own."""
    provider.sign_in(7, "alice", "alice@example.com")
    _, said = sign_in(browser, "forgejo")
    assert who(browser, said)["username"] == "alice-2"


def test_a_replayed_forged_or_other_browsers_callback_signs_no_one_in(signin_app, browser, alice):
    callback = go_to_provider(browser, "forgejo")
    _, said = landed(browser.get(callback))
    assert who(browser, said)["username"] == "carol"

    # The same callback again (its state is used up), and one with a state no one started.
    _, said = landed(browser.get(callback))
    assert "signInCode" not in said and "start again" in said["signInError"]
    forged = callback.replace("state=", "state=x")
    assert "signInCode" not in landed(browser.get(forged))[1]

    # A callback from another browser than the one that started it, itself midway through a
    # sign-in of its own: a login CSRF's shape.
    victim = signin_app.test_client()
    victim.post("/api/auth/oauth/forgejo/start", json={})
    callback = go_to_provider(browser, "forgejo")
    _, said = landed(victim.get(callback))
    assert "signInCode" not in said and User.select().count() == 2
    # ... which leaves it to the browser that started it.
    _, said = landed(browser.get(callback))
    assert who(browser, said)["username"] == "carol" and SignInAttempt.select().count() == 1


@pytest.mark.parametrize("tamper", ["nonce", "audience", "issuer", "expired", "signature"])
def test_an_id_token_that_does_not_hold_signs_no_one_in(tamper, browser, alice, provider):
    provider.tamper = tamper
    code = invitation(browser, alice)
    _, said = sign_in(browser, "keycloak", body={"invitation": code})
    assert "signInCode" not in said and "ID token" in said["signInError"]
    assert User.select().count() == 1 and SignInIdentity.select().count() == 0


def test_a_provider_that_refuses_signs_no_one_in(browser, alice, provider):
    provider.sign_out()
    started = browser.post("/api/auth/oauth/forgejo/start", json={}).get_json()
    at_provider = requests.get(started["authorizeUrl"], allow_redirects=False, timeout=10)
    _, said = landed(browser.get(urlsplit(at_provider.headers["Location"])._replace(scheme="", netloc="").geturl()))
    assert "did not sign you in" in said["signInError"] and User.select().count() == 1


def test_a_provider_is_linked_only_from_the_accounts_own_session(signin_app, browser, alice, provider):
    # Linking needs a login token: no token, or an API token, starts nothing.
    assert browser.post("/api/auth/oauth/gitea/link", json={}).status_code == 401
    api_token = browser.post("/api/auth/tokens", json={"name": "script", "scope": "write"},
                             headers=alice).get_json()["token"]["value"]
    assert browser.post("/api/auth/oauth/gitea/link", json={},
                        headers={"Authorization": f"Bearer {api_token}"}).status_code == 403

    path, said = sign_in(browser, "gitea", action="link", headers=alice)
    assert path == "/tokens" and said == {"linked": "Gitea"}
    # Now carol at the provider signs in as alice, with no invitation.
    elsewhere = signin_app.test_client()
    _, said = sign_in(elsewhere, "gitea")
    assert who(elsewhere, said)["username"] == "alice"
    linked = browser.get("/api/auth/identities", headers=alice).get_json()["identities"]
    assert [(row["provider"], row["login"]) for row in linked] == [("gitea", "carol")]

    # Bob cannot link the account that signs in as alice.
    bob_code = invitation(browser, alice)
    browser.post("/api/auth/register", json={"username": "bob", "password": "password123", "invitation": bob_code})
    bob = {"Authorization": "Bearer " + browser.post("/api/auth/login", json={
        "username": "bob", "password": "password123"}).get_json()["accessToken"]}
    _, said = sign_in(browser, "gitea", action="link", headers=bob)
    assert "another Stoker account" in said["signInError"]
    assert SignInIdentity.get().user_id == 1

    # Alice unlinks it (she has a password), and it signs in as no one.
    assert browser.delete(f"/api/auth/identities/{linked[0]['id']}", headers=bob).status_code == 404
    assert browser.delete(f"/api/auth/identities/{linked[0]['id']}", headers=alice).status_code == 200
    _, said = sign_in(signin_app.test_client(), "gitea")
    assert "signInCode" not in said


def test_the_only_way_into_an_account_without_a_password_stays(browser, alice):
    _, said = sign_in(browser, "forgejo")
    carol = {"Authorization": f"Bearer {token_of(browser, said)}"}
    (only,) = browser.get("/api/auth/identities", headers=carol).get_json()["identities"]
    assert browser.delete(f"/api/auth/identities/{only['id']}", headers=carol).status_code == 409


def test_a_disabled_account_does_not_sign_in(browser, alice):
    _, said = sign_in(browser, "forgejo")
    carol = who(browser, said)
    assert browser.patch(f"/api/admin/users/{carol['id']}", json={"disabled": True}, headers=alice).status_code == 200
    _, said = sign_in(browser, "forgejo")
    assert "signInCode" not in said and "disabled" in said["signInError"]


def test_the_providers_are_listed_and_bad_ones_are_refused(browser):
    listed = browser.get("/api/auth/providers").get_json()["providers"]
    assert {(p["name"], p["kind"], p["signUp"]) for p in listed} == {
        ("keycloak", "oidc", "invitation"), ("gitea", "gitea", "invitation"), ("forgejo", "forgejo", "open"),
        ("gitlab", "gitlab", "invitation"), ("ghe", "github", "invitation")}
    assert browser.post("/api/auth/oauth/nope/start", json={}).status_code == 404
    assert browser.post("/api/auth/oauth/gitea/start", json={"invitation": "made-up"}).status_code == 403
    assert browser.post("/api/auth/oauth/gitea/start", json={"invitation": 5}).status_code == 400
    assert browser.get("/api/auth/oauth/nope/callback?state=x&code=y").status_code == 404


@pytest.mark.parametrize("env, named", [
    ({"STOKER_OAUTH_X_KIND": "myspace"}, "STOKER_OAUTH_X_KIND"),
    ({"STOKER_OAUTH_X_KIND": "gitea", "STOKER_OAUTH_X_CLIENT_ID": "a", "STOKER_OAUTH_X_CLIENT_SECRET": "b"},
     "STOKER_OAUTH_X_URL"),
    ({"STOKER_OAUTH_X_KIND": "oidc", "STOKER_OAUTH_X_ISSUER": "https://id.example.com"}, "CLIENT_SECRET"),
    ({"STOKER_OAUTH_X_KIND": "github", "STOKER_OAUTH_X_CLIENT_ID": "a", "STOKER_OAUTH_X_CLIENT_SECRET": "b",
      "STOKER_OAUTH_X_SIGNUP": "sometimes"}, "STOKER_OAUTH_X_SIGNUP"),
])
def test_a_provider_set_up_wrong_stops_the_server_saying_which_setting(env, named):
    with pytest.raises(ValueError, match=named):
        sign_in_providers(env)


def test_a_landings_code_signs_in_the_browser_that_began_it_once(signin_app, browser, alice):
    _, said = sign_in(browser, "forgejo")
    # Another browser (the code sent in a link, read from a history) gets nothing for it.
    other = signin_app.test_client()
    refused = other.post("/api/auth/oauth/exchange", json={"code": said["signInCode"]})
    assert refused.status_code == 401 and "accessToken" not in refused.get_json()
    token_of(browser, said)
    assert browser.post("/api/auth/oauth/exchange", json={"code": said["signInCode"]}).status_code == 401


def test_linking_needs_a_recent_sign_in(signin_app, browser, alice):
    from flask_jwt_extended import create_access_token

    with signin_app.app_context():
        stale = create_access_token(identity="1", fresh=False)
    refused = browser.post("/api/auth/oauth/gitea/link", json={}, headers={"Authorization": f"Bearer {stale}"})
    assert refused.status_code == 401 and "Fresh" in refused.get_json()["message"]
    assert browser.get("/api/auth/identities", headers={"Authorization": f"Bearer {stale}"}).status_code == 200


def test_one_address_can_hold_only_so_many_sign_ins_pending(signin_app, browser, alice):
    signin_app.config["STOKER_LOGIN_FAILURES_PER_ADDRESS"] = 3
    for _ in range(3):
        assert browser.post("/api/auth/oauth/gitea/start", json={}).status_code == 200
    refused = browser.post("/api/auth/oauth/gitea/start", json={})
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    elsewhere = signin_app.test_client().post("/api/auth/oauth/gitea/start", json={},
                                              environ_base={"REMOTE_ADDR": "127.0.0.2"})
    assert elsewhere.status_code == 200
