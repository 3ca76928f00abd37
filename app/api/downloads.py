"""App builds' downloads, by the signed links of app/records/links.py: no bearer token, since they
are opened on a phone."""
from flask import Blueprint, Response, current_app, request

from ..records import links
from ..records.models import AppArtifact, AppBuild, AppBuildStatus
from .errors import ApiError

bp = Blueprint("downloads", __name__, url_prefix="/api/v1/downloads")


@bp.get("/<build_id>")
@bp.get("/<build_id>/<kind>")
def download(build_id, kind=None):
    """The build's download (the first artifact it made), or its artifact of `kind`."""
    refused = links.refusal(current_app, links.APP_BUILDS, links.build_path(build_id, kind), request.args)
    if refused:
        raise ApiError(403, refused)
    query = (AppArtifact.select().join(AppBuild)
             .where((AppBuild.uid == build_id) & (AppBuild.status == AppBuildStatus.SUCCESS)))
    if kind is not None:
        query = query.where(AppArtifact.kind == kind)
    artifact = query.order_by(AppArtifact.id).first()
    if artifact is None:
        raise ApiError(404, "Build not found")
    return Response(bytes(artifact.data), content_type=artifact.content_type, headers={
        "Content-Disposition": f'attachment; filename="{artifact.file_name}"',
        "ETag": f'"{artifact.sha256}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=0",
    })
