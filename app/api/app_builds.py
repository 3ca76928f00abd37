"""API v1: a web app's URL in, a native app out (a signed APK, or an Xcode project for iOS)."""
import json
import re
import unicodedata
import uuid

import semver
from flask import Blueprint, current_app, jsonify

from pipeline.mobile.android import sources as android
from pipeline.mobile.android.sources import version_code
from pipeline.mobile.ios import project as ios
from pipeline.mobile.ios.project import build_number
from pipeline.mobile.webapp import check_app_url

from ..records import links
from ..records.jobs import APP_BUILD
from ..records.lifecycle import cancel, changes
from ..records.models import AppBuild, AppBuildStatus
from .app_bundles import BUNDLE_IDS, MAX_BUNDLE_ID, claim_bundle
from .callers import current_user, require_login
from .errors import ApiError
from .parsing import json_body, page_args

bp = Blueprint("app_builds", __name__, url_prefix="/api/v1/builds")
bp.before_request(require_login)

PLATFORMS = ("android", "ios")
# The permission words each platform's WebView can use, and those it refuses with the reason.
PERMISSIONS = {"android": tuple(android.ANDROID_PERMISSIONS), "ios": tuple(ios.USAGE_KEYS)}
WITHOUT_USE = {"android": android.WITHOUT_USE, "ios": ios.WITHOUT_USE}
FORMATS = ("aab", "apk")
MAX_LINK_DOMAINS = 20
LINK_DOMAIN = re.compile(r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
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


def _permissions(data, platform):
    accepted = PERMISSIONS[platform]
    permissions = data.get("permissions", [])
    if permissions is None:
        permissions = []
    if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
        raise ApiError(400, f"permissions must be a list of: {', '.join(accepted)}")
    for permission in permissions:
        if permission in WITHOUT_USE[platform]:
            raise ApiError(400, f"permissions: {permission!r} is not taken on {platform}: "
                                f"{WITHOUT_USE[platform][permission]}")
    unknown = [p for p in permissions if p not in accepted]
    if unknown:
        raise ApiError(400, f"permissions: unknown {', '.join(map(repr, unknown))}; "
                            f"accepted on {platform}: {', '.join(accepted)}")
    return sorted(set(permissions), key=accepted.index)


def _format(data, platform):
    chosen = data.get("format")
    if platform == "ios":
        if chosen not in (None, "xcode-project"):
            raise ApiError(400, "format: an iOS build is an Xcode project; leave format out")
        return None
    if chosen is None:
        return "aab"
    if chosen not in FORMATS:
        raise ApiError(400, "format must be aab (an App Bundle, for Google Play) or apk")
    return chosen


def _link_domains(data, platform):
    domains = data.get("linkDomains")
    if domains is None or domains == []:
        return []
    if platform == "ios":
        raise ApiError(400, "linkDomains: iOS universal links need your Apple team's associated-domains "
                            "entitlement; add them in Xcode")
    if (not isinstance(domains, list) or len(domains) > MAX_LINK_DOMAINS
            or not all(isinstance(d, str) and len(d) <= 253 and LINK_DOMAIN.fullmatch(d) for d in domains)):
        raise ApiError(400, f"linkDomains must be a list of up to {MAX_LINK_DOMAINS} lower-case host names "
                            "such as app.example.com (or *.example.com), without scheme or port")
    return sorted(set(domains))


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
    return links.shown(current_app, build)


@bp.post("")
def create():
    data = json_body()
    platform = _platform(data)
    fields = {"url": _url(data), "name": _name(data), "bundle_id": _bundle_id(data, platform),
              "version": _version(data, platform), "permissions": _permissions(data, platform),
              "platform": platform, "format": _format(data, platform),
              "link_domains": _link_domains(data, platform)}
    with changes() as batch:
        bundle = claim_bundle(fields["bundle_id"], fields["platform"])
        _check_version_is_higher(bundle, fields["version"])
        build = batch.queue(APP_BUILD, uid=str(uuid.uuid4()), owner=current_user.id, bundle_record=bundle,
                            **{**fields, "permissions": json.dumps(fields["permissions"]),
                               "link_domains": json.dumps(fields["link_domains"])})
    return jsonify(_json(build)), 201


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
