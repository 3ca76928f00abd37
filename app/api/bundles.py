"""API v1: an Android bundle's signing key, which is its owner's: seen, taken away, or brought in.

The key signs every build of the bundle (the App Bundle as the upload key,
the APK as the app key). An owner can publish its certificate's fingerprint
as assetlinks.json, export it as a PKCS#12 keystore, or import the keystore of
an app already on Google Play so that Stoker's builds update it.
"""
import base64
import binascii

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from flask import Blueprint, Response, current_app, jsonify
from flask_jwt_extended import verify_jwt_in_request

from pipeline.mobile.android.signing import KeystoreError, asset_links, fingerprint, keystore, open_keystore

from ..records.base import iso
from ..records.models import AppBundle, AuditEntry, db, utcnow
from ..records.signing import signing_key
from ..records.vault import seal
from .app_bundles import BUNDLE_IDS, MAX_BUNDLE_ID, claim_bundle
from .callers import by_api_token, current_user, require_login
from .errors import ApiError
from .parsing import json_body

bp = Blueprint("bundles", __name__, url_prefix="/api/v1/bundles")
bp.before_request(require_login)

PLATFORM = "android"
MIN_PASSWORD, MAX_PASSWORD = 8, 1024
MAX_KEYSTORE = 64 * 1024


def _checked_id(bundle_id):
    rule, words = BUNDLE_IDS[PLATFORM]
    if len(bundle_id) > MAX_BUNDLE_ID or not rule.fullmatch(bundle_id):
        raise ApiError(400, f"bundleId must be an Android package name: {words}")
    return bundle_id


def _own_bundle(bundle_id):
    """The caller's Android bundle of that id; 404 for another account's as for none."""
    bundle = AppBundle.get_or_none((AppBundle.bundle_id == _checked_id(bundle_id))
                                   & (AppBundle.platform == PLATFORM) & (AppBundle.owner == current_user.id))
    if bundle is None:
        raise ApiError(404, "Bundle not found: it is made by its first Android build, or by importing its key")
    return bundle


def _fresh_login():
    """The private key leaves or changes only at the hands of someone who signed in minutes ago: never
    by an API token, nor by a login token found later in a history or a log."""
    if by_api_token():
        raise ApiError(403, "The signing key is exported and imported with a login token, not an API token")
    verify_jwt_in_request(fresh=True)


def _password(data):
    password = data.get("password")
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ApiError(400, f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password.encode()


def _described(bundle):
    certificate_der = bytes(bundle.certificate)
    certificate = x509.load_der_x509_certificate(certificate_der)
    return {
        "bundleId": bundle.bundle_id,
        "platform": PLATFORM,
        "certificate": certificate.public_bytes(serialization.Encoding.PEM).decode(),
        "sha256": fingerprint(certificate_der),
        "subject": certificate.subject.rfc4514_string(),
        "notAfter": iso(certificate.not_valid_after_utc.replace(tzinfo=None)),
        "assetLinks": asset_links(bundle.bundle_id, certificate_der),
    }


@bp.get("/<bundle_id>/signing")
def get_signing(bundle_id):
    """The certificate builds are signed with, and the assetlinks.json that lets the app open its
    origin's links; a bundle without a key yet gets the one its first build would make."""
    bundle = _own_bundle(bundle_id)
    signing_key(bundle.id, current_app.config["SECRET_KEY"])
    return jsonify(_described(AppBundle.get_by_id(bundle.id)))


@bp.post("/<bundle_id>/signing/export")
def export_signing(bundle_id):
    """The key and certificate as a PKCS#12 keystore sealed with the given password (alias "stoker")."""
    _fresh_login()
    password = _password(json_body())
    bundle = _own_bundle(bundle_id)
    key, certificate = signing_key(bundle.id, current_app.config["SECRET_KEY"])
    AuditEntry.note(None, current_user, "signing.export", bundle.bundle_id)
    return Response(keystore(key, certificate, password), content_type="application/x-pkcs12", headers={
        "Content-Disposition": f'attachment; filename="{bundle.bundle_id}.p12"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })


@bp.put("/<bundle_id>/signing")
def import_signing(bundle_id):
    """Make a PKCS#12 keystore's key the one every later build of the bundle is signed with. The
    bundle is claimed for the caller if it is new: an app already on Google Play, updated from here."""
    _fresh_login()
    data = json_body()
    password = _password(data)
    encoded = data.get("keystore")
    if not isinstance(encoded, str) or len(encoded) > MAX_KEYSTORE * 4 // 3 + 4:
        raise ApiError(400, f"keystore must be a PKCS#12 file in base64, at most {MAX_KEYSTORE // 1024} KB")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "keystore must be base64") from None
    try:
        key, certificate = open_keystore(raw, password)
    except KeystoreError as exc:
        raise ApiError(400, f"keystore: {exc}") from None
    sealed = seal(current_app.config["SECRET_KEY"], base64.b64encode(key).decode())
    with db.atomic():
        bundle = claim_bundle(_checked_id(bundle_id), PLATFORM)
        AppBundle.update(key_sealed=sealed, certificate=certificate, imported_at=utcnow()).where(
            AppBundle.id == bundle.id).execute()
        AuditEntry.note(None, current_user, "signing.import", f"{bundle.bundle_id} ({fingerprint(certificate)})")
    return jsonify(_described(AppBundle.get_by_id(bundle.id)))
