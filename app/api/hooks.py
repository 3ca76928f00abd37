"""A project's outgoing webhooks: targets its build outcomes are posted to, each with its own secret;
managed by the project's admins, a test sent on request."""
import json
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify

from pipeline.hosts import UnsafeAddress, check_host

from ..background import hooks as delivery
from ..records import vault
from ..records.hooks import OUTCOMES, HookDelivery, ProjectHook
from ..records.models import Role, db
from .access import audit, project_for
from .callers import require_login
from .errors import ApiError
from .parsing import json_body, path_id

bp = Blueprint("hooks", __name__, url_prefix="/api/project")
bp.before_request(require_login)

MOST_HOOKS = 20
MOST_BRANCHES = 20
# The newest deliveries of a target that are shown.
SHOWN = 20


def _url(value):
    """A target's address: http(s), no user information, a host outside the server's networks unless
    the admin allows them (STOKER_ALLOW_PRIVATE_HOOK_HOSTS); checked again as each body is sent."""
    if not isinstance(value, str) or not 1 <= len(value) <= 2048 or not value.isprintable() or " " in value:
        raise ApiError(400, "url must be an http:// or https:// address of at most 2048 characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise ApiError(400, "url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ApiError(400, "url must be an http:// or https:// address")
    if "@" in parts.netloc:
        raise ApiError(400, "url must not hold a user name or password: the body is signed with the hook's secret")
    try:
        check_host(parts.hostname, current_app.config["STOKER_ALLOW_PRIVATE_HOOK_HOSTS"], "url")
    except (ValueError, UnsafeAddress) as exc:
        raise ApiError(400, str(exc)) from None
    return value


def _outcomes(value):
    if not isinstance(value, list) or not value or not all(item in OUTCOMES for item in value):
        raise ApiError(400, f"outcomes must be a list of one or more of {', '.join(OUTCOMES)}")
    return json.dumps(sorted(set(value), key=OUTCOMES.index))


def _branches(value):
    if not isinstance(value, list) or len(value) > MOST_BRANCHES or not all(
            isinstance(item, str) and 1 <= len(item) <= 255 and item.isprintable() for item in value):
        raise ApiError(400, f"branches must be a list of at most {MOST_BRANCHES} branch names or patterns "
                            "(main, release/*); none: every branch")
    return json.dumps(list(dict.fromkeys(value)))


def _hook(project, hook_id):
    hook = ProjectHook.get_or_none((ProjectHook.id == path_id(hook_id, "hookId", "Webhook"))
                                   & (ProjectHook.project == project.id))
    if hook is None:
        raise ApiError(404, "Webhook not found")
    return hook


@bp.get("/projects/<project_id>/hooks")
def list_hooks(project_id):
    project = project_for(project_id, Role.ADMIN)
    rows = ProjectHook.select().where(ProjectHook.project == project.id).order_by(ProjectHook.id)
    return jsonify(message="Webhooks fetched", hooks=[row.to_json() for row in rows])


@bp.post("/projects/<project_id>/hooks")
def add_hook(project_id):
    """A new target; its secret (made here) is shown this once."""
    project = project_for(project_id, Role.ADMIN)
    data = json_body()
    url = _url(data.get("url"))
    outcomes = _outcomes(data.get("outcomes", ["failed", "fixed"]))
    branches = _branches(data.get("branches", []))
    secret = secrets.token_hex(32)
    with db.atomic():
        if ProjectHook.select().where(ProjectHook.project == project.id).count() >= MOST_HOOKS:
            raise ApiError(409, f"A project has at most {MOST_HOOKS} webhooks")
        hook = ProjectHook.create(project=project, url=url, outcomes=outcomes, branches=branches,
                                  secret_sealed=vault.seal(current_app.config["SECRET_KEY"], secret))
        audit(project, "hook.create", str(hook.id))
    return jsonify(message="Webhook added; its secret is shown this once", hook=hook.to_json(), secret=secret), 201


@bp.patch("/projects/<project_id>/hooks/<hook_id>")
def change_hook(project_id, hook_id):
    """Change a target's address, outcomes or branches; `newSecret: true` makes it a new secret,
    shown this once."""
    project = project_for(project_id, Role.ADMIN)
    hook = _hook(project, hook_id)
    data = json_body()
    fields = {}
    if "url" in data:
        fields["url"] = _url(data["url"])
    if "outcomes" in data:
        fields["outcomes"] = _outcomes(data["outcomes"])
    if "branches" in data:
        fields["branches"] = _branches(data["branches"])
    secret = None
    if data.get("newSecret") is not None and not isinstance(data["newSecret"], bool):
        raise ApiError(400, "newSecret must be true or false")
    if data.get("newSecret"):
        secret = secrets.token_hex(32)
        fields["secret_sealed"] = vault.seal(current_app.config["SECRET_KEY"], secret)
    with db.atomic():
        if fields:
            ProjectHook.update(**fields).where(ProjectHook.id == hook.id).execute()
        audit(project, "hook.change", str(hook.id))
    answer = {"message": "Webhook changed", "hook": ProjectHook.get_by_id(hook.id).to_json()}
    if secret is not None:
        answer["secret"] = secret
    return jsonify(answer)


@bp.delete("/projects/<project_id>/hooks/<hook_id>")
def delete_hook(project_id, hook_id):
    project = project_for(project_id, Role.ADMIN)
    hook = _hook(project, hook_id)
    with db.atomic():
        hook.delete_instance(recursive=True)
        audit(project, "hook.delete", str(hook.id))
    return jsonify(message="Webhook deleted")


@bp.get("/projects/<project_id>/hooks/<hook_id>/deliveries")
def list_deliveries(project_id, hook_id):
    hook = _hook(project_for(project_id, Role.ADMIN), hook_id)
    rows = HookDelivery.select().where(HookDelivery.hook == hook.id).order_by(HookDelivery.id.desc()).limit(SHOWN)
    return jsonify(message="Deliveries fetched", deliveries=[row.to_json() for row in rows])


@bp.post("/projects/<project_id>/hooks/<hook_id>/test")
def test_hook(project_id, hook_id):
    """Post a test to the target now and say how it answered."""
    hook = _hook(project_for(project_id, Role.ADMIN), hook_id)
    sent = delivery.ping(current_app, hook)
    said = "The target took the test" if sent.delivered_at else f"The test was not taken: {sent.problem}"
    return jsonify(message=said, delivery=sent.to_json())
