"""Signing keys for Android apps: one per bundle id, made here or brought in as a keystore, kept sealed by the caller."""
import base64
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

# Android wants an upgrade signed by the same certificate for as long as the app
# lives; Google Play asks for validity past 2033. Thirty years covers both.
VALIDITY = timedelta(days=365 * 30)


def new_signing_key(bundle_id):
    """Return (PKCS#8 private key, X.509 certificate), both DER, for signing `bundle_id`'s APKs."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, bundle_id[:64]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Stoker app builds")])
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + VALIDITY)
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return private, certificate.public_bytes(serialization.Encoding.DER)


ALIAS = b"stoker"


class KeystoreError(ValueError):
    """A keystore that cannot be opened or holds no usable signing key; the message says why."""


def keystore(private_key_der, certificate_der, password, kdf_rounds=None):
    """The key and certificate as a PKCS#12 keystore (alias "stoker") sealed with `password` (bytes):
    what an owner takes away to sign elsewhere, and what jarsigner signs the App Bundle with. The
    latter's password is random and the file lives as long as the build: it takes `kdf_rounds`, as
    few as make the format, where a person's password gets the tenth of a second of rounds that
    cryptography spends, holding Python's lock all the while."""
    # Made here or checked when brought in (open_keystore): checking an RSA key again is another
    # tenth of a second holding Python's lock.
    key = serialization.load_der_private_key(private_key_der, None, unsafe_skip_rsa_key_validation=True)
    certificate = x509.load_der_x509_certificate(certificate_der)
    sealing = serialization.BestAvailableEncryption(password)
    if kdf_rounds is not None:
        sealing = (serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(kdf_rounds)
                   .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA256())
                   .build(password))
    return pkcs12.serialize_key_and_certificates(ALIAS, key, certificate, None, sealing)


# Opened in a child process with this much CPU: a PKCS#12 names its own key-derivation iteration
# counts, and two billion of them would otherwise hold the server for minutes.
KEYSTORE_CPU_SECONDS = 5
OPEN_KEYSTORE = f"""
import resource
resource.setrlimit(resource.RLIMIT_CPU, ({KEYSTORE_CPU_SECONDS}, {KEYSTORE_CPU_SECONDS}))
""" + """
import base64, json, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
asked = json.load(sys.stdin)
try:
    key, certificate, _ = pkcs12.load_key_and_certificates(base64.b64decode(asked["data"]), asked["password"].encode())
except ValueError:
    sys.exit(3)
print(json.dumps({} if key is None or certificate is None else {
    "key": base64.b64encode(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())).decode(),
    "certificate": base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()}))
"""


def open_keystore(data, password):
    """(PKCS#8 private key, certificate), both DER, from a PKCS#12 keystore; KeystoreError unless it
    opens with `password` within KEYSTORE_CPU_SECONDS and holds one RSA key of 2048 bits or more
    with the certificate that goes with it (jarsigner signs the bundle with SHA256withRSA)."""
    asked = json.dumps({"data": base64.b64encode(data).decode(), "password": password.decode()})
    try:
        done = subprocess.run([sys.executable, "-c", OPEN_KEYSTORE], input=asked, capture_output=True, text=True,
                              timeout=KEYSTORE_CPU_SECONDS * 3, env={"PATH": os.defpath})
    except subprocess.TimeoutExpired:
        done = None
    if done is None or done.returncode < 0:
        raise KeystoreError("the keystore takes too long to open: it asks for too many key-derivation rounds")
    if done.returncode == 3:
        raise KeystoreError("the keystore could not be opened: it is not PKCS#12, or the password is wrong")
    if done.returncode != 0:
        raise KeystoreError("the keystore could not be opened")
    opened = json.loads(done.stdout)
    if not opened:
        raise KeystoreError("the keystore must hold a private key and its certificate")
    key = serialization.load_der_private_key(base64.b64decode(opened["key"]), None)
    certificate = x509.load_der_x509_certificate(base64.b64decode(opened["certificate"]))
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeystoreError("the signing key must be RSA, which the App Bundle's signature (SHA256withRSA) takes")
    if key.key_size < 2048:
        raise KeystoreError("an RSA signing key must be at least 2048 bits")
    if certificate.public_key().public_numbers() != key.public_key().public_numbers():
        raise KeystoreError("the certificate is not the private key's own")
    return base64.b64decode(opened["key"]), certificate.public_bytes(serialization.Encoding.DER)


def fingerprint(certificate_der):
    """The certificate's SHA-256 as Android and assetlinks.json write it: AB:CD:..."""
    digest = x509.load_der_x509_certificate(certificate_der).fingerprint(hashes.SHA256())
    return ":".join(f"{byte:02X}" for byte in digest)


def asset_links(bundle_id, certificate_der):
    """The Digital Asset Links statement to publish at https://<origin>/.well-known/assetlinks.json."""
    return [{
        "relation": ["delegate_permission/common.handle_all_urls"],
        "target": {"namespace": "android_app", "package_name": bundle_id,
                   "sha256_cert_fingerprints": [fingerprint(certificate_der)]},
    }]
