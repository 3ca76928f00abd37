"""Builds: read one, or queue it again."""
from flask import Blueprint, jsonify
from flask_jwt_extended import current_user

from .auth import require_login
from .errors import ApiError, path_id
from .lifecycle import queue_build
from .models import Build, Project

bp = Blueprint("builds", __name__, url_prefix="/api/build")
bp.before_request(require_login)

def owned_build(build_id):
    """Return the caller's build by its path id: 400 if not an id, 404 if none, 403 if not theirs."""
    query = Build.select(Build, Project).join(Project)
    build = query.where(Build.id == path_id(build_id, "buildId", "Build")).first()
    if build is None:
        raise ApiError(404, "Build not found")
    if build.project.owner_id != current_user.id:
        raise ApiError(403, "This build belongs to another user's project")
    return build


@bp.get("/<build_id>")
def get_build(build_id):
    return jsonify(message="Build fetched", build=owned_build(build_id).to_json(with_project=True))


@bp.post("/rebuild/<build_id>")
def rebuild(build_id):
    original = owned_build(build_id)
    build = queue_build(
        original.project,
        commit_hash=original.commit_hash,
        branch=original.branch,
        commit_message=original.commit_message,
        commit_author=original.commit_author,
    )
    return jsonify(message="Build re-queued", build=build.to_json()), 201
