"""API v1: a web app's URL in, a native app out (a signed APK, or an Xcode project for iOS)."""
import json
import re
import unicodedata
import uuid

import semver
from flask import Blueprint, current_app, jsonify

from pipeline.mobile.android.sources import ANDROID_PERMISSIONS, version_code
from pipeline.mobile.ios.project import build_number
from pipeline.mobile.webapp import check_app_url

from ..records import links
from ..records.jobs import APP_BUILD
from ..records.lifecycle import cancel, changes
from ..records.models import AppBuild, AppBuildStatus, AppBundle, db
from .callers import current_user, require_login
from .errors import ApiError
from .parsing import json_body, page_args

bp = Blueprint("app_builds", __name__, url_prefix="/api/v1/builds")
bp.before_request(require_login)

PLATFORMS = ("android", "ios")
PERMISSIONS = tuple(ANDROID_PERMISSIONS)
# Each store's rule: Android's package names (segments of letters, digits and _, each from a letter);
# Apple's bundle ids (letters, digits, - and .).
BUNDLE_IDS = {
    "android": (re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+"),
                "two or more segments, each a letter then letters, digits or _"),
    "ios": (re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"),
            "two or more segments of letters, digits and - (Apple's rule: no _)"),
}
MAX_BUNDLE_ID = 150
MAX_NAME = 50


def _name(data):
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise ApiError(400, f"name must be 1 to {MAX_NAME} characters, not all spaces")
    # Control characters cannot be shown on a home screen, nor stored in XML; lone
    # surrogates are not text.
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        raise ApiError(400, "name must not contain control characters")
    return name


def _bundle_id(data, platform):
    bundle_id = data.get("bundleId")
    rule, words = BUNDLE_IDS[platform]
    if not isinstance(bundle_id, str) or len(bundle_id) > MAX_BUNDLE_ID or not rule.fullmatch(bundle_id):
        raise ApiError(400, f"bundleId must be reverse-DNS like com.example.myapp: {words}")
    return bundle_id


def _version(data, platform):
    version = data.get("version")
    if not isinstance(version, str) or not semver.Version.is_valid(version):
        raise ApiError(400, "version must be a semantic version such as 1.0.0")
    try:
        version_code(version)
    except ValueError as exc:
        raise ApiError(400, f"version is out of range: {exc}") from None
    if platform == "ios":
        try:
            build_number(version)
        except ValueError as exc:
            raise ApiError(400, f"version: {exc}") from None
    return version


def _permissions(data):
    permissions = data.get("permissions", [])
    if permissions is None:
        permissions = []
    if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
        raise ApiError(400, f"permissions must be a list of: {', '.join(PERMISSIONS)}")
    unknown = [p for p in permissions if p not in PERMISSIONS]
    if unknown:
        raise ApiError(400, f"permissions: unknown {', '.join(map(repr, unknown))}; "
                            f"accepted: {', '.join(PERMISSIONS)}")
    return sorted(set(permissions), key=PERMISSIONS.index)


def _platform(data):
    platform = data.get("platform")
    if platform not in PLATFORMS:
        raise ApiError(400, f"platform must be one of: {', '.join(PLATFORMS)}")
    return platform


def _url(data):
    try:
        return check_app_url(data.get("url"), current_app.config["STOKER_ALLOW_PRIVATE_APP_URLS"])
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def _json(build):
    return build.to_json(links.url_for_build(current_app, build))


@bp.post("")
def create():
    data = json_body()
    platform = _platform(data)
    fields = {"url": _url(data), "name": _name(data), "bundle_id": _bundle_id(data, platform),
              "version": _version(data, platform), "permissions": _permissions(data), "platform": platform}
    with changes() as batch:
        bundle = _claim_bundle(fields["bundle_id"], fields["platform"])
        _check_version_is_higher(bundle, fields["version"])
        build = batch.queue(APP_BUILD, uid=str(uuid.uuid4()), owner=current_user.id, bundle_record=bundle,
                                **{**fields, "permissions": json.dumps(fields["permissions"])})
    return jsonify(_json(build)), 201


def _claim_bundle(bundle_id, platform):
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


def _check_version_is_higher(bundle, version):
    """409 unless `version` is above every version of the bundle that did not fail.

    A failed or canceled build made no app, so its version may be built again.
    """
    versions = [v for (v,) in AppBuild.select(AppBuild.version)
                .where((AppBuild.bundle_record == bundle) & AppBuild.status.not_in(AppBuildStatus.UNMADE)).tuples()]
    if not versions:
        return
    highest = max(versions, key=semver.Version.parse)
    if semver.Version.parse(version) <= semver.Version.parse(highest):
        raise ApiError(409, f"version must be higher than {highest}, the version of the previous build "
                            f"of {bundle.bundle_id} for {bundle.platform}")


@bp.get("")
def list_builds():
    limit, offset = page_args()
    mine = AppBuild.select().where(AppBuild.owner == current_user.id)
    page = mine.order_by(AppBuild.created_at.desc(), AppBuild.id.desc()).limit(limit).offset(offset)
    return jsonify(data=[_json(build) for build in page], total=mine.count(), limit=limit, offset=offset)


def _own_build(build_id):
    """The caller's app build of that id; 404 for another account's as for none."""
    build = AppBuild.get_or_none((AppBuild.uid == build_id) & (AppBuild.owner == current_user.id))
    if build is None:
        raise ApiError(404, "Build not found")
    return build


@bp.get("/<build_id>")
def get_build(build_id):
    return jsonify(_json(_own_build(build_id)))


@bp.post("/<build_id>/cancel")
def cancel_build(build_id):
    """Cancel a queued or building app build: a queued one never starts, a building one's worker
    stops it within a second and keeps nothing it made."""
    build = cancel(APP_BUILD, _own_build(build_id).id, reason=f"canceled by {current_user.username}")
    if build is None:
        raise ApiError(409, "Build has already finished")
    return jsonify(_json(build))
