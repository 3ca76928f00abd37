"""A project's secrets (admins): set and removed by name, sealed at rest, never shown again."""
import json

from flask import Blueprint, current_app, jsonify

from ..records import vault
from ..records.models import Event, ProjectSecret, Role, utcnow
from .access import project_for
from .callers import require_login
from .errors import ApiError
from .parsing import json_body
from .rows import delete_row, put_row

bp = Blueprint("secrets", __name__, url_prefix="/api/project")
bp.before_request(require_login)


def secret_name(name):
    try:
        return vault.check_name(name)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def _secret_events(data):
    """The events whose builds receive the secret (JSON), or None for the default ones."""
    events = data.get("events")
    if events is None:
        return None
    if (not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events)
            or not set(events) <= set(Event.ALL)):
        raise ApiError(400, f"events must be a list of some of {', '.join(Event.ALL)}")
    return json.dumps([event for event in Event.ALL if event in events])


@bp.get("/projects/<project_id>/secrets")
def list_secrets(project_id):
    project = project_for(project_id, Role.ADMIN)
    secrets_ = project.secrets.order_by(ProjectSecret.name)
    return jsonify(message="Secrets fetched", secrets=[s.to_json() for s in secrets_])


@bp.put("/projects/<project_id>/secrets/<name>")
def put_secret(project_id, name):
    project = project_for(project_id, Role.ADMIN)
    name = secret_name(name)
    data = json_body()
    try:
        value = vault.check_value(data.get("value"))
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    events = _secret_events(data)
    fields = {"sealed": vault.seal(current_app.config["SECRET_KEY"], value), "events": events,
              "updated_at": utcnow()}
    secret, updated = put_row(ProjectSecret, project, ("name", name), "secret", fields)
    return jsonify(message="Secret saved", secret=secret.to_json()), 200 if updated else 201


@bp.delete("/projects/<project_id>/secrets/<name>")
def delete_secret(project_id, name):
    project = project_for(project_id, Role.ADMIN)
    delete_row(ProjectSecret, project, ("name", secret_name(name)), "secret")
    return jsonify(message="Secret deleted")
