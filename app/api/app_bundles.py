"""Bundle ids, shared by the app builds and the signing keys: each store's rule for them, and which
account a bundle id on a platform belongs to."""
import re

from ..records.models import AppBuild, AppBuildStatus, AppBundle, db, utcnow
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

    Another account's claim holds only while it stands for an app: a build of it that is queued,
    building or made, or a key brought in. A claim left with nothing but failed or canceled
    builds lapses, and passes to the caller with a new key, so that no one keeps a bundle id
    (yours, say) by asking for a build that fails.

    On PostgreSQL the row stays locked to the end of the transaction, so two
    builds of one bundle id are queued one after the other and each sees the
    version of the one before (SQLite's write transactions already take turns).
    """
    AppBundle.insert(owner=current_user.id, bundle_id=bundle_id, platform=platform).on_conflict_ignore().execute()
    query = AppBundle.select().where((AppBundle.bundle_id == bundle_id) & (AppBundle.platform == platform))
    bundle = (query.for_update() if db.for_update else query).get()
    if bundle.owner_id != current_user.id:
        if _stands_for_an_app(bundle):
            raise ApiError(409, f"bundleId {bundle_id} belongs to another account on {platform}")
        AppBundle.update(owner=current_user.id, key_sealed=None, certificate=None, created_at=utcnow()).where(
            AppBundle.id == bundle.id).execute()
        bundle = AppBundle.get_by_id(bundle.id)
    return bundle


def _stands_for_an_app(bundle):
    return bundle.imported_at is not None or AppBuild.select().where(
        (AppBuild.bundle_record == bundle) & AppBuild.status.not_in(AppBuildStatus.UNMADE)).exists()
