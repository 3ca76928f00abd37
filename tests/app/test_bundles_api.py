"""API v1 signing keys: an Android bundle's key is its owner's to see, take away and bring in.
(That an imported key really signs the next build is in test_app_builds.)"""
import base64
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from app.records.models import AppBundle, AuditEntry
from pipeline.mobile.android.signing import keystore, new_signing_key

BUILD = {"url": "https://example.com/app", "name": "Demo", "bundleId": "com.example.demo", "version": "1.0.0",
         "platform": "android"}


def signing(client, headers, bundle_id="com.example.demo", method="get", suffix="", **body):
    call = getattr(client, method)
    return call(f"/api/v1/bundles/{bundle_id}/signing{suffix}", headers=headers, **({"json": body} if body else {}))


@pytest.fixture
def bundle(client, accounts):
    assert client.post("/api/v1/builds", headers=accounts.headers(), json=BUILD).status_code == 201
    return AppBundle.get(AppBundle.bundle_id == "com.example.demo")


def test_the_owner_sees_the_certificate_and_the_asset_links_to_publish(client, accounts, bundle):
    shown = signing(client, accounts.headers())
    assert shown.status_code == 200, shown.get_json()
    body = shown.get_json()
    certificate = x509.load_pem_x509_certificate(body["certificate"].encode())
    digest = certificate.fingerprint(hashes.SHA256())
    assert body["sha256"] == ":".join(f"{b:02X}" for b in digest)
    assert certificate.public_key().key_size == 3072 and "CN=com.example.demo" in body["subject"]
    assert body["assetLinks"] == [{
        "relation": ["delegate_permission/common.handle_all_urls"],
        "target": {"namespace": "android_app", "package_name": "com.example.demo",
                   "sha256_cert_fingerprints": [body["sha256"]]}}]
    # The same key on every look, and the one the first build would have made.
    assert signing(client, accounts.headers()).get_json() == body
    assert bytes(AppBundle.get_by_id(bundle.id).certificate) == certificate.public_bytes(serialization.Encoding.DER)


def test_another_account_and_an_unknown_bundle_get_404s(client, accounts, bundle):
    assert signing(client, accounts.headers("mallory")).status_code == 404
    assert signing(client, accounts.headers("mallory"), method="post", suffix="/export",
                   password="correct horse").status_code == 404
    assert signing(client, accounts.headers(), bundle_id="com.example.none").status_code == 404
    assert signing(client, accounts.headers(), bundle_id="not-a-package").status_code == 400


def test_an_export_opens_with_its_password_and_is_audited(client, accounts, bundle):
    shown = signing(client, accounts.headers()).get_json()
    response = signing(client, accounts.headers(), method="post", suffix="/export", password="correct horse")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-pkcs12"
    assert response.headers["Cache-Control"] == "no-store"
    key, certificate, _ = pkcs12.load_key_and_certificates(response.data, b"correct horse")
    assert certificate.public_bytes(serialization.Encoding.PEM).decode() == shown["certificate"]
    assert key.public_key().public_numbers() == certificate.public_key().public_numbers()
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(response.data, b"wrong password")
    assert [(e.username, e.action, e.target) for e in AuditEntry.select().where(AuditEntry.action != "token.create")] == [
        ("alice", "signing.export", "com.example.demo")]


def test_only_a_fresh_login_token_moves_the_key(app, client, accounts, bundle):
    made = client.post("/api/auth/tokens", json={"name": "ci", "scope": "write"}, headers=accounts.headers())
    token = {"Authorization": f"Bearer {made.get_json()['token']['value']}"}
    refused = signing(client, token, method="post", suffix="/export", password="correct horse")
    assert refused.status_code == 403 and "login token" in refused.get_json()["message"]
    assert signing(client, token).status_code == 200
    from flask_jwt_extended import create_access_token
    with app.app_context():
        stale = {"Authorization": f"Bearer {create_access_token(identity=str(bundle.owner_id), fresh=False)}"}
    assert signing(client, stale, method="post", suffix="/export", password="correct horse").status_code == 401
    assert signing(client, stale, method="put", password="correct horse", keystore="").status_code == 401
    assert not AuditEntry.select().where(AuditEntry.action.startswith("signing")).exists()


def _keystore_of(key, certificate, password=b"imported pw"):
    return base64.b64encode(pkcs12.serialize_key_and_certificates(
        b"upload", key, certificate, None, serialization.BestAvailableEncryption(password))).decode()


def test_an_imported_keystore_becomes_the_bundle_s_key(client, accounts, bundle):
    key_der, certificate_der = new_signing_key("com.example.played")
    encoded = base64.b64encode(keystore(key_der, certificate_der, b"imported pw")).decode()
    response = signing(client, accounts.headers(), method="put", password="imported pw", keystore=encoded)
    assert response.status_code == 200, response.get_json()
    certificate = x509.load_der_x509_certificate(certificate_der)
    assert response.get_json()["certificate"] == certificate.public_bytes(serialization.Encoding.PEM).decode()
    assert signing(client, accounts.headers()).get_json() == response.get_json()
    exported = signing(client, accounts.headers(), method="post", suffix="/export", password="taken away")
    key, again, _ = pkcs12.load_key_and_certificates(exported.data, b"taken away")
    assert again == certificate
    assert key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()) == key_der
    # An app already on Play, never built here: importing its key claims the bundle id.
    response = signing(client, accounts.headers(), bundle_id="com.example.played", method="put",
                       password="imported pw", keystore=encoded)
    assert response.status_code == 200
    taken = signing(client, accounts.headers("mallory"), bundle_id="com.example.played", method="put",
                    password="imported pw", keystore=encoded)
    assert taken.status_code == 409
    # An imported key holds the bundle id though no build of it was ever made.
    assert client.post("/api/v1/builds", headers=accounts.headers("mallory"),
                       json={**BUILD, "bundleId": "com.example.played"}).status_code == 409


def test_a_keystore_that_cannot_sign_is_a_400_and_nothing_changes(client, accounts, bundle):
    before = signing(client, accounts.headers()).get_json()
    good_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "x")])

    def certificate_for(key):
        import datetime
        now = datetime.datetime.now(datetime.timezone.utc)
        return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                .sign(key, hashes.SHA256()))

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    cases = [
        ({"password": "imported pw", "keystore": "not base64!"}, "base64"),
        ({"password": "imported pw", "keystore": base64.b64encode(b"not pkcs12").decode()}, "could not be opened"),
        ({"password": "wrong password", "keystore": _keystore_of(good_key, certificate_for(good_key))},
         "password is wrong"),
        ({"password": "imported pw", "keystore": base64.b64encode(pkcs12.serialize_key_and_certificates(
            b"x", good_key, None, [certificate_for(other_key)],
            serialization.BestAvailableEncryption(b"imported pw"))).decode()}, "a private key and its certificate"),
        ({"password": "imported pw", "keystore": _keystore_of(weak, certificate_for(weak))}, "at least 2048"),
        ({"password": "short", "keystore": _keystore_of(good_key, certificate_for(good_key))}, "password must be"),
        ({"password": "imported pw", "keystore": "A" * 100_000}, "at most 64 KB"),
    ]
    for body, words in cases:
        response = signing(client, accounts.headers(), method="put", **body)
        assert response.status_code == 400, words
        message = response.get_json()["message"]
        assert message.split(" ")[0] in ("keystore", "keystore:", "password") and words in message, message
    ec_key = ec.generate_private_key(ec.SECP256R1())
    refused = signing(client, accounts.headers(), method="put", password="imported pw",
                      keystore=_keystore_of(ec_key, certificate_for(ec_key)))
    assert refused.status_code == 400 and "must be RSA" in refused.get_json()["message"]
    assert signing(client, accounts.headers()).get_json() == before


def _der(tag, content):
    length = len(content)
    encoded = bytes([length]) if length < 128 else bytes([0x80 | ((length.bit_length() + 7) // 8)]) + \
        length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag]) + encoded + content


def _children(data):
    """The DER elements inside a SEQUENCE's content."""
    found, at = [], 0
    while at < len(data):
        length, start = data[at + 1], at + 2
        if length & 0x80:
            count = length & 0x7F
            length, start = int.from_bytes(data[start:start + count], "big"), start + count
        found.append(data[at:start + length])
        at = start + length
    return found


def _content(element):
    length, start = element[1], 2
    if length & 0x80:
        start += length & 0x7F
    return element[start:]


def test_a_keystore_asking_for_billions_of_rounds_is_refused_in_seconds(client, accounts, bundle):
    """A PKCS#12 names its own MAC iteration count: opening one is bounded, in a process of its own."""
    key_der, certificate_der = new_signing_key("com.example.demo")
    pfx = keystore(key_der, certificate_der, b"imported pw")
    version, auth_safe, mac_data = _children(_content(pfx))
    digest, salt, _ = _children(_content(mac_data))
    rounds = 2**31 - 1
    hostile = _der(0x30, version + auth_safe + _der(0x30, digest + salt + _der(0x02, rounds.to_bytes(4, "big"))))
    started = time.monotonic()
    refused = signing(client, accounts.headers(), method="put", password="imported pw",
                      keystore=base64.b64encode(hostile).decode())
    assert refused.status_code == 400 and "too many key-derivation rounds" in refused.get_json()["message"]
    assert time.monotonic() - started < 20
