"""Registry credentials of a project's: what its builds pull private images with, and, for those
marked `imageBuilds`, what its image builder pushes with."""
import re

from flask import Blueprint, current_app, jsonify

from ..records import vault
from ..records.models import ProjectRegistry, Role, utcnow
from .access import project_for
from .callers import require_login
from .errors import ApiError
from .parsing import json_body
from .rows import delete_row, put_row

bp = Blueprint("registries", __name__, url_prefix="/api/project")
bp.before_request(require_login)

# A registry as an image reference names it: a host name or address, perhaps with a port.
REGISTRY_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}"
                           r"[A-Za-z0-9])?(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")


def _host(host):
    if len(host) > 255 or not REGISTRY_HOST.fullmatch(host):
        raise ApiError(400, "A registry is a host name, perhaps with a port, such as registry.example.com:5000")
    return host.lower()


@bp.get("/projects/<project_id>/registries")
def list_registries(project_id):
    project = project_for(project_id, Role.ADMIN)
    rows = ProjectRegistry.select().where(ProjectRegistry.project == project).order_by(ProjectRegistry.host)
    return jsonify(message="Registries fetched", registries=[row.to_json() for row in rows])


@bp.put("/projects/<project_id>/registries/<host>")
def put_registry(project_id, host):
    """Set the credentials for one registry (201 new, 200 replaced); the password is never shown."""
    project = project_for(project_id, Role.ADMIN)
    host = _host(host)
    data = json_body()
    for key in ("username", "password"):
        value = data.get(key)
        if not isinstance(value, str) or not 1 <= len(value) <= 1000 or not value.isprintable():
            raise ApiError(400, f"{key} must be 1 to 1000 printable characters")
    image_builds = data.get("imageBuilds", False)
    if not isinstance(image_builds, bool):
        raise ApiError(400, "imageBuilds must be true or false")
    fields = {"username": data["username"], "updated_at": utcnow(), "image_builds": image_builds,
              "password_sealed": vault.seal(current_app.config["SECRET_KEY"], data["password"])}
    registry, replaced = put_row(ProjectRegistry, project, ("host", host), "registry", fields)
    return jsonify(message="Registry saved", registry=registry.to_json()), 200 if replaced else 201


@bp.delete("/projects/<project_id>/registries/<host>")
def delete_registry(project_id, host):
    project = project_for(project_id, Role.ADMIN)
    delete_row(ProjectRegistry, project, ("host", _host(host)), "registry")
    return jsonify(message="Registry deleted")
