"""Build artifacts' downloads, by the signed links GET /api/build/:id gives whoever may read the build
(app/records/links.py): no bearer token, so a browser's download or a script's curl opens them."""
from pathlib import PurePosixPath

from flask import Blueprint, current_app, request, send_file

from ..records import links
from ..records.artifacts import BuildArtifact, stored_file
from .errors import ApiError

bp = Blueprint("artifacts", __name__, url_prefix="/api/artifacts")


@bp.get("/<artifact_id>")
def download(artifact_id):
    if not (artifact_id.isascii() and artifact_id.isdecimal() and len(artifact_id) <= 18):
        raise ApiError(400, "artifactId must be a positive integer")
    refused = links.refusal(current_app, links.ARTIFACTS, artifact_id, request.args)
    if refused:
        raise ApiError(403, refused)
    artifact = BuildArtifact.get_or_none(BuildArtifact.id == int(artifact_id))
    path = artifact and stored_file(current_app.config, artifact)
    if artifact is None or not path.is_file():
        raise ApiError(404, "Artifact not found")
    # Never shown as a page of this site, whatever it holds: a file to save, under its own name.
    answer = send_file(path, mimetype="application/octet-stream", as_attachment=True,
                       download_name=PurePosixPath(artifact.name).name, etag=artifact.sha256, conditional=True,
                       max_age=0)
    answer.headers["X-Content-Type-Options"] = "nosniff"
    answer.headers["Content-Security-Policy"] = "sandbox"
    return answer
