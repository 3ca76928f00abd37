"""Signing keys for app builds: one per bundle id, made on its first build and kept sealed."""
import base64

from pipeline.mobile.android.signing import new_signing_key

from .. import runtime
from .models import AppBundle
from .vault import seal, unseal


def signing_key(bundle_row_id, server_secret):
    """The bundle's signing key and certificate (DER), made on its first build and kept sealed.

    Two workers making the first key at once both write only where none is
    yet, and both then read back the one that won.
    """
    bundle = AppBundle.get_by_id(bundle_row_id)
    if bundle.key_sealed is None:
        # An RSA-3072 key takes up to a few tenths of a second: on a thread of its own, not the hub.
        key, certificate = runtime.off_the_hub(new_signing_key, bundle.bundle_id)
        AppBundle.update(key_sealed=seal(server_secret, base64.b64encode(key).decode()), certificate=certificate
                         ).where((AppBundle.id == bundle.id) & AppBundle.key_sealed.is_null()).execute()
        bundle = AppBundle.get_by_id(bundle_row_id)
    key = base64.b64decode(unseal(server_secret, bundle.key_sealed, what=f"the signing key of {bundle.bundle_id}"))
    return key, bytes(bundle.certificate)
