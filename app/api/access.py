"""Who may do what to a project: its members, each by their role, and the record of what they did."""
from ..records.models import AuditEntry, Build, Member, Project, Role
from .callers import current_user
from .errors import ApiError
from .parsing import path_id


def role_of(project_id, user_id):
    """The user's role in the project, or None for a non-member."""
    return (Member.select(Member.role)
            .where((Member.project == project_id) & (Member.user == user_id)).scalar())


def _require(role, needed, not_a_member):
    if role is None:
        raise ApiError(403, not_a_member)
    if not Role.allows(role, needed):
        raise ApiError(403, f"This needs the {needed} role in the project; yours is {role}")


def project_for(project_id, needed=Role.READ):
    """The project by its path id, if the caller's role in it allows `needed`: 400 if not an id,
    404 if none, 403 for a non-member or a lesser role. The project carries the caller's `role`."""
    project = Project.get_or_none(Project.id == path_id(project_id, "projectId", "Project"))
    if project is None:
        raise ApiError(404, "Project not found")
    project.role = role_of(project.id, current_user.id)
    _require(project.role, needed, "This project belongs to another user")
    return project


def build_for(build_id, needed=Role.READ):
    """The build by its path id, as project_for checks its project; its project is joined, and it
    carries the caller's `role`."""
    query = Build.select(Build, Project).join(Project)
    build = query.where(Build.id == path_id(build_id, "buildId", "Build")).first()
    if build is None:
        raise ApiError(404, "Build not found")
    build.role = role_of(build.project_id, current_user.id)
    _require(build.role, needed, "This build belongs to another user's project")
    return build


def audit(project, action, target=None):
    """Note that the caller did `action` to `target` in `project` (None: to their own account)."""
    AuditEntry.note(project, current_user, action, target)
