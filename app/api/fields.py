"""Fields more than one resource takes: a branch, and a run's variables."""
from pipeline.git.inputs import check_branch
from pipeline.plan import run_variable_refused

from ..records import vault
from ..records.models import ProjectSecret
from .errors import ApiError


def branch_field(data, default):
    """`data["branch"]` (or `default`) if git would take it as a branch name, else a 400."""
    try:
        return check_branch(data.get("branch", default))
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


# A manual run's variables: at most this many, each value at most this long.
MAX_VARIABLES, MAX_VARIABLE_BYTES = 50, 4096


def check_variables(data, project=None):
    """A run's variables, none of them one a run may not set, nor (given the project) a secret's name:
    a variable must never stand in for a secret."""
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or len(variables) > MAX_VARIABLES:
        raise ApiError(400, f"variables must be an object of at most {MAX_VARIABLES} names and values")
    for name, value in variables.items():
        try:
            vault.check_name(name)
        except ValueError:
            raise ApiError(400, "variables must be named like secrets: letters, digits and '_', "
                                "not starting with a digit") from None
        if not isinstance(value, str) or len(value.encode("utf-8", "surrogatepass")) > MAX_VARIABLE_BYTES \
                or "\x00" in value:
            raise ApiError(400, f"variables must be strings of at most {MAX_VARIABLE_BYTES} bytes without NUL")
        if why := run_variable_refused(name):
            raise ApiError(400, f"variables may not set {name}: {why}")
    if project is not None and variables:
        secret = (ProjectSecret.select(ProjectSecret.name)
                  .where((ProjectSecret.project == project) & ProjectSecret.name.in_(list(variables))).scalar())
        if secret is not None:
            raise ApiError(400, f"variables may not set {secret}: it is one of the project's secrets")
    return variables
