"""Signed download links for app builds: opened on a phone, so they carry no bearer token.

A link names the build and when it stops working, and is signed with a key
derived from the server secret; changing either part, or waiting past it,
makes the link a 403.
"""
import time

from flask import Blueprint, Response, current_app, request
from itsdangerous import Signer

from .errors import ApiError
from .models import MobileArtifact, MobileBuild, MobileStatus

bp = Blueprint("downloads", __name__, url_prefix="/api/v1/downloads")


def _signer(app):
    return Signer(app.config["SECRET_KEY"], salt="stoker app build download")


def _signed_part(uid, expires):
    return f"{uid}:{expires}".encode()


def url_for_build(app, build, now=None):
    """The build's download link, valid for STOKER_DOWNLOAD_URL_SECONDS; None unless it succeeded."""
    if build.status != MobileStatus.SUCCESS:
        return None
    expires = int((now or time.time()) + app.config["STOKER_DOWNLOAD_URL_SECONDS"])
    signature = _signer(app).get_signature(_signed_part(build.uid, expires)).decode()
    return f"{app.config['STOKER_PUBLIC_URL']}/api/v1/downloads/{build.uid}?expires={expires}&signature={signature}"


@bp.get("/<build_id>")
def download(build_id):
    expires, signature = request.args.get("expires", ""), request.args.get("signature", "")
    if not (expires.isascii() and expires.isdecimal() and len(expires) <= 12):
        raise ApiError(403, "This download link is not valid")
    if not _signer(current_app).verify_signature(_signed_part(build_id, expires), signature.encode()):
        raise ApiError(403, "This download link is not valid")
    if int(expires) < time.time():
        raise ApiError(403, "This download link has expired; fetch the build again for a new one")
    artifact = (MobileArtifact.select().join(MobileBuild)
                .where((MobileBuild.uid == build_id) & (MobileBuild.status == MobileStatus.SUCCESS)).first())
    if artifact is None:
        raise ApiError(404, "Build not found")
    return Response(bytes(artifact.data), content_type=artifact.content_type, headers={
        "Content-Disposition": f'attachment; filename="{artifact.file_name}"',
        "ETag": f'"{artifact.sha256}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=0",
    })
