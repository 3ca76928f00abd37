"""Fields more than one resource takes: a branch, a run's variables, a forge's address, and the
caller's account on a forge."""
from urllib.parse import urlsplit

from flask import current_app

from pipeline.git.inputs import check_branch
from pipeline.hosts import check_host
from pipeline.plan import run_variable_refused

from ..forges.hosting import ForgeError
from ..records import vault
from ..records.models import ForgeAccount, ProjectSecret
from .callers import current_user
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


def forge_url_field(value, key):
    """A self-hosted forge's address: https:// (http:// where private hosts are allowed), a host and
    perhaps a path, no credentials, query or fragment; a 400 naming the field `key` otherwise."""
    config = current_app.config
    allow_private = config["STOKER_ALLOW_PRIVATE_REPO_HOSTS"]
    if not isinstance(value, str) or not 1 <= len(value) <= 500 or not value.isprintable():
        raise ApiError(400, f"{key} must be the forge's address, such as https://gitea.example.com")
    parts = urlsplit(value.rstrip("/"))
    if parts.scheme not in (("https", "http") if allow_private else ("https",)):
        raise ApiError(400, f"{key} must be an https:// address")
    if not parts.hostname or parts.username or parts.password or parts.query or parts.fragment:
        raise ApiError(400, f"{key} must be a scheme, a host and perhaps a port and a path, nothing else")
    try:
        parts.port
        check_host(parts.hostname, allow_private, key)
    except ValueError as exc:
        raise ApiError(400, str(exc) if str(exc).startswith(key) else f"{key}: {exc}") from None
    return value.rstrip("/")


def forge_account(forge):
    """The caller's account on `forge` and its token; a 400 saying how to connect one when there is none."""
    account = ForgeAccount.get_or_none((ForgeAccount.user == current_user.id) & (ForgeAccount.forge == forge))
    if account is None:
        raise ApiError(400, f"No {forge} account is connected: PUT /api/forges/{forge} with a token of yours first")
    return account, vault.unseal(current_app.config["SECRET_KEY"], account.token_sealed, "the forge token")


def forge_answer(work, *args):
    """What the forge answers `work(app, *args)`, or the API's error saying why it would not."""
    try:
        return work(current_app, *args)
    except ForgeError as exc:
        raise ApiError(exc.status, str(exc)) from None


LABEL_LIMIT = 20


def labels_field(data, key):
    """`data[key]`: a list of labels a worker or agent carries ("arch=arm64", "gpu"), sorted, each once."""
    labels = data.get(key) or []
    if (not isinstance(labels, list) or len(labels) > LABEL_LIMIT
            or not all(isinstance(label, str) and 1 <= len(label) <= 100 and label.isprintable()
                       and label.strip() == label and "," not in label for label in labels)):
        raise ApiError(400, f"{key} must be a list of at most {LABEL_LIMIT} labels, each 1 to 100 printable "
                            f"characters without commas")
    return sorted(set(labels))


def is_token(value, longest):
    """Whether `value` could be a forge's token: 1 to `longest` printable ASCII characters, as HTTP
    headers carry them."""
    return isinstance(value, str) and 1 <= len(value) <= longest and value.isascii() and value.isprintable()
