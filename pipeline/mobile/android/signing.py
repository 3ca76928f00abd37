"""Signing keys for Android apps: one per bundle id, made here, kept sealed by the caller."""
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
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
