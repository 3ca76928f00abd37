"""A project's members and their roles, and the audit trail of what was done to it."""
from flask import Blueprint, jsonify

from ..records.models import AuditEntry, Member, Project, Role, User, db
from .access import audit, project_for
from .callers import USERNAME, current_user, require_login
from .errors import ApiError
from .parsing import json_body, page_args

bp = Blueprint("members", __name__, url_prefix="/api/project")
bp.before_request(require_login)


def _username(name):
    if not USERNAME.fullmatch(name):
        raise ApiError(400, "username must be 3-40 characters of letters, digits, '_', '.' or '-'")
    return name


@bp.get("/projects/<project_id>/members")
def list_members(project_id):
    project = project_for(project_id)
    rows = (Member.select(Member, User).join(User).where(Member.project == project)
            .order_by(User.username))
    return jsonify(message="Members fetched", members=[row.to_json() for row in rows])


@bp.put("/projects/<project_id>/members/<username>")
def put_member(project_id, username):
    """Add a user to the project with a role (201), or change a member's role (200)."""
    project = project_for(project_id, Role.ADMIN)
    username = _username(username)
    role = json_body().get("role")
    if role not in Role.ALL:
        raise ApiError(400, f"role must be one of {', '.join(Role.ALL)}")
    user = User.get_or_none(User.username == username)
    if user is None:
        raise ApiError(404, "User not found")
    with db.atomic():
        _one_change_at_a_time(project)
        changed = (Member.update(role=role)
                   .where((Member.project == project) & (Member.user == user)).execute())
        if not changed:
            Member.create(project=project, user=user, role=role)
        _keep_an_admin(project)
        audit(project, "member.change" if changed else "member.add", f"{username}: {role}")
    member = Member.select(Member, User).join(User).where(
        (Member.project == project) & (Member.user == user)).get()
    return jsonify(message="Member saved", member=member.to_json()), 200 if changed else 201


@bp.delete("/projects/<project_id>/members/<username>")
def delete_member(project_id, username):
    """Remove a member (an admin may remove anyone; anyone may leave). Their live events stop at once:
    each event goes to the members the project has when it is sent."""
    username = _username(username)
    leaving = username == current_user.username
    project = project_for(project_id, Role.READ if leaving else Role.ADMIN)
    with db.atomic():
        _one_change_at_a_time(project)
        removed = (Member.delete().where((Member.project == project) & (Member.user.in_(
            User.select(User.id).where(User.username == username)))).execute())
        if not removed:
            raise ApiError(404, "Member not found")
        _keep_an_admin(project)
        audit(project, "member.remove", username)
    return jsonify(message="Member removed")


def _one_change_at_a_time(project):
    # Locks the project's row until the transaction ends, so that two admins removing each
    # other at once cannot leave it with none.
    Project.update(id=Project.id).where(Project.id == project.id).execute()


def _keep_an_admin(project):
    if not Member.select().where((Member.project == project) & (Member.role == Role.ADMIN)).exists():
        raise ApiError(409, "A project keeps at least one admin: make another member admin first")


@bp.get("/projects/<project_id>/audit")
def list_audit(project_id):
    """Who did what to the project, newest first, one page at a time."""
    project = project_for(project_id, Role.ADMIN)
    limit, offset = page_args()
    entries = AuditEntry.select().where(AuditEntry.project == project).order_by(AuditEntry.id.desc())
    page = [entry.to_json() for entry in entries.limit(limit).offset(offset)]
    return jsonify(message="Audit fetched", entries=page, total=entries.count(), limit=limit, offset=offset)
