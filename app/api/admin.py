"""Administering accounts: invitations to register, and making users admins or disabling them."""
import secrets
from datetime import timedelta

from flask import Blueprint, current_app, jsonify

from ..live import realtime
from ..records.db import take_turns
from ..records.models import ApiToken, Invitation, User, db, iso, utcnow
from .callers import current_user, invitation_hash, require_admin
from .errors import ApiError
from .parsing import flag, json_body, path_id, whole_number

bp = Blueprint("admin", __name__, url_prefix="/api/admin")
bp.before_request(require_admin)

DEFAULT_INVITATION_HOURS = 72
MAX_INVITATION_HOURS = 24 * 30


@bp.post("/invitations")
def create_invitation():
    """A code good for one registration, shown this once; only its hash is kept."""
    hours = whole_number(json_body(), "expiresInHours", 1, MAX_INVITATION_HOURS, default=DEFAULT_INVITATION_HOURS)
    code = secrets.token_urlsafe(24)
    invitation = Invitation.create(code_hash=invitation_hash(code), created_by=current_user.id,
                                   expires_at=utcnow() + timedelta(hours=hours))
    return jsonify(message="Invitation created",
                   invitation={"code": code, "expiresAt": iso(invitation.expires_at)}), 201


@bp.get("/users")
def list_users():
    users = User.select().order_by(User.id)
    return jsonify(message="Users fetched", users=[user.admin_json() for user in users])


@bp.patch("/users/<user_id>")
def update_user(user_id):
    """Make a user an admin or not, enabled or disabled (which revokes their API tokens and unused
    invitations); the last enabled admin stays one (409)."""
    user_id = path_id(user_id, "userId", "User")
    data = json_body()
    unknown = sorted(set(data) - {"admin", "disabled"})
    if unknown:
        raise ApiError(400, f"Only admin and disabled can be changed; not {', '.join(unknown)[:200]}")
    changes = {name: flag(data, name) for name in ("admin", "disabled") if name in data}
    # One change at a time, so two admins demoting each other cannot leave none.
    with db.atomic():
        take_turns("accounts")
        user = User.get_or_none(User.id == user_id)
        if user is None:
            raise ApiError(404, "User not found")
        stays_admin = changes.get("admin", user.admin) and not changes.get("disabled", user.disabled)
        if user.admin and not user.disabled and not stays_admin and not _other_admins(user):
            raise ApiError(409, "The last admin cannot be demoted or disabled")
        if changes:
            User.update(**changes).where(User.id == user.id).execute()
            user = User.get_by_id(user.id)
        if changes.get("disabled"):
            # For good: enabling the account again brings back none of its API tokens or invitations.
            ApiToken.delete().where(ApiToken.user == user.id).execute()
            Invitation.delete().where((Invitation.created_by == user.id) & Invitation.used_at.is_null()).execute()
    if user.disabled:
        realtime.close_sockets_of_user(current_app, user.id)
    return jsonify(message="User updated", user=user.admin_json())


def _other_admins(user):
    return User.select().where(User.admin & ~User.disabled & (User.id != user.id)).exists()
