"""Bundle ids, shared by the app builds and the signing keys: each store's rule for them, and which
account a bundle id on a platform belongs to."""
import re

from ..records.models import AppBundle, db
from .callers import current_user
from .errors import ApiError

# Each store's rule: Android's package names (segments of letters, digits and _, each from a letter);
# Apple's bundle ids (letters, digits, - and .).
BUNDLE_IDS = {
    "android": (re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+"),
                "two or more segments, each a letter then letters, digits or _"),
    "ios": (re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"),
            "two or more segments of letters, digits and - (Apple's rule: no _)"),
}
MAX_BUNDLE_ID = 150


def claim_bundle(bundle_id, platform):
    """The bundle id's record on this platform, made for the caller if new; 409 if another's.

    On PostgreSQL the row stays locked to the end of the transaction, so two
    builds of one bundle id are queued one after the other and each sees the
    version of the one before (SQLite's write transactions already take turns).
    """
    AppBundle.insert(owner=current_user.id, bundle_id=bundle_id, platform=platform).on_conflict_ignore().execute()
    query = AppBundle.select().where((AppBundle.bundle_id == bundle_id) & (AppBundle.platform == platform))
    bundle = (query.for_update() if db.for_update else query).get()
    if bundle.owner_id != current_user.id:
        raise ApiError(409, f"bundleId {bundle_id} belongs to another account on {platform}")
    return bundle
